"""`acolhe sla change-policy FILE [--dry-run]`: put a new SLA policy in force from now.

FILE holds one policy in the format of `streams/sla/policy.default.json`'s "policies"
entries (policy_id, version, queues, calendar, pause_reasons, targets). Steps:
1. read and check it exactly as the shipped policy file is checked (a bad file is refused
   with the field and the fault, and nothing is written);
2. make one `SlaPolicyChanged` per queue it names, effective now, with an id derived from
   (policy, version, queue): running it twice records the change once;
3. write each to `acolhe.sla.config` (the record of policy changes) and into every
   partition of `acolhe.conversations`, where the SLA clocks read it in order with each
   case's events, and wait for every acknowledgement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.catalog import TOPICS
from schemas.envelope import derive_event_id
from schemas.events import SlaPolicyChanged, SlaTarget
from streams.shared.errors import BadInput
from streams.shared.settings import Settings

CONVERSATIONS = "acolhe.conversations"
SLA_CONFIG = "acolhe.sla.config"


def register(sub: Any) -> None:
    parser = sub.add_parser("sla", help="SLA policies: put a change in force")
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
    return out


def _change_policy(args: argparse.Namespace) -> int:
    try:
        data = json.loads(args.file.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"acolhe sla: cannot read {args.file}: {exc.strerror}")
        return 2
    except json.JSONDecodeError as exc:
        print(f"acolhe sla: {args.file} is not JSON: {exc.msg} at line {exc.lineno}")
        return 2
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
    asyncio.run(_publish(Settings.from_env(), changes))
    print(f"in force: written to {SLA_CONFIG} and every partition of {CONVERSATIONS}")
    return 0


async def _publish(settings: Settings, changes: list[SlaPolicyChanged]) -> None:
    from streams.shared.contract import Contract
    from streams.shared.kafka import TopicSpec, ensure_topics, make_producer

    await ensure_topics(
        settings.kafka,
        [TopicSpec(t, partitions=TOPICS[t].partitions) for t in (CONVERSATIONS, SLA_CONFIG)],
    )
    contract = await Contract.open(settings)
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
        await contract.close()
