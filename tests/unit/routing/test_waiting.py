"""Cases that nobody can take wait in queue order and go out the moment an agent can take them."""

from __future__ import annotations

import pytest

from schemas.events import CaseAssigned
from streams.routing.config import load_config
from streams.routing.domain import handle, waiting_in

from .builders import (
    CONFIG,
    after,
    assignments,
    at,
    capacity,
    closed,
    decisions,
    given,
    online,
    only_decision,
    presence,
    queued,
    reopened,
    triaged,
    when,
)


def test_a_triaged_case_is_queued_then_routed() -> None:
    state = given(online("ana"))

    outputs = when(state, triaged("c1", minute=2))

    assert [type(e).__name__ for e in outputs] == ["CaseQueued", "RoutingDecided", "CaseAssigned"]
    (queue_event,) = queued(outputs)
    decision = only_decision(outputs)
    assert (queue_event.queue_id, queue_event.reason, queue_event.position) == (
        "balanced",
        "triaged",
        1,
    )
    assert decision.rule_version == "test-1"
    assert outputs[2] == CaseAssigned(
        event_id=outputs[2].event_id,
        occurred_at=at(2),
        correlation_id="flow-c1",
        causation_id="triaged-c1-2",
        case_id="c1",
        agent_id="ana",
        queue_id="balanced",
        routing_decision_id=decision.event_id,
    )


def test_the_case_facts_name_the_contact_so_they_reach_its_stream() -> None:
    state = given(online("ana"))

    outputs = when(state, triaged("c1", minute=2, contact_id="contact-7"))

    assert [getattr(e, "contact_id", None) for e in outputs] == ["contact-7"] * 3


def test_outputs_carry_the_cause_in_their_envelope() -> None:
    state = given(online("ana"))
    cause = triaged("c1", minute=2)

    outputs = when(state, cause)

    assert len({e.event_id for e in outputs}) == 3
    for event in outputs:
        assert event.occurred_at == cause.occurred_at
        assert event.correlation_id == cause.correlation_id
        assert event.causation_id == cause.event_id


def test_the_same_event_twice_yields_nothing_the_second_time() -> None:
    state, first = handle(given(online("ana")), triaged("c1"), CONFIG)

    again, second = handle(state, triaged("c1"), CONFIG)

    assert first
    assert second == []
    assert again == state


def test_a_case_nobody_can_take_waits() -> None:
    state = given(presence("ana", "away"))

    outputs = when(state, triaged("c1"))

    decision = only_decision(outputs)
    assert (decision.chosen_agent_id, decision.reason, decision.rule) == (
        None,
        "no_agent_available",
        "load_balancing",
    )
    assert assignments(outputs) == []


def test_a_waiting_case_goes_to_an_agent_who_comes_online() -> None:
    state = given(triaged("c1", minute=0))

    outputs = when(state, presence("bia", minute=7))

    assert assignments(outputs) == [("c1", "bia")]
    assert only_decision(outputs).waited_ms == 7 * 60_000


def test_a_waiting_case_goes_to_an_agent_who_frees_up() -> None:
    state = given(online("ana"), capacity("ana", 1), triaged("c1"), triaged("c2", minute=1))
    assert "c2" in state.waiting

    outputs = when(state, closed("c1", minute=5))

    assert assignments(outputs) == [("c2", "ana")]


def test_a_waiting_case_goes_to_an_agent_whose_capacity_rises() -> None:
    state = given(online("ana"), capacity("ana", 1), triaged("c1"), triaged("c2", minute=1))

    outputs = when(state, capacity("ana", 2, minute=5))

    assert assignments(outputs) == [("c2", "ana")]


def test_an_offline_or_away_agent_gets_nothing_and_keeps_their_cases() -> None:
    state = given(online("ana"), triaged("c1"), presence("ana", "offline", minute=1))

    outputs = when(state, triaged("c2", minute=2))

    assert assignments(outputs) == []
    assert dict(state.assignments) == {"c1": "ana"}
    away = given(online("ana"), presence("ana", "away", minute=1))
    assert assignments(when(away, triaged("c3", minute=2))) == []


def test_queue_order_is_priority_then_longest_waiting() -> None:
    state = given(
        triaged("old-normal", minute=0),
        triaged("new-high", minute=3, priority="high"),
        triaged("older-normal", minute=-1),
        triaged("low", minute=-5, priority="low"),
    )
    assert [w.case_id for w in waiting_in(state, "balanced")] == [
        "new-high",
        "older-normal",
        "old-normal",
        "low",
    ]

    outputs = when(state, capacity("ana", 3, minute=4))  # not online yet: nothing
    assert outputs == []
    outputs = when(after(state, capacity("ana", 3, minute=4)), presence("ana", minute=5))

    assert assignments(outputs) == [
        ("new-high", "ana"),
        ("older-normal", "ana"),
        ("old-normal", "ana"),
    ]
    assert {d.reason for d in decisions(outputs)} == {"least_loaded"}


def test_an_urgent_case_jumps_ahead_of_older_ones() -> None:
    state = given(triaged("c1", minute=0), triaged("c2", minute=1))

    outputs = when(state, triaged("urgent", minute=2, priority="urgent"))

    assert queued(outputs)[0].position == 1
    later = after(state, triaged("urgent", minute=2, priority="urgent"), presence("ana", minute=3))
    assert later.assignments["urgent"] == "ana"


def test_triage_mapping_sends_urgent_and_regional_cases_to_their_queues() -> None:
    office = load_config()

    def queue_of(event_area: str, region: str | None, priority: str) -> str:
        outputs = when(
            given(config=office),
            triaged("c", event_area, region=region, priority=priority),  # type: ignore[arg-type]
            office,
        )
        return queued(outputs)[0].queue_id

    assert queue_of("violencia_domestica", None, "urgent") == "violencia-domestica-urgente"
    assert queue_of("criminal", "campinas", "urgent") == "criminal-flagrante"
    assert queue_of("saude", None, "urgent") == "saude-urgente"
    assert queue_of("saude", None, "normal") == "saude"
    assert queue_of("familia", "sao_paulo", "normal") == "familia-capital"
    assert queue_of("familia", "campinas", "high") == "familia-interior"
    assert queue_of("unknown", None, "normal") == "triagem-geral"


def test_a_retriage_of_a_waiting_case_moves_it_to_the_new_queue() -> None:
    state = given(triaged("c1", "familia", minute=0))

    outputs = when(state, triaged("c1", "saude", minute=1, event_id="retriage"))

    assert [(q.queue_id, q.reason) for q in queued(outputs)] == [("idle", "triaged")]
    assert when(given(online("ana"), triaged("c1")), triaged("c1", "saude", event_id="r")) == []


def test_a_case_closed_while_waiting_leaves_the_queue() -> None:
    state = given(triaged("c1"), closed("c1", minute=1))

    assert dict(state.waiting) == {}
    assert assignments(when(state, presence("ana", minute=2))) == []


def test_the_router_remembers_the_cases_of_its_last_closes_to_queue_them_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Reopening needs what triage said about the case; the router keeps that for the cases
    # of its last CLOSED_CASES_KEPT closes (3 here), a case closed again counting by its
    # latest close.
    monkeypatch.setattr("streams.routing.state.CLOSED_CASES_KEPT", 3)
    cases = ["c1", "c2", "c3", "c4"]
    state = given(
        *online("ana"),
        *(triaged(c, "familia", minute=i) for i, c in enumerate(cases, start=1)),
        closed("c1", minute=10),
        closed("c2", minute=11),
        reopened("c1", minute=12),
        closed("c1", minute=13),  # c1's latest close: the third
        closed("c3", minute=14),
        closed("c4", minute=15),  # the fifth close: c2's (the second) and c1's first are gone
    )

    assert sorted(state.closed) == ["c1", "c3", "c4"]
    assert when(state, reopened("c2", minute=20)) == []  # forgotten: nothing to queue
    assert [q.case_id for q in queued(when(state, reopened("c1", minute=20)))] == ["c1"]
