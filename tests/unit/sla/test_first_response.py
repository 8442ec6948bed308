"""The first-response clock counts office time only: weekends, holidays and lunch do not count,
and urgent queues count every minute."""

from __future__ import annotations

from datetime import datetime

import pytest

from schemas.events import Priority, SlaBreached, SlaStarted, SlaWarned
from streams.sla.clocks import Input

from .builders import (
    GENERAL,
    HOUR,
    MINUTE,
    URGENT,
    clock_of,
    given,
    local,
    one,
    opened,
    queued,
    sp,
    tick,
    when,
)


def first_response_alarms(*history: Input) -> list[tuple[str, datetime | None]]:
    """The first-response warning and breach, as a tick long after both would emit them."""
    _, outputs = when(given(*history), [tick(sp(12, 31))])
    return [
        (type(e).__name__, local(e.occurred_at))
        for e in outputs
        if isinstance(e, SlaWarned | SlaBreached) and e.metric == "first_response"
    ]


def a_case(at: datetime, queue_id: str = GENERAL, priority: Priority = "normal") -> list[Input]:
    """A case opened and queued at the same instant."""
    return [opened(at), queued(at, queue_id, priority)]


def test_opening_a_case_starts_its_first_response_and_resolution_clocks() -> None:
    _, outputs = when(None, [opened(sp(3, 2, 9))])

    started = [e for e in outputs if isinstance(e, SlaStarted)]
    assert [(e.metric, e.clock_id) for e in started] == [
        ("first_response", clock_of("first_response")),
        ("resolution", clock_of("resolution")),
    ]
    first = started[0]
    assert (first.queue_id, first.priority, first.calendar_id) == ("*", "unknown", "office-hours")
    assert (first.target_ms, first.elapsed_ms) == (7 * HOUR, 0)
    assert local(first.deadline_at) == local(sp(3, 2, 17))  # a whole business day: 09-12, 13-17


def test_a_normal_case_opened_on_friday_afternoon_is_due_on_monday() -> None:
    # Friday 16:00-17:00 counts 1h; Monday 09:00-12:00 3h more; 13:00-16:00 the last 3h.
    assert first_response_alarms(*a_case(sp(3, 6, 16))) == [
        ("SlaWarned", local(sp(3, 9, 14))),
        ("SlaBreached", local(sp(3, 9, 16))),
    ]


def test_carnival_and_ash_wednesday_morning_do_not_count() -> None:
    # Friday 13 Feb 16:00-17:00 (1h); Carnival Monday and Tuesday closed; Ash Wednesday opens
    # at noon, so 13:00-17:00 (4h, the warning at 5h); Thursday 09:00-11:00 the last 2h.
    assert first_response_alarms(*a_case(sp(2, 13, 16))) == [
        ("SlaWarned", local(sp(2, 18, 17))),
        ("SlaBreached", local(sp(2, 19, 11))),
    ]


def test_good_friday_does_not_count() -> None:
    # Thursday 2 Apr 15:00-17:00 (2h); Good Friday and the weekend closed; Monday 09:00-12:00
    # reaches the warning (5h) at noon, and 13:00-15:00 the target.
    assert first_response_alarms(*a_case(sp(4, 2, 15))) == [
        ("SlaWarned", local(sp(4, 6, 12))),
        ("SlaBreached", local(sp(4, 6, 15))),
    ]


def test_the_lunch_break_does_not_count() -> None:
    # An urgent case in a general queue: 30 minutes, warned 10 minutes before. Opened at
    # 11:45, it counts 15 minutes to noon and the other 15 after lunch.
    assert first_response_alarms(*a_case(sp(3, 2, 11, 45), priority="urgent")) == [
        ("SlaWarned", local(sp(3, 2, 13, 5))),
        ("SlaBreached", local(sp(3, 2, 13, 15))),
    ]


def test_a_case_opened_at_night_counts_from_the_opening_of_the_office() -> None:
    assert first_response_alarms(*a_case(sp(3, 2, 3))) == [
        ("SlaWarned", local(sp(3, 2, 15))),
        ("SlaBreached", local(sp(3, 2, 17))),  # the day is full at closing, not next morning
    ]


def test_an_urgent_queue_counts_calendar_time_on_a_saturday_night() -> None:
    history = a_case(sp(3, 7, 23, 50), URGENT, "urgent")

    assert first_response_alarms(*history) == [
        ("SlaWarned", local(sp(3, 8, 0, 0))),
        ("SlaBreached", local(sp(3, 8, 0, 5))),
    ]
    _, outputs = when(given(*history), [tick(sp(3, 8, 1))])
    breached = one(SlaBreached, outputs, "first_response")
    assert (breached.queue_id, breached.priority) == (URGENT, "urgent")
    assert breached.calendar_id is None  # the schema's word for calendar time
    assert (breached.target_ms, breached.elapsed_ms) == (15 * MINUTE, 15 * MINUTE)


@pytest.mark.parametrize(
    ("priority", "breach"),
    [
        pytest.param("urgent", sp(3, 2, 9, 30), id="urgent: 30 minutes"),
        pytest.param("high", sp(3, 2, 11), id="high: 2 hours"),
        pytest.param("normal", sp(3, 2, 17), id="normal: 1 business day"),
        pytest.param("low", sp(3, 3, 17), id="low: 2 business days"),
    ],
)
def test_each_priority_has_its_own_target(priority: Priority, breach: datetime) -> None:
    alarms = first_response_alarms(*a_case(sp(3, 2, 9), priority=priority))

    assert alarms[-1] == ("SlaBreached", local(breach))
