"""SLA policies as versioned data: the targets a clock runs against, per queue and priority.

A policy file (see `policy.default.json`) lists policies; each names the queues it applies
to (`"*"` is the default for every queue without a policy of its own, and for a case not yet
queued), the calendar its clocks count in, the hold reasons that pause them, and per
priority (urgent, high, normal, low, unknown = not triaged yet) and metric (first_response,
next_response, resolution) a target with its warning:

    {"target": "7h", "warn_before": "2h"}    warns when 2h of counted time are left
    {"target": "70h", "warn_at": 0.8}        warns at 80% of the target

Durations are counted time, written like `90m`, `7h` or `1d12h` (the format of the case
lifecycle's policy): on the `office-hours` calendar a business day is 7h, so "10 business
days" is `70h`; on a calendar-time calendar (`kind: calendar`, e.g. `urgent-24x7`) they are
plain time. A pair without a target has no clock. Clocks on calendar time carry
`calendar_id` null in the events, as the schema asks.

An administrator's change arrives as `SlaPolicyChanged` (one queue, one policy version);
`apply_change` folds it into the policy. The clocks take it from the change on (see
`streams.sla.domain`).

Plain data and file reading only: must not import Kafka, faust, Postgres, logging or a clock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar, get_args

from schemas.events import HoldReason, Priority, SlaMetric, SlaPolicyChanged
from streams.cases.policy import parse_duration
from streams.shared.errors import BadInput
from streams.sla.calendar import Calendar
from streams.sla.calendar_file import default_calendars

DEFAULT_POLICY_PATH: Final = Path(__file__).with_name("policy.default.json")
DEFAULT_QUEUE: Final = "*"
"""The queue key of the default policy; also the `queue_id` of clocks of a case not queued yet."""

PRIORITIES: Final[tuple[Priority, ...]] = get_args(Priority)
METRICS: Final[tuple[SlaMetric, ...]] = ("first_response", "next_response", "resolution")
HOLD_REASONS: Final[tuple[HoldReason, ...]] = get_args(HoldReason)
CALENDAR_TIME: Final = Calendar(id="calendar-time", version=1, kind="calendar")
"""The calendar of clocks that count all time (`calendar_id` None)."""

_MS: Final = 1000  # microseconds
_T = TypeVar("_T", bound=str)


class PolicyError(BadInput):
    """An SLA policy file cannot be used; the message names the file and the field."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        super().__init__(f"SLA policy {source}: at {where or 'top level'}: {problem}")


class PolicyChangeRefused(BadInput):
    """An `SlaPolicyChanged` that cannot be applied; the message says what to fix."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Terms:
    """What one clock runs against: a target and its warning in counted microseconds, the
    calendar counted in (None: all time) and the hold reasons that pause it."""

    policy_id: str
    policy_version: int
    calendar_id: str | None
    target_us: int
    warning_us: int
    pause_reasons: frozenset[HoldReason]


@dataclass(frozen=True, kw_only=True, slots=True)
class QueuePolicy:
    """The policy in force for one queue (or `"*"`)."""

    queue_id: str
    policy_id: str
    version: int
    calendar_id: str | None
    pause_reasons: frozenset[HoldReason]
    targets: Mapping[tuple[Priority, SlaMetric], Terms]


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaPolicy:
    """Every queue's policy, and the calendars they count in."""

    version: str
    queues: Mapping[str, QueuePolicy]
    calendars: Mapping[str, Calendar]

    def for_queue(self, queue_id: str | None) -> QueuePolicy:
        """The queue's policy, or the default's when it has none."""
        found = self.queues.get(queue_id or DEFAULT_QUEUE)
        return found if found is not None else self.queues[DEFAULT_QUEUE]

    def terms(self, queue_id: str | None, priority: Priority, metric: SlaMetric) -> Terms | None:
        """The terms of a clock; None when the policy sets no target for the pair."""
        return self.for_queue(queue_id).targets.get((priority, metric))

    def calendar(self, calendar_id: str | None) -> Calendar:
        return CALENDAR_TIME if calendar_id is None else self.calendars[calendar_id]


def load_policy(path: Path | str, calendars: Mapping[str, Calendar] | None = None) -> SlaPolicy:
    """The policy in a JSON file, its calendars resolved in `calendars` (the shipped ones by
    default). Raises PolicyError naming the file and the faulty field."""
    source = str(path)
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(source, "", f"cannot be read ({exc.strerror}); check the path") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PolicyError(source, "", f"not JSON: {exc.msg} at line {exc.lineno}") from exc
    return parse_policy(data, calendars=calendars, source=source)


def default_policy() -> SlaPolicy:
    """The policy shipped with acolhe (streams/sla/policy.default.json)."""
    return load_policy(DEFAULT_POLICY_PATH)


def parse_policy(
    data: object, *, calendars: Mapping[str, Calendar] | None = None, source: str = "<data>"
) -> SlaPolicy:
    """A policy from decoded JSON. Raises PolicyError naming `source` and the faulty field."""
    cals = default_calendars() if calendars is None else calendars
    top = _object(data, source, "")
    _only(top, {"comment", "version", "policies"}, source, "")
    _comment(top, source, "")
    items = top.get("policies")
    if not isinstance(items, list) or not items:
        raise PolicyError(source, "policies", "must be a non-empty list of policies")
    queues: dict[str, QueuePolicy] = {}
    owner: dict[str, str] = {}
    for i, item in enumerate(items):
        where = f"policies[{i}]"
        for queue in _policy(item, cals, source, where):
            if queue.queue_id in queues:
                problem = f"queue {queue.queue_id!r} is already in {owner[queue.queue_id]}"
                raise PolicyError(source, f"{where}.queues", problem)
            queues[queue.queue_id] = queue
            owner[queue.queue_id] = where
    if DEFAULT_QUEUE not in queues:
        problem = f"no policy lists the default queue {DEFAULT_QUEUE!r}; add it to one"
        raise PolicyError(source, "policies", problem)
    return SlaPolicy(
        version=_string(top.get("version"), source, "version"),
        queues=MappingProxyType(queues),
        calendars=cals,
    )


def apply_change(policy: SlaPolicy, change: SlaPolicyChanged) -> SlaPolicy:
    """The policy with `change` in force for its queue.

    A change the queue already has (the same policy at the same or a later version: a
    redelivery or a stale copy) returns `policy` itself. Raises PolicyChangeRefused for a
    change that cannot be applied.
    """
    current = policy.queues.get(change.queue_id)
    if (
        current is not None
        and current.policy_id == change.policy_id
        and change.version <= current.version
    ):
        return policy
    queue = _from_change(change, policy.calendars)
    return SlaPolicy(
        version=policy.version,
        queues=MappingProxyType({**policy.queues, change.queue_id: queue}),
        calendars=policy.calendars,
    )


def _from_change(change: SlaPolicyChanged, calendars: Mapping[str, Calendar]) -> QueuePolicy:
    what = f"SlaPolicyChanged {change.event_id} ({change.policy_id} v{change.version})"
    if change.effective_from > change.occurred_at:
        raise PolicyChangeRefused(
            f"{what} takes effect at {change.effective_from.isoformat()}, after it was written "
            f"({change.occurred_at.isoformat()}): clocks take a change from when it is "
            "written, so write it when it takes effect"
        )
    calendar_id: str | None = None
    if change.business_hours:
        if change.calendar_id is None or change.calendar_id not in calendars:
            raise PolicyChangeRefused(
                f"{what}: business_hours needs a known calendar_id, got {change.calendar_id!r}; "
                f"known: {sorted(calendars)}"
            )
        calendar_id = _counted_in(calendars[change.calendar_id])
    pauses = frozenset(change.pause_reasons)
    targets: dict[tuple[Priority, SlaMetric], Terms] = {}
    for target in change.targets:
        if target.metric == "unknown":
            continue  # a metric this version does not measure
        pair = (target.priority, target.metric)
        if pair in targets:
            raise PolicyChangeRefused(f"{what}: two targets for {pair}; give one per pair")
        if not 0 < target.warning_ms < target.target_ms:
            raise PolicyChangeRefused(
                f"{what}: target {pair} must have 0 < warning_ms < target_ms, "
                f"got {target.warning_ms} and {target.target_ms}"
            )
        targets[pair] = Terms(
            policy_id=change.policy_id,
            policy_version=change.version,
            calendar_id=calendar_id,
            target_us=target.target_ms * _MS,
            warning_us=target.warning_ms * _MS,
            pause_reasons=pauses,
        )
    return QueuePolicy(
        queue_id=change.queue_id,
        policy_id=change.policy_id,
        version=change.version,
        calendar_id=calendar_id,
        pause_reasons=pauses,
        targets=MappingProxyType(targets),
    )


def _counted_in(calendar: Calendar) -> str | None:
    """The calendar id clocks carry: None for a calendar that counts all time."""
    return None if calendar.kind == "calendar" else calendar.id


def _policy(
    data: object, calendars: Mapping[str, Calendar], source: str, where: str
) -> list[QueuePolicy]:
    item = _object(data, source, where)
    allowed = {"comment", "policy_id", "version", "queues", "calendar", "pause_reasons", "targets"}
    _only(item, allowed, source, where)
    _comment(item, source, where)
    policy_id = _string(item.get("policy_id"), source, f"{where}.policy_id")
    version = item.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PolicyError(source, f"{where}.version", "must be an integer >= 1")
    queue_ids = item.get("queues")
    if not isinstance(queue_ids, list) or not queue_ids:
        raise PolicyError(source, f"{where}.queues", "must be a non-empty list of queue ids")
    queue_ids = [_string(q, source, f"{where}.queues[{i}]") for i, q in enumerate(queue_ids)]
    name = _string(item.get("calendar"), source, f"{where}.calendar")
    if name not in calendars:
        problem = f"unknown calendar {name!r}; known: {sorted(calendars)}"
        raise PolicyError(source, f"{where}.calendar", problem)
    calendar_id = _counted_in(calendars[name])
    pauses = _choices(item.get("pause_reasons"), HOLD_REASONS, source, f"{where}.pause_reasons")
    targets: dict[tuple[Priority, SlaMetric], Terms] = {}
    by_priority = _object(item.get("targets"), source, f"{where}.targets")
    for priority_key, metrics in by_priority.items():
        priority = _one_of(priority_key, PRIORITIES, source, f"{where}.targets")
        at = f"{where}.targets.{priority}"
        for metric_key, raw in _object(metrics, source, at).items():
            metric = _one_of(metric_key, METRICS, source, at)
            target_us, warning_us = _target(raw, source, f"{at}.{metric}")
            targets[(priority, metric)] = Terms(
                policy_id=policy_id,
                policy_version=version,
                calendar_id=calendar_id,
                target_us=target_us,
                warning_us=warning_us,
                pause_reasons=pauses,
            )
    frozen = MappingProxyType(targets)
    return [
        QueuePolicy(
            queue_id=queue_id,
            policy_id=policy_id,
            version=version,
            calendar_id=calendar_id,
            pause_reasons=pauses,
            targets=frozen,
        )
        for queue_id in queue_ids
    ]


def _target(data: object, source: str, where: str) -> tuple[int, int]:
    """(target, warning) in microseconds of counted time, both whole milliseconds."""
    item = _object(data, source, where)
    _only(item, {"target", "warn_before", "warn_at"}, source, where)
    target = _duration(item.get("target"), source, f"{where}.target")
    before, fraction = item.get("warn_before"), item.get("warn_at")
    if (before is None) == (fraction is None):
        raise PolicyError(source, where, "give exactly one of 'warn_before' or 'warn_at'")
    if before is not None:
        ahead = _duration(before, source, f"{where}.warn_before")
        if ahead >= target:
            problem = f"{before!r} is not shorter than the target {item.get('target')!r}"
            raise PolicyError(source, f"{where}.warn_before", problem)
        warning = target - ahead
    else:
        if (
            not isinstance(fraction, int | float)
            or isinstance(fraction, bool)
            or not math.isfinite(fraction)
            or not 0 < fraction < 1
        ):
            problem = f"{fraction!r} must be a fraction of the target between 0 and 1, e.g. 0.8"
            raise PolicyError(source, f"{where}.warn_at", problem)
        warning = timedelta(milliseconds=round(target / timedelta(milliseconds=1) * fraction))
    if warning <= timedelta(0):
        raise PolicyError(source, where, "the warning falls at or before the clock starts")
    micro = timedelta(microseconds=1)
    return target // micro, warning // micro


def _duration(value: object, source: str, where: str) -> timedelta:
    try:
        return parse_duration(_string(value, source, where))
    except ValueError as exc:
        raise PolicyError(source, where, str(exc)) from exc


def _comment(item: Mapping[str, object], source: str, where: str) -> None:
    comment = item.get("comment")
    lines = comment if isinstance(comment, list) else [comment]
    if comment is not None and not all(isinstance(line, str) for line in lines):
        at = f"{where}.comment" if where else "comment"
        raise PolicyError(source, at, "must be a string or a list of strings")


def _object(data: object, source: str, where: str) -> dict[str, object]:
    if not isinstance(data, dict):
        raise PolicyError(source, where, "must be a JSON object")
    return data


def _only(item: Mapping[str, object], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise PolicyError(source, where, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")


def _string(value: object, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(source, where, "must be a non-empty string")
    return value


def _one_of(value: str, allowed: tuple[_T, ...], source: str, where: str) -> _T:
    found = next((a for a in allowed if a == value), None)
    if found is None:
        raise PolicyError(source, where, f"unknown key {value!r}; use one of {list(allowed)}")
    return found


def _choices(value: object, allowed: tuple[_T, ...], source: str, where: str) -> frozenset[_T]:
    if not isinstance(value, list):
        raise PolicyError(source, where, f"must be a list drawn from {list(allowed)}")
    chosen: set[_T] = set()
    for item in value:
        found = next((a for a in allowed if a == item), None)
        if found is None:
            raise PolicyError(source, where, f"{item!r} is not one of {list(allowed)}")
        chosen.add(found)
    return frozenset(chosen)
