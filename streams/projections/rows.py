"""The pure projection of the read model's `sla_clocks` and `agents` rows.

The projector shell loads the current rows of a batch's keys, folds the batch's events over
them in log order with `evolve_clock` / `evolve_agent`, and writes the final whole rows with
`writer.write` in the transaction that stores the offsets. These functions are that fold's
step: plain data in, plain data out. They import no Kafka, Postgres, logging or clock.

Rows are whole: every row of a table has exactly the columns of `SLA_CLOCK_COLUMNS` or
`AGENT_COLUMNS`, the table's columns minus `updated_at`, which the database fills
(`DEFAULT now()`): when the projector wrote a row is not a fact of the log, and putting it
in the row would make replays differ.

`version` is the event's offset in the one partition that orders the row's events. An event
whose version is not higher than the row's changes nothing, so a redelivered batch folds to
the same rows.

Who holds a case: `CaseClosed` names no agent, so `agents` needs the holder of each case. The
projector keeps a map case_id -> agent_id folded from the same `acolhe.routing` log with
`evolve_holders` (the log that orders the agents' rows, so the map can never lead or lag
them), and passes `holder=holders.get(case_id)` (the holder just before the event) to
`agent_of` (which row to load) and to `evolve_agent`. `fold_agents` does the three steps in
order for a list of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from schemas.events import (
    AgentCapacityChanged,
    AgentPresenceChanged,
    CaseAssigned,
    CaseClosed,
    CaseReleased,
    CaseTransferred,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaResumed,
    SlaStarted,
    SlaWarned,
)
from streams.projections.writer import Upsert

Row = dict[str, Any]
ClockStatus = Literal["running", "paused", "met", "breached"]
SlaEvent = SlaStarted | SlaPaused | SlaResumed | SlaWarned | SlaBreached | SlaMet
AgentEvent = (
    AgentPresenceChanged
    | AgentCapacityChanged
    | CaseAssigned
    | CaseReleased
    | CaseTransferred
    | CaseClosed
)

CLOCK_STATUSES: Final[frozenset[str]] = frozenset({"running", "paused", "met", "breached"})
SLA_CLOCKS: Final = "sla_clocks"
SLA_CLOCK_KEY: Final = ("clock_id",)
SLA_CLOCK_COLUMNS: Final = (
    "clock_id",
    "case_id",
    "metric",
    "queue_id",
    "priority",
    "policy_id",
    "policy_version",
    "calendar_id",
    "status",
    "pause_reason",
    "target_ms",
    "warning_ms",
    "elapsed_ms",
    "paused_ms",
    "deadline_at",
    "started_at",
    "warned_at",
    "breached_at",
    "met_at",
    "within_target",
    "version",
)
AGENTS: Final = "agents"
AGENT_KEY: Final = ("agent_id",)
AGENT_COLUMNS: Final = (
    "agent_id",
    "presence",
    "presence_since",
    "capacity",
    "open_cases",
    "last_assigned_at",
    "version",
)


def _only(columns: tuple[str, ...], row: Mapping[str, Any]) -> Row:
    """A copy of the row with exactly `columns`, in their order: the writer needs every row
    of a table to have the same columns, and rows loaded from Postgres also have
    `updated_at`."""
    if isinstance(row, dict) and tuple(row) == columns:
        return dict(row)  # already whole and in order (every row these modules make)
    return {c: row[c] for c in columns}


def whole(columns: tuple[str, ...], row: Mapping[str, Any]) -> Row:
    """The row itself when it has exactly `columns` in order, else `_only`'s copy: what an
    upsert takes at the end of a fold, when nothing changes the row any more."""
    if isinstance(row, dict) and tuple(row) == columns:
        return row
    return {c: row[c] for c in columns}


def is_newer(row: Mapping[str, Any] | None, version: int) -> bool:
    """Whether an event at `version` is past the last one applied to the row."""
    return row is None or version > int(row["version"])


# -- sla_clocks -------------------------------------------------------------------------------


def evolve_clock(row: Mapping[str, Any] | None, event: SlaEvent, version: int) -> Row:
    """The clock's whole row after `event` (at log offset `version`).

    Every event sets the terms it carries (case, metric, queue, priority, policy and version,
    calendar, `target_ms`, `elapsed_ms`, `deadline_at`). Then, by event:
    - `SlaStarted`: `started_at`; `running`, or `paused` when `deadline_at` is null (it
      started while the case waits);
    - `SlaPaused`: `paused` with `pause_reason`;
    - `SlaResumed`: `running`, or `breached` if it breached before; adds `paused_ms`;
    - `SlaWarned`: `warned_at` (the first warning's) and `warning_ms`; status unchanged;
    - `SlaBreached`: `breached_at` (the first breach's); `breached`, but a paused clock
      stays `paused` (with `breached_at` set) until it resumes;
    - `SlaMet`: `met`, `met_at`, `within_target`. Met is final: later events of the clock
      change nothing.
    `pause_reason` is kept only while the status is `paused`. A clock whose first event
    seen is not `SlaStarted` (a log trimmed before it) gets that event's `occurred_at` as
    `started_at`. A stale event (version not higher than the row's) or one after `met`
    returns the row unchanged.
    """
    if row is not None and row["clock_id"] != event.clock_id:
        raise ValueError(f"event for clock {event.clock_id} applied to {row['clock_id']}")
    if row is not None and (not is_newer(row, version) or row["status"] == "met"):
        return _only(SLA_CLOCK_COLUMNS, row)
    old: Mapping[str, Any] = row if row is not None else _new_clock(event)
    new = dict(old)
    new.update(
        case_id=event.case_id,
        metric=event.metric,
        queue_id=event.queue_id,
        priority=event.priority,
        policy_id=event.policy_id,
        policy_version=event.policy_version,
        calendar_id=event.calendar_id,
        target_ms=event.target_ms,
        elapsed_ms=event.elapsed_ms,
        deadline_at=event.deadline_at,
        version=version,
    )
    status: ClockStatus
    match event:
        case SlaStarted():
            new["started_at"] = event.occurred_at
            status = "paused" if event.deadline_at is None else _counting(new)
        case SlaPaused():
            new["pause_reason"] = event.pause_reason
            status = "paused"
        case SlaResumed():
            new["paused_ms"] = old["paused_ms"] + event.paused_ms
            status = _counting(new)
        case SlaWarned():
            new["warned_at"] = old["warned_at"] or event.occurred_at
            new["warning_ms"] = event.warning_ms
            status = old["status"]
        case SlaBreached():
            new["breached_at"] = old["breached_at"] or event.occurred_at
            status = "paused" if old["status"] == "paused" else "breached"
        case SlaMet():
            new["met_at"] = event.occurred_at
            new["within_target"] = event.within_target
            status = "met"
    new["status"] = status
    if status != "paused":
        new["pause_reason"] = None
    return _only(SLA_CLOCK_COLUMNS, new)


def _counting(row: Mapping[str, Any]) -> ClockStatus:
    """The status of a clock that counts: breached once it has breached."""
    return "breached" if row["breached_at"] is not None else "running"


def _new_clock(event: SlaEvent) -> Row:
    """A clock row before its first event: nothing set but its id and start. A clock first
    seen by a later event (a trimmed log) counts as running before it."""
    return {
        "clock_id": event.clock_id,
        "status": "running",
        "pause_reason": None,
        "warning_ms": None,
        "paused_ms": 0,
        "started_at": event.occurred_at,
        "warned_at": None,
        "breached_at": None,
        "met_at": None,
        "within_target": None,
    }


def upsert_clock(row: Mapping[str, Any]) -> Upsert:
    """The writer's upsert of a clock row."""
    return Upsert(SLA_CLOCKS, SLA_CLOCK_KEY, whole(SLA_CLOCK_COLUMNS, row))


# -- agents -----------------------------------------------------------------------------------


def agent_of(event: AgentEvent, holder: str | None) -> str | None:
    """The agent whose row `event` changes, given the case's holder just before it: the
    agent the event names, or for `CaseClosed` the holder (none if nobody held the case).
    `CaseTransferred` changes the agent it takes the case from; the agent it goes to gets
    it with the `CaseAssigned` that follows."""
    match event:
        case AgentPresenceChanged() | AgentCapacityChanged() | CaseAssigned() | CaseReleased():
            return event.agent_id
        case CaseTransferred():
            return event.from_agent_id
        case CaseClosed():
            return holder


def evolve_agent(
    row: Mapping[str, Any] | None,
    event: AgentEvent,
    version: int,
    *,
    holder: str | None = None,
) -> Row | None:
    """The agent's whole row after `event` (at offset `version` in `acolhe.routing`).

    `row` is the row of `agent_of(event, holder)`; `holder` is who held the event's case
    just before it (`evolve_holders`). By event:
    - `AgentPresenceChanged`: `presence`, `presence_since` (its `changed_at`);
    - `AgentCapacityChanged`: `capacity`;
    - `CaseAssigned`: `last_assigned_at`; `open_cases` + 1, unless the agent already holds
      the case (a second assignment counts once);
    - `CaseReleased`, `CaseTransferred` (from an agent), `CaseClosed` (of a held case):
      `open_cases` - 1, never below 0.
    An agent first seen gets the table's defaults (offline, capacity 0, no cases). A stale
    event returns the row unchanged; an event that concerns no agent (a `CaseClosed` of a
    case nobody held, a transfer from a queue) returns `row` as it is (None stays None).
    """
    agent_id = agent_of(event, holder)
    if agent_id is None:
        return None if row is None else _only(AGENT_COLUMNS, row)
    if row is not None and row["agent_id"] != agent_id:
        raise ValueError(f"event for agent {agent_id} applied to {row['agent_id']}")
    if row is not None and not is_newer(row, version):
        return _only(AGENT_COLUMNS, row)
    new = _only(AGENT_COLUMNS, row) if row is not None else _new_agent(agent_id)
    new["version"] = version
    match event:
        case AgentPresenceChanged():
            new["presence"] = event.presence
            new["presence_since"] = event.changed_at
        case AgentCapacityChanged():
            new["capacity"] = max(event.capacity, 0)
        case CaseAssigned():
            new["last_assigned_at"] = event.occurred_at
            if holder != agent_id:
                new["open_cases"] += 1
        case CaseReleased() | CaseTransferred() | CaseClosed():
            new["open_cases"] = max(new["open_cases"] - 1, 0)
    return new


def _new_agent(agent_id: str) -> Row:
    """An agent's row before its first event: the table's defaults."""
    return {
        "agent_id": agent_id,
        "presence": "offline",
        "presence_since": None,
        "capacity": 0,
        "open_cases": 0,
        "last_assigned_at": None,
        "version": -1,
    }


def evolve_holders(holders: Mapping[str, str], event: AgentEvent) -> dict[str, str]:
    """Who holds each case after `event`: an assignment sets the holder; a release,
    transfer or close ends the hold (a transfer to an agent is followed by its
    `CaseAssigned`). Idempotent: applying an event twice gives the same map."""
    new = dict(holders)
    match event:
        case CaseAssigned():
            new[event.case_id] = event.agent_id
        case CaseReleased() | CaseTransferred() | CaseClosed():
            new.pop(event.case_id, None)
        case AgentPresenceChanged() | AgentCapacityChanged():
            pass
    return new


def fold_agents(
    rows: Mapping[str, Mapping[str, Any]],
    holders: Mapping[str, str],
    events: Iterable[tuple[int, AgentEvent]],
) -> tuple[dict[str, Row], dict[str, str]]:
    """The agents' rows and the holders after `(version, event)` pairs in log order. For
    each event: the case's holder before it, the agent row it changes, then the holders
    after it (in that order: `CaseClosed` needs the holder it ends)."""
    out = {agent: _only(AGENT_COLUMNS, row) for agent, row in rows.items()}
    held = dict(holders)
    for version, event in events:
        case_id = _case_of(event)
        holder = held.get(case_id) if case_id is not None else None
        agent = agent_of(event, holder)
        if agent is not None:
            row = evolve_agent(out.get(agent), event, version, holder=holder)
            if row is not None:
                out[agent] = row
        held = evolve_holders(held, event)
    return out, held


def _case_of(event: AgentEvent) -> str | None:
    match event:
        case CaseAssigned() | CaseReleased() | CaseTransferred() | CaseClosed():
            return event.case_id
        case AgentPresenceChanged() | AgentCapacityChanged():
            return None


def upsert_agent(row: Mapping[str, Any]) -> Upsert:
    """The writer's upsert of an agent row."""
    return Upsert(AGENTS, AGENT_KEY, whole(AGENT_COLUMNS, row))
