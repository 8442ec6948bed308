"""Each queue's rule picks the agent a user of these systems expects."""

from __future__ import annotations

from streams.routing.claims import ClaimRefused, claim
from streams.routing.config import parse_config
from streams.routing.domain import handle, replay

from .builders import (
    CONFIG,
    OFFICE,
    after,
    assignments,
    at,
    capacity,
    closed,
    given,
    online,
    only_decision,
    presence,
    triaged,
    when,
)


def test_load_balancing_picks_the_agent_with_fewest_open_cases() -> None:
    state = given(online("ana", "bia", "caio"), triaged("c1"), triaged("c2"), triaged("c3"))

    outputs = when(state, triaged("c4", minute=1))

    assert assignments(outputs) == [("c4", "ana")]  # 1, 1, 1 open: the tie goes by agent_id
    decision = only_decision(outputs)
    assert decision.rule == "load_balancing"
    assert decision.reason == "least_loaded"
    assert [c.agent_id for c in decision.candidates] == ["ana", "bia", "caio"]


def test_load_balancing_never_goes_above_capacity() -> None:
    state = given(online("ana", "bia"), capacity("bia", 1), triaged("c1"), triaged("c2"))
    # ana has c1, bia has c2 and is full
    outputs = when(state, triaged("c3", minute=1))

    assert assignments(outputs) == [("c3", "ana")]
    full = {c.agent_id: c for c in only_decision(outputs).candidates}["bia"]
    assert (full.eligible, full.reason_excluded, full.open_cases, full.capacity) == (
        False,
        "at_capacity",
        1,
        1,
    )


def test_longest_idle_picks_the_agent_routed_to_longest_ago() -> None:
    state = given(
        online("ana", "bia"),
        triaged("c1", "saude", minute=1),  # ana (never routed: first of all)
        triaged("c2", "saude", minute=2),  # bia
        closed("c1", minute=3),
        closed("c2", minute=3),
    )

    outputs = when(state, triaged("c3", "saude", minute=4))

    assert assignments(outputs) == [("c3", "ana")]
    decision = only_decision(outputs)
    assert (decision.rule, decision.reason) == ("longest_idle", "longest_idle")
    assert [(c.agent_id, c.last_assigned_at) for c in decision.candidates if c.eligible] == [
        ("ana", at(1)),
        ("bia", at(2)),
    ]


def test_round_robin_cycles_through_the_available_agents() -> None:
    state = given(online("ana", "bia", "caio"))
    chosen = []
    for n in range(4):
        state, outputs = handle(state, triaged(f"c{n}", "consumidor", minute=n), CONFIG)
        chosen += [agent for _, agent in assignments(outputs)]
        state, _ = handle(state, closed(f"c{n}", minute=n), CONFIG)

    assert chosen == ["ana", "bia", "caio", "ana"]


def test_manual_queue_waits_for_an_agent_to_claim_the_case() -> None:
    state = given(online("ana"))

    outputs = when(state, triaged("c1", "other"))

    decision = only_decision(outputs)
    assert (decision.rule, decision.chosen_agent_id, decision.reason) == (
        "manual",
        None,
        "manual_queue",
    )
    assert assignments(outputs) == []
    later = given(online("ana"), triaged("c1", "other"), online("bia", minute=1))
    assert "c1" in later.waiting  # agents coming online do not take manual cases


def test_an_agent_claims_a_case_from_a_manual_queue() -> None:
    state = given(online("ana"), triaged("c1", "other", minute=0))

    outputs = claim(state, "c1", "ana", at(5), CONFIG, command_id="cmd-1", correlation_id="k")

    assert not isinstance(outputs, ClaimRefused)
    assert assignments(outputs) == [("c1", "ana")]
    decision = only_decision(outputs)
    assert (decision.rule, decision.reason, decision.waited_ms) == (
        "manual",
        "manual_take",
        300_000,
    )


def test_a_claim_is_refused_with_the_reason() -> None:
    state = given(online("ana", "bia"), capacity("bia", 0), triaged("c1", "other"))

    def refusal(case_id: str, agent_id: str) -> str:
        result = claim(state, case_id, agent_id, at(1), CONFIG, command_id="x", correlation_id="k")
        assert isinstance(result, ClaimRefused)
        return result.reason

    assert refusal("nope", "ana") == "not_waiting"
    assert refusal("c1", "bia") == "over_capacity"
    assert refusal("c1", "vd-spec") == "not_eligible"


def test_skill_filter_only_routes_to_agents_with_the_skill() -> None:
    state = given(online("ana", "bia"), triaged("c0", "familia"), triaged("x", "familia"))
    # ana and bia each hold one case; only bia speaks Spanish
    outputs = when(state, triaged("c1", "previdencia", minute=1))

    assert assignments(outputs) == [("c1", "bia")]
    ana = {c.agent_id: c for c in only_decision(outputs).candidates}["ana"]
    assert (ana.eligible, ana.reason_excluded) == (False, "missing_skill:lang:es")


def test_a_case_needing_a_skill_nobody_available_has_waits() -> None:
    state = given(online("ana", "caio"))

    outputs = when(state, triaged("c1", "previdencia"))

    decision = only_decision(outputs)
    assert (decision.chosen_agent_id, decision.reason) == (None, "no_agent_available")
    assert [c.reason_excluded for c in decision.candidates] == [
        "missing_skill:lang:es",
        "presence:offline",
        "missing_skill:lang:es",
    ]


def test_sticky_sends_a_returning_citizen_to_their_last_agent() -> None:
    state = given(
        online("ana", "bia", "caio"),
        triaged("c1", "moradia", subject_id="maria"),  # ana
        closed("c1", minute=1),
        triaged("c2", "moradia", minute=2),  # ana
        triaged("c3", "moradia", minute=2),  # bia
    )
    # caio is the least loaded, but maria talked to ana last

    outputs = when(state, triaged("c4", "moradia", subject_id="maria", minute=3))

    assert assignments(outputs) == [("c4", "ana")]
    decision = only_decision(outputs)
    assert (decision.rule, decision.reason) == ("sticky", "sticky_agent_available")
    assert decision.candidates[0].agent_id == "ana"


def test_sticky_falls_back_to_the_rule_when_the_last_agent_is_away() -> None:
    state = given(
        online("ana", "bia"),
        triaged("c1", "moradia", subject_id="maria"),  # ana
        closed("c1", minute=1),
        presence("ana", "away", minute=2),
    )

    outputs = when(state, triaged("c2", "moradia", subject_id="maria", minute=3))

    assert assignments(outputs) == [("c2", "bia")]
    assert only_decision(outputs).rule == "load_balancing"


def test_sticky_is_only_for_queues_that_ask_for_it() -> None:
    state = given(
        online("ana", "bia"),
        triaged("c1", "familia", subject_id="maria"),  # ana
        triaged("c2", "familia", minute=1),  # bia
        triaged("c3", "familia", minute=1),  # ana (tie)
        closed("c1", minute=2),
    )
    # ana 1 open, bia 1 open; the balanced queue ignores maria's history
    outputs = when(state, triaged("c4", "familia", subject_id="maria", minute=3))

    assert only_decision(outputs).rule == "load_balancing"


def test_a_sticky_manual_queue_routes_a_returning_citizen_and_leaves_the_rest_to_claims() -> None:
    office = parse_config(
        {
            **OFFICE,
            "queues": [
                {**q, "sticky": True} if q["queue_id"] == "manual" else q for q in OFFICE["queues"]
            ],
        },
        source="tests",
    )
    state = given(online("ana", "bia"), triaged("c1", "other", subject_id="maria"), config=office)
    taken = claim(state, "c1", "bia", at(1), office, command_id="cmd", correlation_id="k")
    assert not isinstance(taken, ClaimRefused)
    state = after(replay(taken, state), closed("c1", minute=2), config=office)  # bia had it

    returning = when(state, triaged("c2", "other", subject_id="maria", minute=3), office)
    stranger = when(state, triaged("c3", "other", subject_id="joao", minute=3), office)

    assert assignments(returning) == [("c2", "bia")]
    assert only_decision(returning).rule == "sticky"
    assert only_decision(stranger).reason == "manual_queue"
