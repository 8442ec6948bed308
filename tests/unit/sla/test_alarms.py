"""Warnings and breaches: each once, at its own instant, whenever the tick that finds it comes."""

from __future__ import annotations

from datetime import timedelta

from schemas.events import SlaBreached, SlaMet, SlaWarned
from streams.sla.clocks import Input
from streams.sla.domain import handle, next_deadline

from .builders import (
    HOUR,
    POLICY,
    clock_of,
    given,
    local,
    names,
    one,
    opened,
    queued,
    replied,
    sp,
    tick,
    when,
)

# A normal case opened Monday 09:00: first response warned at 5h of office time (15:00),
# breached at 7h (17:00).
OPENED: list[Input] = [opened(sp(3, 2, 9)), queued(sp(3, 2, 9))]
WARN = sp(3, 2, 15)
BREACH = sp(3, 2, 17)
MICRO = timedelta(microseconds=1)


def test_a_clock_warns_before_it_breaches() -> None:
    state = given(*OPENED)

    state, before = when(state, [tick(WARN - MICRO)])
    state, warned = when(state, [tick(WARN)])
    state, between = when(state, [tick(BREACH - MICRO)])
    _, breached = when(state, [tick(BREACH)])

    assert (before, between) == ([], [])
    assert names(warned) == ["SlaWarned"]
    warning = one(SlaWarned, warned)
    assert (warning.clock_id, local(warning.occurred_at)) == (
        clock_of("first_response"),
        local(WARN),
    )
    assert (warning.elapsed_ms, warning.warning_ms, warning.target_ms) == (
        5 * HOUR,
        5 * HOUR,
        7 * HOUR,
    )
    assert warning.deadline_at == BREACH
    assert names(breached) == ["SlaBreached"]


def test_the_breach_is_at_the_deadline_instant_itself() -> None:
    _, outputs = when(given(*OPENED, tick(WARN)), [tick(BREACH)])

    breach = one(SlaBreached, outputs)
    assert breach.occurred_at == BREACH
    assert breach.elapsed_ms == breach.target_ms == 7 * HOUR
    assert breach.deadline_at is None


def test_a_late_tick_emits_the_warning_and_the_breach_at_their_own_instants() -> None:
    late = tick(sp(3, 3, 10))

    _, outputs = when(given(*OPENED), [late])

    assert [(type(e).__name__, e.occurred_at) for e in outputs] == [
        ("SlaWarned", WARN),
        ("SlaBreached", BREACH),
    ]
    assert all(e.causation_id == late.event_id for e in outputs)
    assert one(SlaBreached, outputs).elapsed_ms == 7 * HOUR  # not the 8h the tick sees


def test_a_clock_breaches_once() -> None:
    state = given(*OPENED, tick(BREACH))

    _, outputs = when(state, [tick(sp(3, 3, 10)), tick(sp(3, 4, 10))])

    assert outputs == []


def test_any_event_at_or_after_the_instant_emits_what_is_due_before_its_own_effect() -> None:
    _, outputs = when(given(*OPENED), [replied(sp(3, 2, 17, 30))])

    assert names(outputs) == ["SlaWarned", "SlaBreached", "SlaMet", "SlaPaused"]
    met = one(SlaMet, outputs)
    assert (met.metric, met.within_target, met.elapsed_ms) == ("first_response", False, 7 * HOUR)


def test_next_deadline_is_the_earliest_alarm_still_to_ring() -> None:
    state = given(*OPENED)
    assert next_deadline(state) == WARN

    state = given(*OPENED, tick(WARN))
    assert next_deadline(state) == BREACH

    state = given(*OPENED, replied(sp(3, 2, 10)))  # first response met; resolution paused
    assert next_deadline(state) is None

    assert next_deadline(None) is None


def test_a_tick_with_nothing_due_changes_nothing() -> None:
    state = given(*OPENED)

    after, outputs = handle(state, tick(WARN - MICRO), POLICY)

    assert after is state
    assert outputs == []


def test_a_redelivered_tick_emits_nothing_twice() -> None:
    state, first = when(given(*OPENED), [tick(BREACH)])

    _, again = when(state, [tick(BREACH)])

    assert names(first) == ["SlaWarned", "SlaBreached"]
    assert again == []
