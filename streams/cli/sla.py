"""`acolhe sla change-policy FILE [--dry-run]`: put a new SLA policy in force from now.
`acolhe sla change-calendar FILE [--calendar ID] [--dry-run]`: the same for a calendar.

FILE holds one policy in the format of `streams/sla/policy.default.json`'s "policies"
entries (policy_id, version, queues, calendar, pause_reasons, targets). Steps:
1. read and check it exactly as the shipped policy file is checked (a bad file is refused
   with the field and the fault, and nothing is written);
2. make one `SlaPolicyChanged` per queue it names, effective now, with an id derived from
   (policy, version, queue); its version must be above the shipped policy file's for a
   queue the shipped file gives that same policy;
3. unless `--dry-run`: read `acolhe.sla.config` and refuse the file when a queue it names
   has that policy at its version or a later one there already (the processor would
   ignore the change as stale; nothing is written, and the latest version is named);
4. write each to `acolhe.sla.config` (the record of policy changes) and into every
   partition of `acolhe.conversations`, where the SLA clocks read it in order with each
   case's events, and wait for every acknowledgement.

change-calendar reads a calendar in the format of `streams/sla/calendars.default.json`
(the whole file, `--calendar` choosing one of its calendars, or one calendar entry) and:
1. checks it exactly as the calendar file is checked, and refuses what `CalendarChanged`
   cannot carry (`streams.sla.calendar_change`); its version must be above the shipped
   file's for that calendar;
2. unless `--dry-run`: reads `acolhe.sla.config` and refuses a version not above the latest
   change of that calendar there (the processor would ignore it as stale);
3. writes one `CalendarChanged`, effective now, with an id derived from (calendar, version),
   to `acolhe.sla.config` and into every partition of `acolhe.conversations`, as above.

`acolhe sla recompute ...` replays the clocks' history under other policy and calendar
files and compares it with the recorded one; its shell is in streams.cli.sla_recompute,
registered here among the actions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.catalog import TOPICS
from schemas.envelope import derive_event_id
from schemas.events import CalendarChanged, SlaPolicyChanged, SlaTarget
from streams.cli.sla_recompute import register_recompute
from streams.shared.errors import BadInput
from streams.shared.settings import Settings

if TYPE_CHECKING:
    from streams.shared.contract import Contract

CONVERSATIONS = "acolhe.conversations"
SLA_CONFIG = "acolhe.sla.config"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "sla", help="SLA policies: put a change in force; recompute history under others"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    change = actions.add_parser(
        "change-policy", help="publish a policy (one entry of the policy file) in force from now"
    )
    change.add_argument("file", type=Path, help="JSON: one policy, as in policy.default.json")
    change.add_argument(
        "--dry-run", action="store_true", help="check the file and print the events only"
    )
    change.add_argument("--agent", default=None, help="who makes the change (an agent id)")
    change.set_defaults(handler=_change_policy)
    calendar = actions.add_parser(
        "change-calendar",
        help="publish a calendar (as in calendars.default.json) in force from now",
    )
    calendar.add_argument(
        "file", type=Path, help="JSON: a calendar file, or one calendar of such a file"
    )
    calendar.add_argument(
        "--calendar", default=None, metavar="ID", help="which calendar of the file (if several)"
    )
    calendar.add_argument(
        "--dry-run", action="store_true", help="check the file and print the event only"
    )
    calendar.add_argument("--agent", default=None, help="who makes the change (an agent id)")
    calendar.set_defaults(handler=_change_calendar)
    register_recompute(actions)


def changes_from(
    data: object, *, now: datetime, agent_id: str | None = None, source: str = "<data>"
) -> list[SlaPolicyChanged]:
    """The SlaPolicyChanged events for one policy entry, checked like the policy file."""
    from streams.sla.policy import parse_policy

    if not isinstance(data, dict):
        raise BadInput(f"{source}: expected one policy (a JSON object)")
    # Checked as a whole policy file whose default ("*") is this entry's first queue.
    queues = data.get("queues")
    entry = {**data, "queues": ["*"]} if queues and "*" not in queues else data
    parsed = parse_policy({"version": "change", "policies": [entry]}, source=source)
    policy = parsed.queues["*"]
    calendar = data.get("calendar")
    out = []
    for queue_id in queues if isinstance(queues, list) else []:
        event_id = derive_event_id("sla-policy", policy.policy_id, str(policy.version), queue_id)
        out.append(
            SlaPolicyChanged(
                event_id=event_id,
                occurred_at=now,
                correlation_id=event_id,
                policy_id=policy.policy_id,
                version=policy.version,
                queue_id=queue_id,
                targets=tuple(
                    SlaTarget(
                        priority=priority,
                        metric=metric,
                        target_ms=terms.target_us // 1000,
                        warning_ms=terms.warning_us // 1000,
                    )
                    for (priority, metric), terms in sorted(policy.targets.items())
                ),
                business_hours=policy.calendar_id is not None,
                calendar_id=calendar if isinstance(calendar, str) else None,
                pause_reasons=tuple(sorted(policy.pause_reasons)),
                effective_from=now,
                changed_by_agent_id=agent_id,
            )
        )
    _above_shipped(out, source)
    return out


def _above_shipped(changes: Sequence[SlaPolicyChanged], source: str) -> None:
    """Refuse a change the processor would ignore against the shipped policy file: the
    same policy for that queue at the same or a later version."""
    from streams.sla.policy import default_policy

    shipped = default_policy().queues
    for change in changes:
        current = shipped.get(change.queue_id)
        if (
            current is not None
            and current.policy_id == change.policy_id
            and change.version <= current.version
        ):
            raise BadInput(
                f"{source}: policy {change.policy_id} version {change.version} is not above "
                f"the shipped policy's for queue {change.queue_id} ({current.version}); give "
                f"it version {current.version + 1} or more"
            )


def calendar_change_from(
    data: object,
    *,
    now: datetime,
    calendar_id: str | None = None,
    agent_id: str | None = None,
    source: str = "<data>",
) -> CalendarChanged:
    """The CalendarChanged for one calendar of a calendar file (or one calendar entry),
    checked like the calendar file. Raises BadInput naming `source` and the field."""
    from streams.sla.calendar_change import calendar_changed
    from streams.sla.calendar_file import default_calendars, parse_calendar, parse_calendars

    if isinstance(data, dict) and "calendars" in data:
        found = parse_calendars(data, source=source)
        if calendar_id is None and len(found) > 1:
            raise BadInput(f"{source} holds calendars {sorted(found)}; choose one with --calendar")
        chosen = calendar_id or next(iter(found))
        if chosen not in found:
            raise BadInput(f"{source} has no calendar {chosen!r}; it has {sorted(found)}")
        cal = found[chosen]
    else:
        cal = parse_calendar(data, source=source)
        if calendar_id is not None and calendar_id != cal.id:
            raise BadInput(f"{source} holds calendar {cal.id!r}, not {calendar_id!r}")
    change = calendar_changed(cal, now=now, agent_id=agent_id, source=source)
    shipped = default_calendars().get(cal.id)
    if shipped is not None and cal.version <= shipped.version:
        raise BadInput(
            f"{source}: calendar {cal.id} version {cal.version} is not above the shipped "
            f"calendar's ({shipped.version}); give it version {shipped.version + 1} or more"
        )
    return change


def _read_json(path: Path) -> tuple[object, int]:
    """The file's JSON, and 0; or None and the exit status, the fault printed."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), 0
    except OSError as exc:
        print(f"acolhe sla: cannot read {path}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        print(f"acolhe sla: {path} is not JSON: {exc.msg} at line {exc.lineno}")
    return None, 2


def _change_calendar(args: argparse.Namespace) -> int:
    data, status = _read_json(args.file)
    if status:
        return status
    try:
        change = calendar_change_from(
            data,
            now=datetime.now(UTC),
            calendar_id=args.calendar,
            agent_id=args.agent,
            source=str(args.file),
        )
    except BadInput as exc:
        print(f"acolhe sla: {exc}")
        return 2
    days = {h.weekday for h in change.weekly_hours}
    years = sorted({h.date.year for h in change.holidays})
    span = f" ({years[0]}-{years[-1]})" if years else ""
    print(
        f"{change.calendar_id} v{change.version} ({change.time_zone}):"
        f" {len(change.weekly_hours)} intervals on {len(days)} weekdays,"
        f" {len(change.holidays)} holidays{span},"
        f" in force from {change.effective_from.isoformat()}"
    )
    if args.dry_run:
        return 0
    latest = asyncio.run(_publish_calendar(Settings.from_env(), change))
    if latest is not None:
        print(
            f"acolhe sla: {SLA_CONFIG} already has {change.calendar_id} v{latest}; nothing "
            f"written: give the file version {latest + 1} or more"
        )
        return 2
    print(f"in force: written to {SLA_CONFIG} and every partition of {CONVERSATIONS}")
    return 0


def _change_policy(args: argparse.Namespace) -> int:
    data, status = _read_json(args.file)
    if status:
        return status
    try:
        changes = changes_from(
            data, now=datetime.now(UTC), agent_id=args.agent, source=str(args.file)
        )
    except BadInput as exc:
        print(f"acolhe sla: {exc}")
        return 2
    for change in changes:
        print(
            f"{change.policy_id} v{change.version} for queue {change.queue_id}:"
            f" {len(change.targets)} targets, calendar {change.calendar_id or 'all time'}"
        )
    if args.dry_run:
        return 0
    stale = asyncio.run(_publish_policy(Settings.from_env(), changes))
    if stale:
        latest = max(stale.values())
        held = ", ".join(f"{q} v{v}" for q, v in sorted(stale.items()))
        print(
            f"acolhe sla: {SLA_CONFIG} already has {changes[0].policy_id} for {held}; nothing "
            f"written: give the file version {latest + 1} or more"
        )
        return 2
    print(f"in force: written to {SLA_CONFIG} and every partition of {CONVERSATIONS}")
    return 0


async def _publish_policy(settings: Settings, changes: list[SlaPolicyChanged]) -> dict[str, int]:
    """Write the changes unless the log has, for some queue they name, that policy at
    their version or a later one; then return those queues and versions (nothing written)."""
    async with _contract(settings) as contract:
        records = await _config_records(settings, contract, SlaPolicyChanged.NAME)
        latest: dict[str, int] = {}
        for record in records:
            if record["policy_id"] == changes[0].policy_id:
                queue, version = str(record["queue_id"]), int(record["version"])
                latest[queue] = max(version, latest.get(queue, version))
        stale = {
            c.queue_id: latest[c.queue_id]
            for c in changes
            if latest.get(c.queue_id, -1) >= c.version
        }
        if not stale:
            await _broadcast(settings, contract, changes)
    return stale


async def _publish_calendar(settings: Settings, change: CalendarChanged) -> int | None:
    """Write the change unless the log has that calendar at its version or a later one
    already; then return that latest version (nothing written)."""
    async with _contract(settings) as contract:
        latest = await _latest_version(settings, contract, change.calendar_id)
        if latest is not None and latest >= change.version:
            return latest
        await _broadcast(settings, contract, [change])
    return None


@asynccontextmanager
async def _contract(settings: Settings) -> AsyncIterator[Contract]:
    """The contract, once the topics a change is written to exist."""
    from streams.shared.contract import Contract
    from streams.shared.kafka import TopicSpec, ensure_topics

    await ensure_topics(
        settings.kafka,
        [TopicSpec(t, partitions=TOPICS[t].partitions) for t in (CONVERSATIONS, SLA_CONFIG)],
    )
    contract = await Contract.open(settings)
    try:
        yield contract
    finally:
        await contract.close()


async def _latest_version(settings: Settings, contract: Contract, calendar_id: str) -> int | None:
    """The latest version of the calendar among the changes in acolhe.sla.config."""
    records = await _config_records(settings, contract, CalendarChanged.NAME)
    versions = [int(r["version"]) for r in records if r["calendar_id"] == calendar_id]
    return max(versions, default=None)


async def _config_records(settings: Settings, contract: Contract, name: str) -> list[Any]:
    """The records of the events named `name` in acolhe.sla.config, in log order."""
    from streams.shared.events import Received, read_topic

    return [
        r.event.record
        for r in await read_topic(settings.kafka, contract.decode, SLA_CONFIG)
        if isinstance(r, Received) and r.event.name == name
    ]


async def _broadcast(
    settings: Settings, contract: Contract, changes: Sequence[SlaPolicyChanged | CalendarChanged]
) -> None:
    """Each change to acolhe.sla.config and into every partition of acolhe.conversations,
    every acknowledgement awaited."""
    from streams.shared.kafka import make_producer

    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(producer, source="/acolhe/cli/sla")
        everywhere = {
            SLA_CONFIG: [0],
            CONVERSATIONS: list(range(TOPICS[CONVERSATIONS].partitions)),
        }
        for change in changes:
            await publisher.broadcast(change.NAME, change.to_record(), everywhere)
    finally:
        await producer.stop()
