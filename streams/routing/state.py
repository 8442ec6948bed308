"""The router's state and `evolve`: how each fact changes it.

The state is plain immutable data, so a decision can be replayed from the log: folding
`evolve` over the router's inputs and its own outputs, in log order, rebuilds exactly the
state the running router had. Frozen dataclasses, and `immutables.Map` for everything that
grows with the number of cases: a persistent hash map whose `set`/`delete` shares all but
one path of its trie, so an update costs about 1 µs however many cases are open (copying a
dict of 5,000 costs 35 µs, and the router updates several per event). `evolve` needs no
configuration: an agent's capacity is kept only when an `AgentCapacityChanged` set it, and
the profile's default fills in at decision time.

Must not depend on Kafka, Postgres, logging or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from immutables import Map

from schemas.events import (
    AgentCapacityChanged,
    AgentPresenceChanged,
    Area,
    CaseAssigned,
    CaseClosed,
    CaseQueued,
    CaseReleased,
    CaseReopened,
    CaseTransferred,
    CaseTriaged,
    ChangeCapacity,
    ChangePresence,
    ClaimCase,
    ClockTicked,
    CommandRefused,
    Presence,
    Priority,
    RoutingDecided,
    TransferCase,
)
from streams.shared.frozen import replace
from streams.shared.recent import RecentIds

RouterCommand = TransferCase | ChangePresence | ChangeCapacity | ClaimCase
"""Agents' commands the router decides (streams.routing.commands)."""
RouterInput = (
    CaseTriaged
    | CaseReopened
    | CaseClosed
    | CaseReleased
    | CaseTransferred
    | AgentPresenceChanged
    | AgentCapacityChanged
    | ClockTicked
    | RouterCommand
)
RouterOutput = (
    CaseQueued
    | RoutingDecided
    | CaseAssigned
    | CaseTransferred
    | AgentPresenceChanged
    | AgentCapacityChanged
    | CommandRefused
)
RouterEvent = RouterInput | RouterOutput

PROCESSED_IDS_KEPT = 20_000  # redeliveries come soon after the original; older ids are forgotten
_RECENT = RecentIds(generations=PROCESSED_IDS_KEPT // RecentIds().generation_size)
CLOSED_CASES_KEPT = 20_000  # enough to queue a reopened case again without a new triage

_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True)
class AgentState:
    presence: Presence = "offline"
    capacity: int | None = None  # None: the profile's default (no AgentCapacityChanged yet)
    open_cases: frozenset[str] = frozenset()
    last_assigned_at: datetime | None = None


@dataclass(frozen=True)
class CaseInfo:
    """What the router knows about an open (or recently closed) case."""

    case_id: str
    subject_id: str | None
    area: Area
    region: str | None
    priority: Priority
    urgent: bool
    queue_id: str | None = None
    excluded: frozenset[str] = frozenset()  # agents who gave the case up: not routed back to them
    contact_id: str | None = None  # the contact's stream receives the router's case facts


@dataclass(frozen=True)
class WaitingCase:
    case_id: str
    queue_id: str
    priority: Priority
    queued_at: datetime
    step: int
    step_started_at: datetime


@dataclass(frozen=True)
class RouterState:
    """Every queue and agent. Waiting cases are kept by case_id (`waiting_in` gives one
    queue's, in order); `processed` holds the last PROCESSED_IDS_KEPT event ids, for
    idempotency; `closed` the cases of the last CLOSED_CASES_KEPT closes, to queue a reopened
    one. Nothing here is ever iterated in its (hash) order: decisions sort, so a replay in
    another process decides the same."""

    agents: Map[str, AgentState] = field(default_factory=Map)
    cases: Map[str, CaseInfo] = field(default_factory=Map)
    waiting: Map[str, WaitingCase] = field(default_factory=Map)
    assignments: Map[str, str] = field(default_factory=Map)  # case_id -> agent_id
    last_agent: Map[str, str] = field(default_factory=Map)  # subject_id -> agent_id (sticky)
    round_robin: Map[str, str] = field(default_factory=Map)  # queue_id -> last agent chosen
    closed: Map[str, CaseInfo] = field(default_factory=Map)
    # The last closes, to forget the oldest: close number -> case_id (closed_first up to
    # closed_next - 1), and each closed case's latest close number.
    closed_order: Map[int, str] = field(default_factory=Map)
    closed_seq: Map[str, int] = field(default_factory=Map)
    closed_first: int = 0
    closed_next: int = 0
    processed: RecentIds = field(default_factory=lambda: _RECENT)

    def agent(self, agent_id: str) -> AgentState:
        return self.agents.get(agent_id, AgentState())


PRIORITY_RANK: Mapping[Priority, int] = {
    "urgent": 0,
    "high": 1,
    "normal": 2,
    "unknown": 2,
    "low": 3,
}


def queue_order(w: WaitingCase) -> tuple[int, datetime, str]:
    """Priority first, then the longest waiting, then case_id (ties never depend on hashing)."""
    return (PRIORITY_RANK[w.priority], w.queued_at, w.case_id)


def is_urgent(event: CaseTriaged) -> bool:
    return event.priority == "urgent" or bool(event.urgency_flags)


def evolve(state: RouterState, event: RouterEvent) -> RouterState:
    """The state after one fact; a fact already applied (same event_id) changes nothing."""
    if event.event_id in state.processed:
        return state
    return _remember(_apply(state, event), event.event_id)


def _apply(state: RouterState, event: RouterEvent) -> RouterState:  # noqa: PLR0911
    match event:
        case CaseTriaged():
            return _triaged(state, event)
        case CaseQueued():
            return _queued(state, event)
        case RoutingDecided():
            return _decided(state, event)
        case CaseAssigned():
            return _assigned(state, event)
        case CaseReleased():
            if state.assignments.get(event.case_id) != event.agent_id:
                return state  # not (or no longer) theirs: nothing to release
            return _exclude(_unassign(state, event.case_id), event.case_id, event.agent_id)
        case CaseTransferred():
            return _transferred(state, event)
        case CaseClosed():
            return _closed(state, event.case_id)
        case CaseReopened():
            return _reopened(state, event.case_id)
        case AgentPresenceChanged() | AgentCapacityChanged():
            return _agent_changed(state, event)
        case ClockTicked() | CommandRefused():
            return state
        case TransferCase() | ChangePresence() | ChangeCapacity() | ClaimCase():
            return state  # a command changes state only through the fact it is accepted into


def _agent_changed(
    state: RouterState, event: AgentPresenceChanged | AgentCapacityChanged
) -> RouterState:
    agent = state.agent(event.agent_id)
    if isinstance(event, AgentPresenceChanged):
        agent = replace(agent, presence=event.presence)
    else:
        agent = replace(agent, capacity=event.capacity)
    return replace(state, agents=state.agents.set(event.agent_id, agent))


def _transferred(state: RouterState, event: CaseTransferred) -> RouterState:
    if event.case_id in state.closed:
        return state
    holder = state.assignments.get(event.case_id)
    moved = _unassign(state, event.case_id)
    if event.case_id not in moved.cases:  # never triaged here: keep what the transfer tells
        info = CaseInfo(
            event.case_id,
            event.subject_id,
            "unknown",
            None,
            "normal",
            False,
            contact_id=event.contact_id,
        )
        moved = replace(moved, cases=moved.cases.set(event.case_id, info))
    moved = replace(moved, waiting=_without(moved.waiting, event.case_id))
    return _exclude(moved, event.case_id, holder) if holder else moved


def _reopened(state: RouterState, case_id: str) -> RouterState:
    info = state.closed.get(case_id)
    if info is None or case_id in state.cases:
        return state
    return replace(
        state,
        cases=state.cases.set(case_id, info),
        closed=state.closed.delete(case_id),
        closed_seq=_without(state.closed_seq, case_id),
    )


def _triaged(state: RouterState, event: CaseTriaged) -> RouterState:
    info = CaseInfo(
        case_id=event.case_id,
        subject_id=event.subject_id,
        area=event.area,
        region=event.region,
        priority=event.priority,
        urgent=is_urgent(event),
        contact_id=event.contact_id,
    )
    if event.case_id in state.closed:  # a late re-triage of a closed case: remember, do not open
        old = state.closed[event.case_id]
        return replace(
            state, closed=state.closed.set(event.case_id, replace(info, queue_id=old.queue_id))
        )
    old_info = state.cases.get(event.case_id)
    if old_info is not None:
        info = replace(info, queue_id=old_info.queue_id, excluded=old_info.excluded)
    return replace(state, cases=state.cases.set(event.case_id, info))


def _queued(state: RouterState, event: CaseQueued) -> RouterState:
    at = event.occurred_at
    before = state.waiting.get(event.case_id)
    if before is not None and before.queue_id == event.queue_id:
        # a re-triage in the same queue keeps the case's place and escalation step
        entry = replace(before, priority=event.priority)
    else:
        entry = WaitingCase(event.case_id, event.queue_id, event.priority, at, 0, at)
    known = state.cases.get(event.case_id)
    info = known or CaseInfo(
        case_id=event.case_id,
        subject_id=None,
        area=event.area,
        region=None,
        priority=event.priority,
        urgent=event.priority == "urgent",
        contact_id=event.contact_id,
    )
    info = replace(info, queue_id=event.queue_id, priority=event.priority)
    unassigned = _unassign(state, event.case_id)
    return replace(
        unassigned,
        waiting=unassigned.waiting.set(event.case_id, entry),
        cases=unassigned.cases.set(event.case_id, info),
    )


def _decided(state: RouterState, event: RoutingDecided) -> RouterState:
    if event.rule == "round_robin" and event.chosen_agent_id is not None:
        state = replace(
            state, round_robin=state.round_robin.set(event.queue_id, event.chosen_agent_id)
        )
    entry = state.waiting.get(event.case_id)
    if entry is None or entry.step == event.escalation_step:
        return state
    entry = replace(entry, step=event.escalation_step, step_started_at=event.occurred_at)
    return replace(state, waiting=state.waiting.set(event.case_id, entry))


def _assigned(state: RouterState, event: CaseAssigned) -> RouterState:
    state = _unassign(state, event.case_id)  # never two agents on one case
    agent = state.agent(event.agent_id)
    agent = replace(
        agent, open_cases=agent.open_cases | {event.case_id}, last_assigned_at=event.occurred_at
    )
    info = state.cases.get(event.case_id)
    cases = state.cases
    last_agent = state.last_agent
    if info is not None:
        cases = cases.set(
            event.case_id, replace(info, queue_id=event.queue_id, excluded=frozenset())
        )
        if info.subject_id is not None:
            last_agent = last_agent.set(info.subject_id, event.agent_id)
    return replace(
        state,
        agents=state.agents.set(event.agent_id, agent),
        assignments=state.assignments.set(event.case_id, event.agent_id),
        waiting=_without(state.waiting, event.case_id),
        cases=cases,
        last_agent=last_agent,
    )


def _unassign(state: RouterState, case_id: str) -> RouterState:
    holder = state.assignments.get(case_id)
    if holder is None:
        return state
    agent = state.agent(holder)
    agent = replace(agent, open_cases=agent.open_cases - {case_id})
    return replace(
        state,
        agents=state.agents.set(holder, agent),
        assignments=_without(state.assignments, case_id),
    )


def _exclude(state: RouterState, case_id: str, agent_id: str) -> RouterState:
    info = state.cases.get(case_id)
    if info is None:
        return state
    info = replace(info, excluded=info.excluded | {agent_id})
    return replace(state, cases=state.cases.set(case_id, info))


def _closed(state: RouterState, case_id: str) -> RouterState:
    state = _unassign(state, case_id)
    info = state.cases.get(case_id)
    if info is not None:
        seq = state.closed_next
        state = replace(
            state,
            closed=state.closed.set(case_id, replace(info, excluded=frozenset())),
            closed_seq=state.closed_seq.set(case_id, seq),
            closed_order=state.closed_order.set(seq, case_id),
            closed_next=seq + 1,
        )
        state = _forget_oldest_closed(state)
    return replace(
        state,
        cases=_without(state.cases, case_id),
        waiting=_without(state.waiting, case_id),
    )


def _forget_oldest_closed(state: RouterState) -> RouterState:
    """Remember the cases of the last CLOSED_CASES_KEPT closes: forget the oldest first."""
    closed, seqs, order, first = (
        state.closed,
        state.closed_seq,
        state.closed_order,
        state.closed_first,
    )
    while len(order) > CLOSED_CASES_KEPT:
        case_id = order[first]
        order = order.delete(first)
        if seqs.get(case_id) == first:  # neither reopened nor closed again since
            closed, seqs = closed.delete(case_id), seqs.delete(case_id)
        first += 1
    return replace(state, closed=closed, closed_seq=seqs, closed_order=order, closed_first=first)


def _remember(state: RouterState, event_id: str) -> RouterState:
    return replace(state, processed=state.processed.add(event_id))


def _without(mapping: Map[_K, _V], key: _K) -> Map[_K, _V]:
    return mapping.delete(key) if key in mapping else mapping
