"""Agents' commands to the router: given the office's state, when an agent asks to transfer a
case or to change their presence or capacity, then the fact and the routing that follows, or
CommandRefused with the reason; each command once."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.envelope import derive_event_id
from schemas.events import (
    AgentCapacityChanged,
    AgentPresenceChanged,
    CaseTransferred,
    CommandRefused,
    RefusalReason,
)
from streams.routing.commands import MAX_CAPACITY
from streams.routing.domain import RouterInput, RouterOutput, RouterState, handle
from streams.routing.processor import ROUTER_KEY, RoutingCore

from .builders import (
    CONFIG,
    ask_capacity,
    ask_claim,
    ask_presence,
    ask_transfer,
    assignments,
    capacity,
    closed,
    given,
    online,
    only_decision,
    presence,
    queued,
    transferred,
    triaged,
    when,
)


def held_by_ana() -> RouterState:
    """Ana and Bia are online; a família case came in and went to Ana (least loaded, then by
    name)."""
    state = given(online("ana", "bia"), triaged("c1"))
    assert dict(state.assignments) == {"c1": "ana"}
    return state


def refusal(outputs: list[RouterOutput]) -> tuple[RefusalReason, str]:
    assert len(outputs) == 1, outputs
    refused = outputs[0]
    assert isinstance(refused, CommandRefused), refused
    return refused.reason, refused.detail


def contents(outputs: list[RouterOutput]) -> list[tuple[str, dict[str, Any]]]:
    """The outputs without what names their cause (ids, causation): what they say."""
    envelope = {"event_id", "causation_id", "routing_decision_id"}
    return [
        (e.NAME, {k: v for k, v in e.to_record().items() if k not in envelope}) for e in outputs
    ]


# -- TransferCase: accepted --------------------------------------------------------------------


def test_a_transfer_to_a_queue_is_accepted_and_the_case_routed_there() -> None:
    command = ask_transfer("c1", "ana", "spanish", note="fala só espanhol", minute=5)

    state, outputs = handle(held_by_ana(), command, CONFIG)

    moved = outputs[0]
    assert isinstance(moved, CaseTransferred)
    assert (moved.from_queue_id, moved.from_agent_id, moved.to_queue_id, moved.to_agent_id) == (
        "balanced",
        "ana",
        "spanish",
        None,
    )
    assert (moved.transferred_by_agent_id, moved.reason) == ("ana", "fala só espanhol")
    assert (moved.subject_id, moved.contact_id) == ("citizen-of-c1", "contact-of-c1")
    assert moved.event_id == derive_event_id(command.event_id, "streams.routing", "0")
    assert moved.causation_id == command.event_id
    assert [(q.queue_id, q.reason) for q in queued(outputs)] == [("spanish", "transferred")]
    assert assignments(outputs) == [("c1", "bia")]  # the Spanish speaker
    assert state.agents["ana"].open_cases == frozenset()


def test_an_accepted_transfer_routes_exactly_as_the_same_transfer_fact_would() -> None:
    command = ask_transfer("c1", "ana", "spanish", minute=5)
    fact = transferred("c1", from_queue="balanced", to_queue="spanish", from_agent="ana", minute=5)

    _, by_command = handle(held_by_ana(), command, CONFIG)
    _, by_fact = handle(held_by_ana(), fact, CONFIG)

    assert contents(by_command[1:]) == contents(by_fact)


def test_a_transfer_to_an_available_agent_with_room_assigns_the_case_to_them() -> None:
    state = given(online("ana", "bia", "caio"), triaged("c1"))  # ana

    after, outputs = handle(
        state, ask_transfer("c1", "ana", "balanced", to_agent="caio", minute=5), CONFIG
    )

    assert isinstance(outputs[0], CaseTransferred)
    assert outputs[0].to_agent_id == "caio"
    decision = only_decision(outputs)
    assert (decision.rule, decision.reason) == ("manual", "transfer_to_agent")
    assert assignments(outputs) == [("c1", "caio")]
    assert dict(after.assignments) == {"c1": "caio"}


# -- TransferCase: refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "command", "expected"),
    [
        pytest.param(
            held_by_ana(),
            ask_transfer("c9", "ana", "spanish"),
            ("no_such_case", "the router knows no open case c9"),
            id="no such case",
        ),
        pytest.param(
            given(online("ana"), triaged("c1"), closed("c1", minute=1)),
            ask_transfer("c1", "ana", "spanish", minute=2),
            ("case_closed", "case c1 is closed"),
            id="a closed case",
        ),
        pytest.param(
            held_by_ana(),
            ask_transfer("c1", "bia", "spanish"),
            ("not_your_case", "case c1 is held by agent ana"),
            id="another agent's case",
        ),
        pytest.param(
            given(triaged("c1")),
            ask_transfer("c1", "ana", "spanish"),
            ("not_your_case", "case c1 is held by nobody (it waits in balanced)"),
            id="a waiting case",
        ),
        pytest.param(
            held_by_ana(),
            ask_transfer("c1", "ana", "balanced", to_agent="ana"),
            ("invalid", "agent ana already holds case c1"),
            id="to oneself",
        ),
        pytest.param(
            held_by_ana(),
            ask_transfer("c1", "ana", "balanced", to_agent="zeca"),
            ("invalid", "no agent zeca in routing config test-1"),
            id="to an agent nobody knows",
        ),
        pytest.param(
            held_by_ana(),
            ask_transfer("c1", "ana", "balanced", to_agent="caio"),
            ("agent_offline", "agent caio is offline"),
            id="to an offline agent",
        ),
        pytest.param(
            given(online("ana", "bia"), presence("caio", "away"), triaged("c1")),
            ask_transfer("c1", "ana", "balanced", to_agent="caio"),
            ("agent_offline", "agent caio is away"),
            id="to an agent who is away",
        ),
        pytest.param(
            given(online("ana", "bia"), capacity("bia", 0), triaged("c1")),
            ask_transfer("c1", "ana", "balanced", to_agent="bia"),
            ("over_capacity", "agent bia is at capacity: 0 of 0 cases"),
            id="to an agent at capacity",
        ),
    ],
)
def test_a_transfer_is_refused_with_the_reason_and_changes_nothing(
    state: RouterState, command: RouterInput, expected: tuple[RefusalReason, str]
) -> None:
    after, outputs = handle(state, command, CONFIG)

    assert refusal(outputs) == expected
    assert (after.assignments, after.waiting, after.agents) == (
        state.assignments,
        state.waiting,
        state.agents,
    )


def test_a_transfer_to_a_queue_the_configuration_lacks_is_refused_not_dead_lettered() -> None:
    command = ask_transfer("c1", "ana", "nowhere", minute=5)

    reason, detail = refusal(when(held_by_ana(), command))

    assert reason == "unknown_queue"
    assert detail.startswith("no queue nowhere in routing config test-1; use one of: balanced")


def test_a_refusal_tells_the_agent_which_command_and_case() -> None:
    command = ask_transfer("c1", "bia", "spanish", minute=5)

    (refused,) = when(held_by_ana(), command)

    assert isinstance(refused, CommandRefused)
    assert (refused.command_id, refused.command, refused.agent_id) == (
        command.event_id,
        "TransferCase",
        "bia",
    )
    assert (refused.case_id, refused.contact_id) == ("c1", "contact-of-c1")
    assert refused.event_id == derive_event_id(command.event_id, "streams.routing", "0")
    assert (refused.occurred_at, refused.causation_id) == (command.occurred_at, command.event_id)


# -- ChangePresence ----------------------------------------------------------------------------


def test_an_agent_who_becomes_available_takes_a_waiting_case() -> None:
    state = given(triaged("c1"))  # nobody online: it waits

    outputs = when(state, ask_presence("ana", "available", minute=3))

    changed = outputs[0]
    assert isinstance(changed, AgentPresenceChanged)
    assert (changed.agent_id, changed.presence, changed.previous_presence) == (
        "ana",
        "available",
        None,  # her first presence
    )
    assert changed.changed_at == changed.occurred_at
    assert assignments(outputs) == [("c1", "ana")]


def test_a_presence_change_says_what_it_was_before() -> None:
    changed, *rest = when(held_by_ana(), ask_presence("ana", "away", minute=3))

    assert isinstance(changed, AgentPresenceChanged)
    assert (changed.previous_presence, changed.presence) == ("available", "away")
    assert rest == []  # away: keeps her case, takes no new one


def test_an_unknown_presence_is_refused_as_invalid() -> None:
    outputs = when(held_by_ana(), ask_presence("ana", "unknown"))

    assert refusal(outputs)[0] == "invalid"
    refused = outputs[0]
    assert isinstance(refused, CommandRefused)
    assert (refused.case_id, refused.contact_id) == (None, None)


# -- ChangeCapacity ----------------------------------------------------------------------------


def test_raising_capacity_lets_a_waiting_case_in() -> None:
    state = given(online("ana"), capacity("ana", 1), triaged("c1"), triaged("c2", minute=1))
    assert dict(state.assignments) == {"c1": "ana"}  # c2 waits

    outputs = when(state, ask_capacity("ana", 2, minute=2))

    changed = outputs[0]
    assert isinstance(changed, AgentCapacityChanged)
    assert (changed.capacity, changed.previous_capacity, changed.changed_by_agent_id) == (
        2,
        1,
        "ana",
    )
    assert assignments(outputs) == [("c2", "ana")]


def test_a_first_capacity_change_says_the_profiles_default_was_in_force() -> None:
    changed, *_ = when(held_by_ana(), ask_capacity("ana", 3))

    assert isinstance(changed, AgentCapacityChanged)
    assert changed.previous_capacity == 2


@pytest.mark.parametrize("value", [0, MAX_CAPACITY])
def test_a_capacity_from_zero_to_the_maximum_is_accepted(value: int) -> None:
    changed, *_ = when(held_by_ana(), ask_capacity("bia", value))

    assert isinstance(changed, AgentCapacityChanged)
    assert changed.capacity == value


@pytest.mark.parametrize("value", [-1, MAX_CAPACITY + 1])
def test_a_capacity_below_zero_or_above_the_maximum_is_refused_as_invalid(value: int) -> None:
    assert refusal(when(held_by_ana(), ask_capacity("bia", value))) == (
        "invalid",
        f"capacity must be between 0 and {MAX_CAPACITY}",
    )


# -- once each, on the router's stream ---------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(ask_transfer("c1", "ana", "spanish", minute=5), id="an accepted transfer"),
        pytest.param(ask_transfer("c1", "bia", "spanish", minute=5), id="a refused transfer"),
        pytest.param(ask_presence("caio", "available", minute=5), id="a presence"),
        pytest.param(ask_capacity("ana", 5, minute=5), id="a capacity"),
    ],
)
def test_a_redelivered_command_decides_nothing(command: RouterInput) -> None:
    state, first = handle(held_by_ana(), command, CONFIG)

    assert first
    assert handle(state, command, CONFIG) == (state, [])


def test_the_router_reads_the_commands_from_its_stream_under_its_one_key() -> None:
    core = RoutingCore(CONFIG)
    commands = (
        ask_transfer("c1", "ana", "spanish"),
        ask_presence("ana", "away"),
        ask_capacity("ana", 1),
    )

    assert {"TransferCase", "ChangePresence", "ChangeCapacity"} <= core.reads
    assert {core.key_of(c) for c in commands} == {ROUTER_KEY}


# -- ClaimCase -----------------------------------------------------------------------------


def test_an_agent_takes_a_case_from_a_manual_queue_by_command() -> None:
    state = given(online("ana"), triaged("c1", "other"))  # "other" goes to the manual queue

    outputs = when(state, ask_claim("c1", "ana", minute=5))

    assert assignments(outputs) == [("c1", "ana")]
    decision = only_decision(outputs)
    assert (decision.rule, decision.reason, decision.waited_ms) == (
        "manual",
        "manual_take",
        300_000,
    )
    after_claim, _ = handle(state, ask_claim("c1", "ana", minute=5), CONFIG)
    assert dict(after_claim.assignments) == {"c1": "ana"}
    assert "c1" not in after_claim.waiting


@pytest.mark.parametrize(
    ("facts", "case_id", "agent_id", "reason"),
    [
        ((online("ana"), triaged("c1", "other")), "c9", "ana", "no_such_case"),
        ((online("ana", "bia"), triaged("c1")), "c1", "bia", "not_waiting"),  # Ana holds it
        (
            (online("ana"), triaged("c1", "other"), closed("c1", minute=1)),
            "c1",
            "ana",
            "case_closed",
        ),
        ((online("ana"), capacity("ana", 0), triaged("c1", "other")), "c1", "ana", "over_capacity"),
        ((online("ana"), triaged("c1", "violencia_domestica")), "c1", "ana", "not_eligible"),
    ],
)
def test_a_claim_is_refused_with_the_reason_and_assigns_nothing(
    facts: tuple[RouterInput, ...], case_id: str, agent_id: str, reason: RefusalReason
) -> None:
    state = given(*facts)

    outputs = when(state, ask_claim(case_id, agent_id, minute=2))

    assert refusal(outputs)[0] == reason
    assert isinstance(outputs[0], CommandRefused)
    assert (outputs[0].command, outputs[0].case_id) == ("ClaimCase", case_id)


def test_a_redelivered_claim_assigns_once() -> None:
    state = given(online("ana"), triaged("c1", "other"))
    command = ask_claim("c1", "ana", minute=5)

    state, first = handle(state, command, CONFIG)
    _, again = handle(state, command, CONFIG)

    assert assignments(first) == [("c1", "ana")]
    assert again == []
