"""Case facts written by others move the case through its statuses and decide nothing."""

from __future__ import annotations

import pytest

from streams.cases.domain import decide, handle
from streams.cases.state import CaseStatus, ContactState, Input, case_id_for

from .builders import (
    POLICY,
    agent_replied,
    assigned,
    at,
    closed_by_agent,
    given,
    put_on_hold,
    queued,
    received,
    released,
    resumed_by_agent,
    transferred,
    triaged,
)

FIRST = received(1)
CASE = case_id_for(FIRST)


def status(state: ContactState) -> CaseStatus | None:
    return state.case.status if state.case else None


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param([FIRST], "in_triage", id="opened"),
        pytest.param([FIRST, triaged(CASE, at(minutes=3))], "in_triage", id="triaged"),
        pytest.param([FIRST, queued(CASE, at(minutes=4))], "queued", id="queued"),
        pytest.param(
            [FIRST, queued(CASE, at(minutes=4)), assigned(CASE, at(minutes=9))],
            "assigned",
            id="assigned",
        ),
        pytest.param(
            [FIRST, assigned(CASE, at(minutes=9)), released(CASE, at(minutes=30))],
            "queued",
            id="released back to the queue",
        ),
        pytest.param(
            [FIRST, assigned(CASE, at(minutes=9)), transferred(CASE, at(minutes=20), None)],
            "queued",
            id="transferred to a queue",
        ),
        pytest.param(
            [FIRST, queued(CASE, at(minutes=9)), transferred(CASE, at(minutes=20), "agent-bia")],
            "assigned",
            id="transferred to an agent",
        ),
        pytest.param(
            [FIRST, assigned(CASE, at(minutes=9)), agent_replied(CASE, at(minutes=15))],
            "waiting_on_citizen",
            id="an agent replied",
        ),
        pytest.param(
            [FIRST, put_on_hold(CASE, at(hours=1), "documents_pending")],
            "on_hold",
            id="put on hold",
        ),
        pytest.param(
            [
                FIRST,
                assigned(CASE, at(minutes=9)),
                put_on_hold(CASE, at(hours=1), "external"),
                resumed_by_agent(CASE, at(days=2)),
            ],
            "assigned",
            id="resumed by the agent",
        ),
        pytest.param(
            [FIRST, closed_by_agent(CASE, at(hours=1), "resolved")], "closed", id="closed"
        ),
    ],
)
def test_each_fact_moves_the_case_to_its_status(history: list[Input], expected: str) -> None:
    assert status(given(*history)) == expected


@pytest.mark.parametrize(
    "fact",
    [
        triaged(CASE, at(minutes=3)),
        queued(CASE, at(minutes=4)),
        assigned(CASE, at(minutes=9)),
        agent_replied(CASE, at(minutes=15)),
        put_on_hold(CASE, at(hours=1), "documents_pending"),
        closed_by_agent(CASE, at(hours=1), "resolved"),
    ],
)
def test_facts_written_by_others_decide_nothing(fact: Input) -> None:
    assert decide(given(FIRST), fact, POLICY) == []


def test_routing_while_the_case_waits_on_the_citizen_keeps_it_waiting() -> None:
    state = given(FIRST, assigned(CASE, at(minutes=9)), agent_replied(CASE, at(minutes=15)))

    state, _ = handle(state, released(CASE, at(hours=1)), POLICY)

    assert state.case is not None
    assert (state.case.status, state.case.agent_id) == ("waiting_on_citizen", None)


def test_a_fact_for_an_older_case_of_the_contact_changes_nothing() -> None:
    old = case_id_for(received(0))
    state = given(FIRST)

    after, outputs = handle(state, assigned(old, at(minutes=9)), POLICY)

    assert (after, outputs) == (state, [])


def test_a_release_by_an_agent_who_no_longer_holds_the_case_changes_nothing() -> None:
    state = given(FIRST, assigned(CASE, at(minutes=9), agent_id="agent-bia"))

    after, _ = handle(state, released(CASE, at(hours=1), agent_id="agent-ana"), POLICY)

    assert after == state


def test_facts_after_the_case_closed_change_nothing() -> None:
    state = given(FIRST, closed_by_agent(CASE, at(hours=1), "resolved"))

    after, _ = handle(state, assigned(CASE, at(hours=2)), POLICY)

    assert after == state


def test_a_redelivered_fact_is_applied_once() -> None:
    fact = assigned(CASE, at(minutes=9))
    state = given(FIRST, fact, agent_replied(CASE, at(minutes=15)))

    after, _ = handle(state, fact, POLICY)

    assert after == state
