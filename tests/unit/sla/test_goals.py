"""A clock stops when its goal is reached: the reply, or the case closing; a closed case is
forgotten, and a reopened one starts new clocks."""

from __future__ import annotations

from schemas.events import SlaMet, SlaStarted
from streams.sla.clocks import Input
from streams.sla.domain import next_deadline

from .builders import (
    HOUR,
    MINUTE,
    clock_of,
    closed,
    given,
    names,
    one,
    only,
    opened,
    queued,
    reopened,
    replied,
    sp,
    tick,
    when,
    wrote,
)

OPENED: list[Input] = [opened(sp(3, 2, 9)), queued(sp(3, 2, 9))]  # a normal case, Monday 09:00


def test_met_stops_the_clock() -> None:
    state, outputs = when(given(*OPENED), [replied(sp(3, 2, 9, 20))])

    met = one(SlaMet, outputs)
    assert (met.clock_id, met.within_target, met.elapsed_ms) == (
        clock_of("first_response"),
        True,
        20 * MINUTE,
    )
    assert met.deadline_at is None
    assert state is not None
    assert state.clock("first_response") is None
    _, later = when(state, [tick(sp(3, 3, 17))])
    assert [e for e in later if e.metric == "first_response"] == []


def test_a_reply_after_the_breach_is_met_late() -> None:
    state = given(*OPENED, tick(sp(3, 2, 17)))

    _, outputs = when(state, [replied(sp(3, 3, 10))])

    met = one(SlaMet, outputs)
    assert (met.within_target, met.elapsed_ms) == (False, 8 * HOUR)


def test_closing_the_case_meets_every_clock_and_forgets_the_case() -> None:
    state = given(*OPENED, replied(sp(3, 2, 10)), wrote(sp(3, 2, 11)))

    state, outputs = when(state, [closed(sp(3, 2, 15))])

    assert [(e.metric, e.within_target, e.elapsed_ms) for e in only(SlaMet, outputs)] == [
        ("next_response", True, 3 * HOUR),  # 11-12 and 13-15
        ("resolution", True, 4 * HOUR),  # 09-10 and 11-12, 13-15; not the hour it waited
    ]
    assert state is None
    assert next_deadline(state) is None


def test_events_of_a_closed_case_keep_nothing() -> None:
    state = given(*OPENED, closed(sp(3, 2, 10)))

    after, outputs = when(state, [tick(sp(3, 9, 9)), wrote(sp(3, 2, 11)), replied(sp(3, 2, 12))])

    assert (state, after, outputs) == (None, None, [])


def test_a_case_closed_after_its_breach_is_met_late() -> None:
    _, outputs = when(given(*OPENED), [closed(sp(3, 3, 10))])

    assert names(outputs) == ["SlaWarned", "SlaBreached", "SlaMet", "SlaMet"]
    assert [(e.metric, e.within_target) for e in only(SlaMet, outputs)] == [
        ("first_response", False),
        ("resolution", True),
    ]


def test_a_case_reopened_by_the_citizen_starts_a_new_resolution_and_a_next_response() -> None:
    closing = sp(3, 2, 15)
    message = wrote(sp(3, 4, 10), 7)
    state = given(*OPENED, replied(sp(3, 2, 10)), closed(closing), message)
    reopening = reopened(sp(3, 4, 10), closing, message.event_id)

    state, outputs = when(state, [reopening])

    assert [(e.metric, e.clock_id) for e in only(SlaStarted, outputs)] == [
        ("next_response", clock_of("next_response", message.event_id)),
        ("resolution", clock_of("resolution", reopening.event_id)),
    ]
    assert clock_of("resolution", reopening.event_id) != clock_of("resolution")  # a new run
    assert all(e.correlation_id == reopening.correlation_id for e in outputs)
    _, answered = when(state, [replied(sp(3, 4, 11))])
    assert [(e.metric, e.elapsed_ms) for e in only(SlaMet, answered)] == [("next_response", HOUR)]


def test_a_case_reopened_by_an_agent_starts_only_a_resolution_clock() -> None:
    closing = sp(3, 2, 15)
    state = given(*OPENED, closed(closing))

    _, outputs = when(state, [reopened(sp(3, 3, 10), closing, None)])

    assert [e.metric for e in only(SlaStarted, outputs)] == ["resolution"]
