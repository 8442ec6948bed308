"""A clock's terms follow the case's queue and priority and the policy in force; a change
applies from its instant on, keeping the time counted so far."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events import Priority, SlaBreached, SlaMetric, SlaWarned
from streams.sla.clocks import Input
from streams.sla.domain import handle, next_deadline
from streams.sla.policy import apply_change

from .builders import (
    HOUR,
    MINUTE,
    POLICY,
    URGENT,
    given,
    held,
    local,
    one,
    opened,
    policy_changed,
    queued,
    sp,
    tick,
    transferred,
    triaged,
    when,
)

OPENED: list[Input] = [opened(sp(3, 2, 9)), queued(sp(3, 2, 9))]  # a normal case, Monday 09:00


def targets_with(
    priority: Priority, metric: SlaMetric, target_ms: int, warning_ms: int
) -> list[tuple[Priority, SlaMetric, int, int]]:
    """Every target of the default queue's policy, one of them changed: a change replaces
    the queue's targets as a whole."""
    found: list[tuple[Priority, SlaMetric, int, int]] = []
    for (p, m), terms in POLICY.for_queue("*").targets.items():
        if (p, m) == (priority, metric):
            found.append((p, m, target_ms, warning_ms))
        else:
            found.append((p, m, terms.target_us // 1000, terms.warning_us // 1000))
    return found


FOUR_HOURS = policy_changed(
    sp(3, 2, 11), targets_with("normal", "first_response", 4 * HOUR, 3 * HOUR)
)


def alarms(outputs: Sequence[object], metric: str = "first_response") -> list[tuple[str, object]]:
    return [
        (type(e).__name__, local(e.occurred_at))
        for e in outputs
        if isinstance(e, SlaWarned | SlaBreached) and e.metric == metric
    ]


def test_triage_sets_the_priority_and_the_counted_time_is_kept() -> None:
    state = given(opened(sp(3, 2, 9)))  # not triaged yet: a normal day's target

    state, outputs = when(state, [triaged(sp(3, 2, 9, 10), "urgent")])

    assert outputs == []
    assert next_deadline(state) == sp(3, 2, 9, 20)  # 30 min in all, 10 of them gone
    _, later = when(state, [tick(sp(3, 2, 12))])
    breach = one(SlaBreached, later, "first_response")
    assert (breach.priority, breach.target_ms, breach.elapsed_ms) == (
        "urgent",
        30 * MINUTE,
        30 * MINUTE,
    )
    assert local(breach.occurred_at) == local(sp(3, 2, 9, 30))


def test_moving_to_an_urgent_queue_counts_calendar_time_and_warns_at_once_if_late() -> None:
    # Opened Friday 16:50 on office hours: 10 minutes counted by closing time. Queued as
    # urgent at 17:10, the 15-minute target on calendar time leaves 5 minutes, and the
    # warning (at 10 minutes) is already due: it is emitted at the change, not before it.
    state = given(opened(sp(3, 6, 16, 50)))

    state, outputs = when(state, [queued(sp(3, 6, 17, 10), URGENT, "urgent")])

    warned = one(SlaWarned, outputs, "first_response")
    assert (local(warned.occurred_at), warned.elapsed_ms) == (local(sp(3, 6, 17, 10)), 10 * MINUTE)
    assert (warned.queue_id, warned.calendar_id, warned.policy_id) == (URGENT, None, "urgente")
    assert local(warned.deadline_at) == local(sp(3, 6, 17, 15))


def test_a_policy_change_mid_clock_keeps_the_time_counted_and_moves_the_deadline() -> None:
    # 2h counted by 11:00; the new target is 4h (warning at 3h): noon and 14:00.
    state, outputs = when(given(*OPENED), [FOUR_HOURS])

    assert outputs == []
    assert next_deadline(state) == sp(3, 2, 12)
    _, later = when(state, [tick(sp(3, 2, 18))])
    assert alarms(later) == [
        ("SlaWarned", local(sp(3, 2, 12))),
        ("SlaBreached", local(sp(3, 2, 14))),
    ]
    breach = one(SlaBreached, later, "first_response")
    assert (breach.policy_version, breach.target_ms, breach.elapsed_ms) == (2, 4 * HOUR, 4 * HOUR)


def test_a_policy_change_below_the_time_counted_breaches_at_the_change() -> None:
    shorter = policy_changed(
        sp(3, 2, 11), targets_with("normal", "first_response", HOUR, 30 * MINUTE)
    )

    _, outputs = when(given(*OPENED), [shorter])

    assert [(type(e).__name__, local(e.occurred_at), e.elapsed_ms) for e in outputs] == [
        ("SlaWarned", local(sp(3, 2, 11)), 2 * HOUR),
        ("SlaBreached", local(sp(3, 2, 11)), 2 * HOUR),
    ]


def test_a_policy_change_below_the_time_counted_of_a_paused_clock_breaches_at_the_change() -> None:
    state = given(*OPENED, held(sp(3, 2, 11), "documents_pending"))  # paused at 2h
    shorter = policy_changed(
        sp(3, 2, 14), targets_with("normal", "first_response", HOUR, 30 * MINUTE)
    )

    state, outputs = when(state, [shorter])

    assert [(type(e).__name__, local(e.occurred_at), e.elapsed_ms) for e in outputs] == [
        ("SlaWarned", local(sp(3, 2, 14)), 2 * HOUR),
        ("SlaBreached", local(sp(3, 2, 14)), 2 * HOUR),
    ]
    assert next_deadline(state) is None  # still paused, nothing left to ring


def test_a_clock_whose_pair_loses_its_target_keeps_its_terms() -> None:
    state = given(*OPENED)
    before = next_deadline(state)
    without = policy_changed(sp(3, 2, 10), [("urgent", "first_response", HOUR, 30 * MINUTE)])

    state, outputs = when(state, [without])

    assert outputs == []
    assert next_deadline(state) == before


def test_a_transfer_to_an_urgent_queue_moves_the_clock_to_its_terms() -> None:
    # 1h counted by 10:00 on office hours; the urgent queue's normal target is 4h of
    # calendar time (warning at 3h): 12:00 and 13:00, lunch included.
    state = given(*OPENED)

    state, _ = when(state, [transferred(sp(3, 2, 10), URGENT)])
    _, later = when(state, [tick(sp(3, 2, 18))])

    assert alarms(later) == [
        ("SlaWarned", local(sp(3, 2, 12))),
        ("SlaBreached", local(sp(3, 2, 13))),
    ]
    assert one(SlaBreached, later, "first_response").calendar_id is None


def test_a_policy_change_does_not_judge_again_what_came_before_it() -> None:
    # Warned at 15:00 under the old terms; a longer target does not warn a second time.
    longer = policy_changed(
        sp(3, 2, 16), targets_with("normal", "first_response", 14 * HOUR, 7 * HOUR)
    )
    state = given(*OPENED, tick(sp(3, 2, 15)))

    state, outputs = when(state, [longer])
    _, later = when(state, [tick(sp(3, 4, 9))])

    assert outputs == []
    assert alarms(later) == [("SlaBreached", local(sp(3, 3, 17)))]


def test_a_policy_change_for_another_queue_changes_nothing() -> None:
    state = given(*OPENED)
    other = policy_changed(
        sp(3, 2, 11),
        [("normal", "first_response", HOUR, 30 * MINUTE)],
        queue_id=URGENT,
        policy_id="urgente",
    )

    after, outputs = handle(state, other, POLICY)

    assert outputs == []
    assert after is not None
    assert state is not None
    assert after.clocks == state.clocks


def test_a_redelivered_policy_change_is_a_no_op() -> None:
    state, _ = when(given(*OPENED), [FOUR_HOURS])

    after, outputs = handle(state, FOUR_HOURS, POLICY)

    assert outputs == []
    assert after is not None
    assert state is not None
    assert after.clocks == state.clocks


def test_the_change_folded_into_the_policy_by_the_shell_gives_the_same_outcome() -> None:
    state = given(*OPENED)

    assert handle(state, FOUR_HOURS, apply_change(POLICY, FOUR_HOURS)) == handle(
        state, FOUR_HOURS, POLICY
    )


def test_a_case_opened_after_a_change_runs_on_the_new_version() -> None:
    policy = apply_change(POLICY, FOUR_HOURS)

    state, outputs = when(None, [opened(sp(3, 3, 9)), queued(sp(3, 3, 9))], policy)
    _, later = when(state, [tick(sp(3, 3, 18))], policy)

    assert [(type(e).__name__, e.policy_version) for e in outputs] == [
        ("SlaStarted", 2),
        ("SlaStarted", 2),
    ]
    breach = one(SlaBreached, later, "first_response")
    assert (breach.policy_version, local(breach.occurred_at)) == (2, local(sp(3, 3, 14)))


def test_a_pair_without_a_target_has_no_clock() -> None:
    only_urgent = policy_changed(
        sp(3, 2, 8), [("urgent", "first_response", 30 * MINUTE, 20 * MINUTE)]
    )
    policy = apply_change(POLICY, only_urgent)

    _, outputs = when(None, [opened(sp(3, 3, 9))], policy)

    assert outputs == []  # not triaged yet: the policy sets no target for 'unknown'
