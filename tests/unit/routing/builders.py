"""Events, a small office and given/when helpers for the routing tests.

The office: three familia/saude/consumidor/... generalists (ana, bia, caio; bia speaks
Spanish), and a violência doméstica team for escalation (a specialist, a generalist and a
supervisor, one case each). One queue per rule, so each test reads as one rule at work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

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
    Presence,
    Priority,
    RoutingDecided,
    TransferCase,
)
from streams.routing.config import RoutingConfig, parse_config
from streams.routing.domain import RouterInput, RouterOutput, RouterState, handle

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _generalist(agent_id: str, skills: list[str]) -> dict[str, Any]:
    areas = ["familia", "saude", "consumidor", "previdencia", "moradia", "other"]
    return {
        "agent_id": agent_id,
        "areas": areas,
        "skills": skills,
        "roles": ["generalist"],
        "capacity": 2,
    }


OFFICE: dict[str, Any] = {
    "version": "test-1",
    "fallback_queue": "manual",
    "queues": [
        {"queue_id": "balanced", "areas": ["familia"], "rule": "load_balancing"},
        {"queue_id": "idle", "areas": ["saude"], "rule": "longest_idle"},
        {"queue_id": "rotation", "areas": ["consumidor"], "rule": "round_robin"},
        {
            "queue_id": "spanish",
            "areas": ["previdencia"],
            "rule": "load_balancing",
            "required_skills": ["lang:es"],
        },
        {"queue_id": "sticky", "areas": ["moradia"], "rule": "load_balancing", "sticky": True},
        {"queue_id": "manual", "areas": ["other"], "rule": "manual"},
        {
            "queue_id": "vd",
            "areas": ["violencia_domestica"],
            "rule": "longest_idle",
            "escalation": [
                {"pool": "specialists", "roles": ["specialist"], "timeout_seconds": 120},
                {"pool": "wider", "roles": ["specialist", "generalist"], "timeout_seconds": 180},
                {"pool": "supervisors", "roles": ["supervisor"], "timeout_seconds": None},
            ],
        },
    ],
    "routes": [
        {"area": "familia", "queue": "balanced"},
        {"area": "saude", "queue": "idle"},
        {"area": "consumidor", "queue": "rotation"},
        {"area": "previdencia", "queue": "spanish"},
        {"area": "moradia", "queue": "sticky"},
        {"area": "violencia_domestica", "queue": "vd"},
    ],
    "agents": [
        _generalist("ana", []),
        _generalist("bia", ["lang:es"]),
        _generalist("caio", []),
        {
            "agent_id": "vd-spec",
            "areas": ["violencia_domestica"],
            "roles": ["specialist"],
            "capacity": 1,
        },
        {
            "agent_id": "vd-gen",
            "areas": ["violencia_domestica"],
            "roles": ["generalist"],
            "capacity": 1,
        },
        {
            "agent_id": "vd-sup",
            "areas": ["violencia_domestica"],
            "roles": ["supervisor"],
            "capacity": 1,
        },
    ],
}
CONFIG: RoutingConfig = parse_config(OFFICE, source="tests")


def triaged(
    case_id: str,
    area: Area = "familia",
    *,
    minute: float = 0,
    priority: Priority = "normal",
    subject_id: str | None = None,
    region: str | None = None,
    event_id: str | None = None,
    contact_id: str | None = None,
) -> CaseTriaged:
    return CaseTriaged(
        event_id=event_id or f"triaged-{case_id}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"flow-{case_id}",
        subject_id=subject_id or f"citizen-of-{case_id}",
        case_id=case_id,
        area=area,
        priority=priority,
        region=region,
        rules_version="triage-1",
        contact_id=contact_id,
    )


def presence(
    agent_id: str, value: Presence = "available", *, minute: float = 0
) -> AgentPresenceChanged:
    return AgentPresenceChanged(
        event_id=f"presence-{agent_id}-{value}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"agent-{agent_id}",
        agent_id=agent_id,
        presence=value,
        changed_at=at(minute),
    )


def online(*agent_ids: str, minute: float = 0) -> list[AgentPresenceChanged]:
    return [presence(a, minute=minute) for a in agent_ids]


def capacity(agent_id: str, value: int, *, minute: float = 0) -> AgentCapacityChanged:
    return AgentCapacityChanged(
        event_id=f"capacity-{agent_id}-{value}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"agent-{agent_id}",
        agent_id=agent_id,
        capacity=value,
        changed_at=at(minute),
    )


def closed(case_id: str, *, minute: float = 0) -> CaseClosed:
    return CaseClosed(
        event_id=f"closed-{case_id}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"flow-{case_id}",
        case_id=case_id,
        reason="resolved",
    )


def reopened(case_id: str, *, minute: float = 0) -> CaseReopened:
    return CaseReopened(
        event_id=f"reopened-{case_id}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"flow-{case_id}",
        case_id=case_id,
        previous_closed_at=at(minute),
        previous_close_reason="resolved",
    )


def released(case_id: str, agent_id: str, queue_id: str, *, minute: float = 0) -> CaseReleased:
    return CaseReleased(
        event_id=f"released-{case_id}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"flow-{case_id}",
        case_id=case_id,
        agent_id=agent_id,
        queue_id=queue_id,
        reason="agent_request",
        released_by_agent_id=agent_id,
    )


def transferred(
    case_id: str,
    *,
    from_queue: str,
    to_queue: str,
    from_agent: str | None = None,
    to_agent: str | None = None,
    minute: float = 0,
) -> CaseTransferred:
    return CaseTransferred(
        event_id=f"transferred-{case_id}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"flow-{case_id}",
        subject_id=f"citizen-of-{case_id}",
        case_id=case_id,
        from_queue_id=from_queue,
        from_agent_id=from_agent,
        to_queue_id=to_queue,
        to_agent_id=to_agent,
        transferred_by_agent_id=from_agent,
    )


def tick(minute: float, *, sequence: int | None = None) -> ClockTicked:
    return ClockTicked(
        event_id=f"tick-{minute}",
        occurred_at=at(minute),
        correlation_id="timer-0",
        source="timer-0",
        sequence=sequence if sequence is not None else int(minute * 60),
        tick_at=at(minute),
        interval_ms=1000,
    )


# -- agents' commands, as the gateway writes them ---------------------------------------------


def ask_transfer(
    case_id: str,
    by: str,
    to_queue: str,
    *,
    to_agent: str | None = None,
    note: str | None = None,
    minute: float = 0,
) -> TransferCase:
    return TransferCase(
        event_id=f"ask-transfer-{case_id}-{by}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"flow-{case_id}",
        subject_id=f"citizen-of-{case_id}",
        case_id=case_id,
        contact_id=f"contact-of-{case_id}",
        agent_id=by,
        to_queue_id=to_queue,
        to_agent_id=to_agent,
        note=note,
    )


def ask_presence(agent_id: str, value: Presence, *, minute: float = 0) -> ChangePresence:
    return ChangePresence(
        event_id=f"ask-presence-{agent_id}-{value}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"agent-{agent_id}",
        agent_id=agent_id,
        presence=value,
    )


def ask_capacity(agent_id: str, value: int, *, minute: float = 0) -> ChangeCapacity:
    return ChangeCapacity(
        event_id=f"ask-capacity-{agent_id}-{value}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"agent-{agent_id}",
        agent_id=agent_id,
        capacity=value,
    )


def ask_claim(case_id: str, by: str, *, minute: float = 0) -> ClaimCase:
    return ClaimCase(
        event_id=f"ask-claim-{case_id}-{by}-{minute}",
        occurred_at=at(minute),
        correlation_id=f"flow-{case_id}",
        case_id=case_id,
        agent_id=by,
        contact_id=f"contact-of-{case_id}",
    )


def given(
    *facts: RouterInput | Sequence[RouterInput], config: RoutingConfig = CONFIG
) -> RouterState:
    """The state after these facts (lists are flattened), the router reacting to each."""
    return after(RouterState(), *facts, config=config)


def after(
    state: RouterState, *facts: RouterInput | Sequence[RouterInput], config: RoutingConfig = CONFIG
) -> RouterState:
    """`state` moved on by more facts."""
    for fact in facts:
        for event in fact if isinstance(fact, Sequence) else [fact]:
            state, _ = handle(state, event, config)
    return state


def when(
    state: RouterState, event: RouterInput, config: RoutingConfig = CONFIG
) -> list[RouterOutput]:
    return handle(state, event, config)[1]


def decisions(outputs: Iterable[RouterOutput]) -> list[RoutingDecided]:
    return [e for e in outputs if isinstance(e, RoutingDecided)]


def assignments(outputs: Iterable[RouterOutput]) -> list[tuple[str, str]]:
    """(case_id, agent_id) of each CaseAssigned, in order."""
    return [(e.case_id, e.agent_id) for e in outputs if isinstance(e, CaseAssigned)]


def queued(outputs: Iterable[RouterOutput]) -> list[CaseQueued]:
    return [e for e in outputs if isinstance(e, CaseQueued)]


def only_decision(outputs: Iterable[RouterOutput]) -> RoutingDecided:
    found = decisions(outputs)
    assert len(found) == 1, found
    return found[0]
