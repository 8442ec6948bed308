"""Releases and transfers are explicit; each frees the agent and moves the case where it says."""

from __future__ import annotations

import pytest

from streams.routing.domain import UnknownQueue

from .builders import (
    after,
    assignments,
    capacity,
    closed,
    given,
    online,
    only_decision,
    presence,
    queued,
    released,
    reopened,
    transferred,
    triaged,
    when,
)


def test_a_released_case_goes_back_to_its_queue_and_to_another_agent() -> None:
    state = given(online("ana", "bia"), triaged("c1"))  # ana
    assert dict(state.assignments) == {"c1": "ana"}

    outputs = when(state, released("c1", "ana", "balanced", minute=3))

    assert [(q.queue_id, q.reason) for q in queued(outputs)] == [("balanced", "released")]
    assert assignments(outputs) == [("c1", "bia")]
    ana = {c.agent_id: c for c in only_decision(outputs).candidates}["ana"]
    assert ana.reason_excluded == "gave_case_up"


def test_a_released_case_waits_rather_than_go_back_to_who_released_it() -> None:
    state = given(online("ana"), triaged("c1"))

    outputs = when(state, released("c1", "ana", "balanced", minute=3))

    assert only_decision(outputs).reason == "no_agent_available"
    later = after(state, released("c1", "ana", "balanced", minute=3), presence("bia", minute=4))
    assert dict(later.assignments) == {"c1": "bia"}


def test_a_release_frees_capacity_for_the_queue() -> None:
    state = given(online("ana"), capacity("ana", 1), triaged("c1"), triaged("c2", minute=1))

    outputs = when(state, released("c1", "ana", "balanced", minute=3))

    assert assignments(outputs) == [("c2", "ana")]  # c2 waited longer than the released c1


def test_a_release_by_someone_who_does_not_hold_the_case_changes_nothing() -> None:
    state = given(online("ana"), triaged("c1"))

    assert when(state, released("c1", "bia", "balanced")) == []


def test_a_transfer_to_an_agent_with_capacity_assigns_the_case_to_them() -> None:
    state = given(online("ana", "bia"), triaged("c1", "saude"))  # ana

    outputs = when(
        state,
        transferred(
            "c1", from_queue="idle", to_queue="balanced", from_agent="ana", to_agent="caio"
        ),
    )

    assert assignments(outputs) == [("c1", "caio")]  # caio is offline, but the transfer is explicit
    decision = only_decision(outputs)
    assert (decision.rule, decision.reason, decision.queue_id) == (
        "manual",
        "transfer_to_agent",
        "balanced",
    )
    later = after(
        state,
        transferred(
            "c1", from_queue="idle", to_queue="balanced", from_agent="ana", to_agent="caio"
        ),
    )
    assert dict(later.assignments) == {"c1": "caio"}
    assert later.agents["ana"].open_cases == frozenset()


def test_a_transfer_to_an_agent_at_capacity_waits_in_the_target_queue() -> None:
    state = given(online("ana", "bia"), capacity("bia", 0), triaged("c1", "saude"))  # ana

    outputs = when(
        state,
        transferred("c1", from_queue="idle", to_queue="balanced", from_agent="ana", to_agent="bia"),
    )

    assert [(q.queue_id, q.reason) for q in queued(outputs)] == [("balanced", "transferred")]
    decision = only_decision(outputs)
    assert decision.chosen_agent_id is None
    assert decision.reason == "no_agent_available;transfer_target_at_capacity:bia"


def test_a_transfer_to_a_queue_routes_the_case_there() -> None:
    state = given(online("ana", "bia"), triaged("c1", "saude"))  # ana

    outputs = when(
        state, transferred("c1", from_queue="idle", to_queue="spanish", from_agent="ana")
    )

    assert [(q.queue_id, q.reason) for q in queued(outputs)] == [("spanish", "transferred")]
    assert assignments(outputs) == [("c1", "bia")]


def test_a_transfer_to_a_queue_the_configuration_lacks_is_bad_input() -> None:
    state = given(online("ana"), triaged("c1"))

    with pytest.raises(UnknownQueue, match="no queue 'nowhere'"):
        when(state, transferred("c1", from_queue="balanced", to_queue="nowhere", from_agent="ana"))


def test_closing_a_case_frees_its_agent() -> None:
    state = given(online("ana"), triaged("c1"), closed("c1", minute=1))

    assert dict(state.assignments) == {}
    assert state.agents["ana"].open_cases == frozenset()


def test_a_reopened_case_is_queued_again() -> None:
    state = given(online("ana"), triaged("c1"), closed("c1", minute=1))

    outputs = when(state, reopened("c1", minute=30))

    assert [(q.queue_id, q.reason) for q in queued(outputs)] == [("balanced", "reopened")]
    assert assignments(outputs) == [("c1", "ana")]


def test_a_late_triage_of_a_closed_case_does_not_queue_it() -> None:
    state = given(triaged("c1"), closed("c1", minute=1))

    assert when(state, triaged("c1", "saude", minute=2)) == []
