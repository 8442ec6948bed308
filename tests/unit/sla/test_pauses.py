"""Clocks stop counting while the case waits on the citizen or is on hold, and only then."""

from __future__ import annotations

from schemas.events import SlaMet, SlaPaused, SlaResumed, SlaStarted
from streams.sla.clocks import Input
from streams.sla.domain import next_deadline

from .builders import (
    HOUR,
    URGENT,
    clock_of,
    given,
    held,
    local,
    names,
    one,
    only,
    opened,
    queued,
    replied,
    resumed,
    sp,
    tick,
    when,
    wrote,
)

OPENED: list[Input] = [opened(sp(3, 2, 9)), queued(sp(3, 2, 9))]  # a normal case, Monday 09:00


def test_a_hold_pauses_the_clocks_and_they_count_nothing_while_held() -> None:
    state, paused = when(given(*OPENED), [held(sp(3, 2, 10), "documents_pending")])

    assert [
        (e.metric, e.pause_reason, e.elapsed_ms, e.deadline_at) for e in only(SlaPaused, paused)
    ] == [
        ("first_response", "documents_pending", 1 * HOUR, None),
        ("resolution", "documents_pending", 1 * HOUR, None),
    ]
    assert next_deadline(state) is None
    state, during = when(state, [tick(sp(3, 3, 17)), tick(sp(3, 4, 9, 59))])
    assert during == []

    _, outputs = when(state, [resumed(sp(3, 4, 10))])

    first = one(SlaResumed, outputs, "first_response")
    assert (first.elapsed_ms, first.paused_ms) == (1 * HOUR, 48 * HOUR)
    assert local(first.deadline_at) == local(sp(3, 4, 17))  # the 6h left, from Wednesday 10:00


def test_a_hold_for_a_reason_the_policy_does_not_pause_for_keeps_counting() -> None:
    # Urgent queues keep counting while the case waits on a court ('external').
    state = given(opened(sp(3, 7, 23, 50)), queued(sp(3, 7, 23, 50), URGENT, "urgent"))

    state, on_hold = when(state, [held(sp(3, 7, 23, 55), "external")])
    _, later = when(state, [tick(sp(3, 8, 0, 5))])

    assert on_hold == []
    assert names(later) == ["SlaWarned", "SlaBreached"]


def test_an_agent_reply_meets_the_first_response_and_leaves_the_case_waiting_on_the_citizen() -> (
    None
):
    state, outputs = when(given(*OPENED), [replied(sp(3, 2, 10))])

    assert names(outputs) == ["SlaMet", "SlaPaused"]
    met = one(SlaMet, outputs)
    assert (met.metric, met.within_target, met.elapsed_ms) == ("first_response", True, 1 * HOUR)
    paused = one(SlaPaused, outputs)
    assert (paused.metric, paused.pause_reason) == ("resolution", "waiting_on_citizen")

    message = wrote(sp(3, 2, 14))
    _, outputs = when(state, [message])

    assert names(outputs) == ["SlaResumed", "SlaStarted"]
    assert one(SlaResumed, outputs).paused_ms == 4 * HOUR
    started = one(SlaStarted, outputs)
    assert (started.metric, started.clock_id) == (
        "next_response",
        clock_of("next_response", message.event_id),
    )
    assert local(started.deadline_at) == local(sp(3, 3, 14))  # 14-17 today, 09-12 and 13-14


def test_the_next_response_counts_from_the_oldest_unanswered_message() -> None:
    state = given(*OPENED, replied(sp(3, 2, 10)))

    state, outputs = when(state, [wrote(sp(3, 2, 11), 1), wrote(sp(3, 2, 11, 30), 2)])
    _, answered = when(state, [replied(sp(3, 2, 14), n=1)])

    assert names(outputs) == ["SlaResumed", "SlaStarted"]  # the second message starts nothing
    met = one(SlaMet, answered, "next_response")
    assert (met.within_target, met.elapsed_ms) == (True, 2 * HOUR)  # 11-12 and 13-14


def test_a_next_response_across_good_friday() -> None:
    # Thursday 2 Apr 16:30-17:00 (30 min), Good Friday and the weekend closed, Monday
    # 09:00-12:00 and 13:00-14:30 reach the warning (5h), 16:30 the target (7h).
    state = given(opened(sp(4, 2, 9)), queued(sp(4, 2, 9)), replied(sp(4, 2, 10)))

    state, _ = when(state, [wrote(sp(4, 2, 16, 30))])
    _, outputs = when(state, [tick(sp(4, 7, 9))])

    assert [
        (type(e).__name__, local(e.occurred_at)) for e in outputs if e.metric == "next_response"
    ] == [
        ("SlaWarned", local(sp(4, 6, 14, 30))),
        ("SlaBreached", local(sp(4, 6, 16, 30))),
    ]


def test_a_citizen_writing_while_the_case_is_on_hold_does_not_resume_it() -> None:
    state = given(*OPENED, replied(sp(3, 2, 10)), held(sp(3, 2, 10, 30), "documents_pending"))

    state, outputs = when(state, [wrote(sp(3, 2, 11))])

    started = one(SlaStarted, outputs)
    assert names(outputs) == ["SlaStarted"]
    assert (started.metric, started.deadline_at) == ("next_response", None)  # starts paused

    _, outputs = when(state, [resumed(sp(3, 2, 11))])  # streams.cases resumes on the reply

    assert [(e.metric, e.paused_ms) for e in only(SlaResumed, outputs)] == [
        ("next_response", 0),
        ("resolution", 1 * HOUR),
    ]


def test_an_agent_reply_while_on_hold_meets_the_response_and_the_hold_goes_on() -> None:
    state = given(*OPENED, held(sp(3, 2, 10), "documents_pending"))

    state, outputs = when(state, [replied(sp(3, 2, 11))])

    assert names(outputs) == ["SlaMet"]
    assert one(SlaMet, outputs).elapsed_ms == 1 * HOUR  # the hour before the hold
    assert next_deadline(state) is None


def test_messages_from_the_bot_or_the_system_answer_nothing() -> None:
    state = given(*OPENED)

    after, outputs = when(
        state, [replied(sp(3, 2, 9, 5), "bot"), replied(sp(3, 2, 9, 6), "system")]
    )

    assert outputs == []
    assert after is not None
    assert after.clock("first_response") is not None
