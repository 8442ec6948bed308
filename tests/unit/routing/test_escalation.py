"""Escalation: specialists for a while, then a wider pool, then supervisors; empty steps skipped.

The vd queue: specialists (2 min), then specialists and generalists (3 min), then supervisors.
vd-spec, vd-gen and vd-sup take one case each.
"""

from __future__ import annotations

from .builders import (
    after,
    assignments,
    given,
    online,
    only_decision,
    presence,
    tick,
    triaged,
    when,
)


def test_a_case_waits_for_busy_specialists_until_the_step_times_out() -> None:
    state = given(
        online("vd-spec", "vd-gen"),
        triaged("first", "violencia_domestica", minute=0, priority="urgent"),  # vd-spec, now full
        triaged("second", "violencia_domestica", minute=1, priority="urgent"),
    )
    waiting = state.waiting["second"]
    assert (waiting.step, dict(state.assignments)) == (0, {"first": "vd-spec"})

    assert when(state, tick(2.5)) == []  # 1.5 minutes at the specialists' step: still theirs
    outputs = when(state, tick(3))

    assert assignments(outputs) == [("second", "vd-gen")]
    decision = only_decision(outputs)
    assert (decision.escalation_step, decision.rule, decision.reason) == (
        1,
        "longest_idle",
        "longest_idle;timeout:specialists",
    )
    assert decision.waited_ms == 2 * 60_000


def test_a_step_with_nobody_available_is_skipped_at_once() -> None:
    state = given(online("vd-gen"))

    outputs = when(state, triaged("c1", "violencia_domestica", priority="urgent"))

    decision = only_decision(outputs)
    assert assignments(outputs) == [("c1", "vd-gen")]
    assert (decision.escalation_step, decision.reason) == (1, "longest_idle;skipped:specialists")


def test_supervisors_get_the_case_after_the_wider_pool_times_out() -> None:
    state = given(
        online("vd-spec", "vd-gen", "vd-sup"),
        triaged("a", "violencia_domestica", minute=0),  # vd-spec
        triaged("b", "violencia_domestica", minute=0),  # waits at step 0 (vd-spec is busy)
        tick(2),  # b: step 1, vd-gen takes it
        triaged("c", "violencia_domestica", minute=2.5),
        tick(4.5),  # c: step 1 after 2 min, nobody free there
    )
    assert dict(state.assignments) == {"a": "vd-spec", "b": "vd-gen"}
    assert state.waiting["c"].step == 1

    assert when(state, tick(7)) == []  # 2.5 minutes into step 1: not yet
    outputs = when(state, tick(7.5))

    assert assignments(outputs) == [("c", "vd-sup")]
    assert only_decision(outputs).reason == "longest_idle;timeout:wider"


def test_a_case_waiting_at_the_last_step_stays_there() -> None:
    state = given(triaged("c1", "violencia_domestica", priority="urgent"))

    decision = only_decision(when(given(), triaged("c1", "violencia_domestica")))
    assert (decision.escalation_step, decision.chosen_agent_id) == (2, None)
    assert decision.reason == "no_agent_available;skipped:specialists;skipped:wider"
    assert when(state, tick(60)) == []
    assert state.waiting["c1"].step == 2


def test_a_tick_skips_a_step_whose_agents_have_left() -> None:
    state = given(
        online("vd-spec", "vd-sup"),
        triaged("a", "violencia_domestica", minute=0),  # vd-spec
        triaged("b", "violencia_domestica", minute=0.5),  # waits for vd-spec
        presence("vd-spec", "offline", minute=1),
    )

    outputs = when(state, tick(1.5))

    assert assignments(outputs) == [("b", "vd-sup")]
    decision = only_decision(outputs)
    assert (decision.escalation_step, decision.reason) == (
        2,
        "longest_idle;skipped:specialists;skipped:wider",
    )


def test_escalation_without_an_agent_is_recorded_as_an_escalation_decision() -> None:
    state = given(
        online("vd-spec"),
        triaged("a", "violencia_domestica", minute=0),  # vd-spec
        triaged("b", "violencia_domestica", minute=0),  # waits
    )

    decision = only_decision(when(state, tick(2)))

    # the wider pool has vd-spec online (busy): it is waited for, not skipped
    assert (decision.rule, decision.chosen_agent_id, decision.escalation_step) == (
        "escalation",
        None,
        1,
    )
    assert decision.reason == "no_agent_available;timeout:specialists"
    later = after(state, tick(2))
    assert (later.waiting["b"].step, later.waiting["b"].step_started_at) == (1, tick(2).tick_at)
