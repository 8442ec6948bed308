"""A change of calendar through the log (`CalendarChanged`): from its instant on, clocks on
that calendar count in the new one; the time counted before stays as it was, nothing rung is
rung again, and the partition's context keeps the change (a restart restores it)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import pytest

from schemas.events import (
    Break,
    CalendarChanged,
    OpeningHours,
    SlaBreached,
    SlaStarted,
    SlaWarned,
)
from streams.shared import snapshots
from streams.shared.errors import BadInput
from streams.sla.calendar import Calendar, Closure, hours_on
from streams.sla.calendar_change import (
    CalendarChangeRefused,
    apply_calendar_change,
    calendar_changed,
)
from streams.sla.calendar_file import calendar_from_change
from streams.sla.clocks import CaseClocks
from streams.sla.domain import handle
from streams.sla.policy import apply_change
from streams.sla.processor import ContactClocks, PolicyContext, SlaCore

from . import builders as b

MONDAY_9 = b.sp(3, 2, 9)  # Monday 2 March 2026
MONDAY_10 = b.sp(3, 2, 10)
OFFICE = b.POLICY.calendars["office-hours"]


def office(version: int = 2, closed_on: tuple[date, ...] = ()) -> Calendar:
    """The office-hours calendar at `version`, closed all day on these dates."""
    closures = tuple(Closure(date=d, name="Ponte") for d in closed_on)
    return dataclasses.replace(OFFICE, version=version, closures=closures)


def change(cal: Calendar, when: datetime) -> CalendarChanged:
    return calendar_changed(cal, now=when, agent_id="sup-01")


MONDAY_CLOSED = change(office(closed_on=(date(2026, 3, 2),)), MONDAY_10)
AFTER = apply_calendar_change(b.POLICY, MONDAY_CLOSED)


def alarms(state: CaseClocks | None) -> dict[str, tuple[Any, Any]]:
    assert state is not None
    return {c.metric: (b.local(c.warn_at), b.local(c.breach_at)) for c in state.clocks}


def test_a_holiday_added_from_now_stops_counting_that_day_and_keeps_the_time_counted() -> None:
    # Given a normal case opened at 09:00 (first response: 7h, warned 2h before)
    state = b.given(b.opened(MONDAY_9), b.queued(MONDAY_9))
    assert alarms(state)["first_response"] == (b.sp(3, 2, 15), b.sp(3, 2, 17))

    # When at 10:00 the office declares today closed
    state, outputs = handle(state, MONDAY_CLOSED, AFTER, before=b.POLICY)

    # Then the hour counted (09:00-10:00) stays, the rest of Monday counts nothing, and the
    # 6 hours left count from Tuesday 09:00.
    assert outputs == []
    assert alarms(state)["first_response"] == (b.sp(3, 3, 14), b.sp(3, 3, 16))
    state, outputs = handle(state, b.tick(b.sp(3, 3, 18)), AFTER)
    warned = b.one(SlaWarned, outputs, "first_response")
    breached = b.one(SlaBreached, outputs, "first_response")
    assert (warned.occurred_at, warned.elapsed_ms) == (b.sp(3, 3, 14), 5 * b.HOUR)
    assert (breached.occurred_at, breached.elapsed_ms) == (b.sp(3, 3, 16), 7 * b.HOUR)


def test_what_rang_before_the_change_is_not_rung_again_nor_recounted() -> None:
    # Given a case whose first response warned at 15:00 under the old calendar
    state, outputs = b.when(
        b.given(b.opened(MONDAY_9), b.queued(MONDAY_9)), [b.tick(b.sp(3, 2, 15, 30))]
    )
    assert b.one(SlaWarned, outputs).occurred_at == b.sp(3, 2, 15)
    # When at 16:00 the rest of the day (and Tuesday) are closed
    late = change(office(closed_on=(date(2026, 3, 2), date(2026, 3, 3))), b.sp(3, 2, 16))
    after = apply_calendar_change(b.POLICY, late)
    state, outputs = handle(state, late, after, before=b.POLICY)

    # Then the 6 hours counted stay, no second warning, and the last hour counts Wednesday.
    assert outputs == []
    assert alarms(state)["first_response"] == (None, b.sp(3, 4, 10))
    _, outputs = handle(state, b.tick(b.sp(3, 4, 12)), after)
    assert b.names(outputs) == ["SlaBreached"]
    assert outputs[0].elapsed_ms == 7 * b.HOUR


def test_a_change_handed_twice_at_one_instant_moves_nothing_the_second_time() -> None:
    state = b.given(b.opened(MONDAY_9), b.queued(MONDAY_9))
    once, _ = handle(state, MONDAY_CLOSED, AFTER, before=b.POLICY)

    twice, outputs = handle(once, MONDAY_CLOSED, AFTER, before=AFTER)

    assert (twice, outputs) == (once, [])


def test_clocks_on_calendar_time_are_not_moved() -> None:
    opened_at = b.sp(3, 2, 9, 55)  # urgent first response: warned at 10:05, breached at 10:10
    state = b.given(b.opened(opened_at), b.queued(opened_at, b.URGENT, "urgent"))
    before = alarms(state)

    state, _ = handle(state, MONDAY_CLOSED, AFTER, before=b.POLICY)

    assert alarms(state) == before


def test_a_case_opened_after_the_change_counts_in_the_new_calendar() -> None:
    _, outputs = b.when(None, [b.opened(b.sp(3, 2, 11)), b.queued(b.sp(3, 2, 11))], AFTER)

    first = next(o for o in outputs if isinstance(o, SlaStarted) and o.metric == "first_response")
    assert b.local(first.deadline_at) == b.sp(3, 3, 17)  # Monday closed: 7h from Tuesday 09:00


# The policy's calendars ---------------------------------------------------------------------


def test_the_event_carries_the_calendar_faithfully() -> None:
    # The shipped calendar: holiday sets become dated holidays, Ash Wednesday stays half a day
    cal = calendar_from_change(change(office(), MONDAY_10))

    assert cal.weekly_hours == OFFICE.weekly_hours
    for day in (date(2026, 2, 17), date(2026, 2, 18), date(2026, 6, 4), date(2035, 12, 25)):
        assert hours_on(cal, day) == hours_on(OFFICE, day), day


def test_breaks_are_cut_out_of_the_hours() -> None:
    whole = dataclasses.replace(
        change(office(), MONDAY_10),
        weekly_hours=tuple(
            OpeningHours(weekday=day, opens="09:00", closes="17:00") for day in range(1, 6)
        ),
        breaks=(Break(weekday=1, starts="12:00", ends="13:00"),),
    )

    cal = calendar_from_change(whole)

    assert [str(h) for h in hours_on(cal, date(2026, 3, 2))] == ["09:00-12:00", "13:00-17:00"]
    assert [str(h) for h in hours_on(cal, date(2026, 3, 3))] == ["09:00-17:00"]


def test_an_older_or_equal_version_is_no_news() -> None:
    assert apply_calendar_change(AFTER, MONDAY_CLOSED) is AFTER
    assert apply_calendar_change(b.POLICY, change(office(version=1), MONDAY_10)) is b.POLICY


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"effective_from": b.sp(3, 2, 11)}, "after it was written"),
        ({"calendar_id": "urgent-24x7"}, "counts all the time"),
        ({"weekly_hours": ()}, "needs at least one interval"),
        ({"time_zone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"breaks": (Break(weekday=8, starts="12:00", ends="13:00"),)}, r"breaks\[0\]\.weekday"),
    ],
)
def test_a_change_that_cannot_apply_is_refused_with_what_to_fix(
    edit: dict[str, Any], message: str
) -> None:
    bad = dataclasses.replace(MONDAY_CLOSED, **edit)

    with pytest.raises(BadInput, match=message):
        apply_calendar_change(b.POLICY, bad)


def test_a_new_calendar_can_then_be_named_by_a_change_of_policy() -> None:
    extended = dataclasses.replace(office(version=1), id="plantao")
    policy = apply_calendar_change(b.POLICY, change(extended, MONDAY_10))
    moved = b.policy_changed(
        MONDAY_10, [("normal", "first_response", b.HOUR, 30 * b.MINUTE)], calendar_id="plantao"
    )

    terms = apply_change(policy, moved).terms("*", "normal", "first_response")

    assert terms is not None
    assert terms.calendar_id == "plantao"


def test_the_calendar_kind_and_partial_closures_cannot_be_published() -> None:
    with pytest.raises(CalendarChangeRefused, match="counts all the time"):
        calendar_changed(b.POLICY.calendars["urgent-24x7"], now=MONDAY_10)
    morning = hours_on(OFFICE, date(2026, 3, 2))[0]
    half = dataclasses.replace(
        office(), closures=(Closure(date=date(2026, 3, 2), name="x", closed=morning),)
    )
    with pytest.raises(CalendarChangeRefused, match=r"closures\[0\]"):
        calendar_changed(half, now=MONDAY_10)


# The processor's context --------------------------------------------------------------------

CORE = SlaCore(b.POLICY)


def test_the_partitions_context_moves_its_cases_and_survives_a_restart() -> None:
    state = CORE.initial(b.CONTACT)
    for event in (b.opened(MONDAY_9), b.queued(MONDAY_9)):
        after, _ = CORE.handle_in(PolicyContext(), state, event)
        assert after is not None
        state = after
    context = CORE.evolve_context(CORE.initial_context(), MONDAY_CLOSED)

    moved, _ = CORE.handle_in(context, state, MONDAY_CLOSED)

    assert isinstance(moved, ContactClocks)
    assert b.local(moved.cases[0].clocks[0].breach_at) == b.sp(3, 3, 16)
    # A restart reads the context back from the changelog: the same calendar in force.
    restored = snapshots.load(PolicyContext, snapshots.dump(context))
    assert restored == context
    assert SlaCore(b.POLICY).policy(restored).calendars["office-hours"].version == 2


def test_the_same_change_published_again_later_moves_no_case() -> None:
    state, _ = CORE.handle_in(PolicyContext(), CORE.initial(b.CONTACT), b.opened(MONDAY_9))
    assert state is not None
    context = CORE.evolve_context(CORE.initial_context(), MONDAY_CLOSED)
    state, _ = CORE.handle_in(context, state, MONDAY_CLOSED)
    assert state is not None
    again = dataclasses.replace(MONDAY_CLOSED, occurred_at=b.sp(3, 2, 11))

    assert CORE.evolve_context(context, again) is context
    assert CORE.handle_in(context, state, again) == (state, [])
