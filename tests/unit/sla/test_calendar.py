"""Office calendars: holidays computed per year, business-time arithmetic, the calendar file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.shared.errors import BadInput
from streams.sla.calendar import (
    Calendar,
    CalendarError,
    Hours,
    add_business,
    business_seconds,
    easter,
    holidays,
    hours_on,
    is_open,
    next_open,
)
from streams.sla.calendar_file import (
    DEFAULT_CALENDARS_PATH,
    default_calendars,
    load_calendars,
    parse_calendar,
)

SP = ZoneInfo("America/Sao_Paulo")
HOUR = 3600.0
BUSINESS_DAY = 7 * HOUR  # 09:00-12:00 and 13:00-17:00
MICROSECOND = timedelta(microseconds=1)
OFFICE = default_calendars()["office-hours"]
URGENT = default_calendars()["urgent-24x7"]
# Awkward calendars for the properties: hours touching across midnight, hours around São
# Paulo's historic clock changes (2018), and a zone that still changes its clocks.
NIGHTS = parse_calendar(
    {
        "id": "nights-and-weekends",
        "version": 1,
        "weekly_hours": {
            "mon": [{"opens": "00:00", "closes": "06:00"}, {"opens": "08:00", "closes": "08:01"}],
            "fri": [{"opens": "20:00", "closes": "24:00"}],
            "sat": [{"opens": "00:00", "closes": "24:00"}],
            "sun": [
                {"opens": "00:00", "closes": "00:30"},
                {"opens": "01:00", "closes": "02:00"},
                {"opens": "23:00", "closes": "24:00"},
            ],
        },
        "holiday_sets": ["national"],
        "closures": [{"date": "2026-12-26", "name": "Recesso", "from": "12:00"}],
        "openings": [
            {
                "date": "2018-02-17",
                "name": "Fim do horário de verão",
                "hours": [{"opens": "22:00", "closes": "24:00"}],
            }
        ],
    }
)
LISBON = parse_calendar(
    {
        "id": "lisbon",
        "version": 1,
        "time_zone": "Europe/Lisbon",  # still changes its clocks, at 01:00 UTC on Sundays
        "weekly_hours": {
            "sun": [{"opens": "00:30", "closes": "03:00"}],
            "wed": [{"opens": "10:00", "closes": "10:30"}],
        },
    }
)


def sp(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A São Paulo wall-clock time, as the UTC instant callers usually pass."""
    return datetime(y, m, d, hh, mm, tzinfo=SP).astimezone(UTC)


def local(at: datetime) -> datetime:
    return at.astimezone(SP)


def _valid() -> dict[str, Any]:
    day = [{"opens": "09:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:00"}]
    morning = {"opens": "09:00", "closes": "13:00"}
    return {
        "id": "test-office",
        "version": 3,
        "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
        "holiday_sets": ["national", "sp_state", "sp_city"],
        "closures": [{"date": "2026-12-24", "name": "Véspera de Natal", "from": "12:00"}],
        "openings": [{"date": "2026-03-14", "name": "Mutirão", "hours": [morning]}],
    }


# Holidays ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "sunday"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2000, date(2000, 4, 23)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter_falls_on_the_known_sunday(year: int, sunday: date) -> None:
    assert easter(year) == sunday
    assert sunday.weekday() == 6


def test_the_movable_holidays_of_2026_follow_easter() -> None:
    found = {h.date: h for h in holidays(2026)}

    assert found[date(2026, 2, 16)].name == "Carnaval (segunda-feira)"
    assert found[date(2026, 2, 17)].name == "Carnaval (terça-feira)"
    assert found[date(2026, 2, 18)].closed == Hours(0, 12 * 60)  # Ash Wednesday, until noon
    assert found[date(2026, 4, 3)].name == "Paixão de Cristo (Sexta-feira Santa)"
    assert found[date(2026, 6, 4)].name == "Corpus Christi"


def test_the_fixed_national_holidays_of_2026() -> None:
    fixed = [(1, 1), (4, 21), (5, 1), (9, 7), (10, 12), (11, 2), (11, 15), (11, 20), (12, 25)]

    national = {h.date for h in holidays(2026, ["national"]) if h.date != date(2026, 4, 3)}

    assert national == {date(2026, m, d) for m, d in fixed}


def test_each_holiday_set_holds_its_own_days() -> None:
    state = {(h.date, h.name) for h in holidays(2026, ["sp_state"])}
    city = {(h.date, h.name) for h in holidays(2026, ["sp_city"])}

    assert (date(2026, 7, 9), "Revolução Constitucionalista de 1932") in state
    assert (date(2026, 1, 25), "Aniversário da Cidade de São Paulo") in city
    assert all(h.holiday_set == "sp_city" for h in holidays(2026, ["sp_city"]))


def test_consciencia_negra_was_a_city_holiday_until_2023_and_is_national_from_2024() -> None:
    def sets_on_nov_20(year: int) -> set[str]:
        return {h.holiday_set for h in holidays(year) if h.date == date(year, 11, 20)}

    assert sets_on_nov_20(2023) == {"sp_city"}
    assert sets_on_nov_20(2024) == {"national"}
    assert sets_on_nov_20(2003) == set()  # before the city law of 2004


def test_the_holidays_of_a_year_are_computed_once_per_set_choice() -> None:
    assert holidays(2031, ["sp_city", "national"]) is holidays(2031, ("national", "sp_city"))


def test_an_unknown_holiday_set_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown holiday set"):
        holidays(2026, ["rj_state"])  # type: ignore[list-item]


# Business-time arithmetic -----------------------------------------------------------------


def test_a_clock_started_friday_afternoon_resumes_on_monday() -> None:
    deadline = add_business(OFFICE, sp(2026, 3, 6, 16, 30), HOUR)

    assert deadline == sp(2026, 3, 9, 9, 30)
    assert deadline.tzinfo is UTC


def test_when_monday_is_a_holiday_the_clock_resumes_on_tuesday() -> None:
    friday = sp(2026, 9, 4, 16, 30)  # Monday 7 September, Independência

    assert add_business(OFFICE, friday, HOUR) == sp(2026, 9, 8, 9, 30)


def test_carnival_pushes_a_clock_to_ash_wednesday_afternoon() -> None:
    friday = sp(2026, 2, 13, 16, 30)

    # Closed until 12:00 on Ash Wednesday, and 12:00-13:00 is lunch: it resumes at 13:00.
    assert add_business(OFFICE, friday, HOUR) == sp(2026, 2, 18, 13, 30)


def test_ash_wednesday_is_closed_in_the_morning_only() -> None:
    assert not is_open(OFFICE, sp(2026, 2, 18, 9))
    assert next_open(OFFICE, sp(2026, 2, 18, 8)) == sp(2026, 2, 18, 13)
    assert hours_on(OFFICE, date(2026, 2, 18)) == (Hours(13 * 60, 17 * 60),)
    assert business_seconds(OFFICE, sp(2026, 2, 18), sp(2026, 2, 19)) == 4 * HOUR


def test_the_lunch_break_does_not_count() -> None:
    assert business_seconds(OFFICE, sp(2026, 3, 9, 11), sp(2026, 3, 9, 14)) == 2 * HOUR
    assert add_business(OFFICE, sp(2026, 3, 9, 11, 30), HOUR) == sp(2026, 3, 9, 13, 30)
    assert not is_open(OFFICE, sp(2026, 3, 9, 12, 30))


def test_a_holiday_is_skipped() -> None:
    monday, wednesday = sp(2026, 4, 20, 9), sp(2026, 4, 22, 9)  # Tuesday 21 April, Tiradentes

    assert business_seconds(OFFICE, monday, wednesday) == BUSINESS_DAY
    assert add_business(OFFICE, monday, BUSINESS_DAY + HOUR) == sp(2026, 4, 22, 10)


def test_thirty_business_days_skip_weekends_and_good_friday() -> None:
    start = sp(2026, 3, 2, 9)

    deadline = add_business(OFFICE, start, 30 * BUSINESS_DAY)

    assert deadline == sp(2026, 4, 13, 17)
    assert business_seconds(OFFICE, start, deadline) == 30 * BUSINESS_DAY


def test_intervals_are_open_at_their_start_and_closed_at_their_end() -> None:
    assert is_open(OFFICE, sp(2026, 3, 9, 9))
    assert not is_open(OFFICE, sp(2026, 3, 9, 9) - MICROSECOND)
    assert is_open(OFFICE, sp(2026, 3, 9, 17) - MICROSECOND)
    assert not is_open(OFFICE, sp(2026, 3, 9, 17))
    assert not is_open(OFFICE, sp(2026, 3, 9, 12))
    assert is_open(OFFICE, sp(2026, 3, 9, 13))


def test_a_span_that_fills_the_day_ends_at_closing_not_next_morning() -> None:
    assert add_business(OFFICE, sp(2026, 3, 9, 16), HOUR) == sp(2026, 3, 9, 17)


def test_a_clock_started_while_closed_starts_at_the_next_opening() -> None:
    saturday = sp(2026, 3, 7, 10)

    assert add_business(OFFICE, saturday, HOUR) == sp(2026, 3, 9, 10)
    assert add_business(OFFICE, saturday, 0) == sp(2026, 3, 9, 9)
    assert add_business(OFFICE, sp(2026, 3, 9, 10), 0) == sp(2026, 3, 9, 10)
    assert next_open(OFFICE, saturday) == sp(2026, 3, 9, 9)


def test_no_business_time_elapses_backwards_or_while_closed() -> None:
    assert business_seconds(OFFICE, sp(2026, 3, 9, 15), sp(2026, 3, 9, 10)) == 0.0
    assert business_seconds(OFFICE, sp(2026, 3, 7, 8), sp(2026, 3, 8, 20)) == 0.0


def test_a_span_across_new_year_counts_both_years() -> None:
    start = sp(2026, 12, 30, 16)  # Thursday 31 December is open; 1 January is a holiday

    assert business_seconds(OFFICE, start, sp(2027, 1, 4, 10)) == HOUR + BUSINESS_DAY + HOUR
    assert add_business(OFFICE, start, 2 * HOUR + BUSINESS_DAY) == sp(2027, 1, 4, 10)


def test_a_calendar_kind_counts_plain_time_through_nights_weekends_and_holidays() -> None:
    friday = sp(2026, 2, 13, 16, 30)

    assert add_business(URGENT, friday, HOUR) == sp(2026, 2, 13, 17, 30)
    assert business_seconds(URGENT, friday, sp(2026, 2, 18, 16, 30)) == 5 * 24 * HOUR
    assert is_open(URGENT, sp(2026, 2, 16, 3))
    assert next_open(URGENT, friday) == friday


def test_instants_in_any_time_zone_mean_the_same_thing() -> None:
    tokyo = sp(2026, 3, 6, 16, 30).astimezone(ZoneInfo("Asia/Tokyo"))

    assert add_business(OFFICE, tokyo, HOUR) == sp(2026, 3, 9, 9, 30)
    assert add_business(OFFICE, local(tokyo), HOUR) == sp(2026, 3, 9, 9, 30)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 9, 10)

    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, naive)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        add_business(URGENT, naive, HOUR)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        business_seconds(OFFICE, sp(2026, 3, 9), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_open(OFFICE, naive)


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_negative_or_endless_business_time_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="finite number >= 0"):
        add_business(OFFICE, sp(2026, 3, 9), seconds)


def test_historic_daylight_saving_time_keeps_office_hours_in_wall_clock_time() -> None:
    # 2018: clocks went forward at midnight on Sunday 4 November (UTC-3 to UTC-2).
    thursday = sp(2018, 11, 1, 16, 30)  # Friday 2 November is Finados

    deadline = add_business(OFFICE, thursday, HOUR)

    assert local(deadline).replace(tzinfo=None) == datetime(2018, 11, 5, 9, 30)
    assert deadline == datetime(2018, 11, 5, 9, 30, tzinfo=SP)
    assert business_seconds(OFFICE, thursday, deadline) == HOUR
    if SP.utcoffset(datetime(2018, 11, 5)) == timedelta(hours=-2):  # the zone data knows it
        assert deadline == datetime(2018, 11, 5, 11, 30, tzinfo=UTC)


def test_the_end_of_daylight_saving_time_leaves_a_business_day_at_seven_hours() -> None:
    # 2018: clocks went back at midnight on Saturday 17 February (UTC-2 to UTC-3).
    friday, monday = sp(2018, 2, 16, 9), sp(2018, 2, 19, 17)

    assert business_seconds(OFFICE, friday, monday) == 2 * BUSINESS_DAY
    assert add_business(OFFICE, friday, 2 * BUSINESS_DAY) == monday


def test_wall_clock_hours_skipped_by_a_historic_clock_change_are_not_counted() -> None:
    # NIGHTS is open all Saturday, then Sunday 00:00-00:30 and 01:00-02:00. On 4 November 2018
    # São Paulo's clocks jumped from 00:00 to 01:00: Saturday's 12 hours from noon run into
    # Sunday 01:00-02:00, one real hour, and 00:00-00:30 never happened.
    saturday_noon = sp(2018, 11, 3, 12)
    sunday_noon = datetime(2018, 11, 4, 12, tzinfo=SP)

    assert business_seconds(NIGHTS, saturday_noon, sunday_noon) == 13 * HOUR
    assert add_business(NIGHTS, saturday_noon, 13 * HOUR) == datetime(2018, 11, 4, 4, tzinfo=UTC)
    assert not is_open(NIGHTS, datetime(2018, 11, 4, 4, tzinfo=UTC))


# The calendar file ------------------------------------------------------------------------


def test_the_default_file_has_office_hours_with_lunch_and_an_urgent_calendar() -> None:
    assert OFFICE.kind == "business"
    assert OFFICE.time_zone == "America/Sao_Paulo"
    assert hours_on(OFFICE, date(2026, 3, 9)) == (Hours(9 * 60, 12 * 60), Hours(13 * 60, 17 * 60))
    assert hours_on(OFFICE, date(2026, 3, 7)) == ()
    assert OFFICE.holiday_sets == {"national", "sp_state", "sp_city"}
    assert URGENT.kind == "calendar"


def test_a_calendar_file_loads_by_id(tmp_path: Path) -> None:
    path = tmp_path / "calendars.json"
    path.write_text(json.dumps({"calendars": [_valid()]}), encoding="utf-8")

    calendars = load_calendars(path)

    cal = calendars["test-office"]
    assert (cal.version, cal.time_zone, cal.kind) == (3, "America/Sao_Paulo", "business")


def test_a_dated_closure_closes_the_part_of_the_day_it_names() -> None:
    cal = parse_calendar(_valid())

    assert hours_on(cal, date(2026, 12, 24)) == (Hours(9 * 60, 12 * 60),)
    assert add_business(cal, sp(2026, 12, 24, 11), 2 * HOUR) == sp(2026, 12, 28, 10)


def test_a_dated_opening_replaces_the_hours_of_its_day() -> None:
    data = _valid()
    data["openings"].append(
        {"date": "2026-02-16", "name": "Plantão", "hours": [{"opens": "10:00", "closes": "11:00"}]}
    )
    cal = parse_calendar(data)

    assert is_open(cal, sp(2026, 3, 14, 12, 59))  # a Saturday
    assert not is_open(cal, sp(2026, 3, 14, 13))
    assert is_open(cal, sp(2026, 2, 16, 10))  # Carnival Monday
    assert add_business(cal, sp(2026, 2, 13, 16, 30), HOUR) == sp(2026, 2, 16, 10, 30)


def test_a_calendar_built_in_code_is_checked() -> None:
    with pytest.raises(ValueError, match="needs opening hours"):
        Calendar(id="empty", version=1)


def _broken(change: str) -> dict[str, Any]:
    data = _valid()
    monday = data["weekly_hours"]["mon"]
    if change == "overlap":
        monday.append({"opens": "11:00", "closes": "14:00"})
    elif change == "end before start":
        monday[1] = {"opens": "17:00", "closes": "13:00"}
    elif change == "bad time":
        monday[0]["opens"] = "9h"
    elif change == "unknown weekday":
        data["weekly_hours"]["monday"] = data["weekly_hours"].pop("mon")
    elif change == "unknown holiday set":
        data["holiday_sets"] = ["national", "rj_state"]
    elif change == "bad time zone":
        data["time_zone"] = "America/Sao Paulo"
    elif change == "no hours":
        data["weekly_hours"] = {}
    elif change == "calendar kind with hours":
        data["kind"] = "calendar"
    elif change == "unknown kind":
        data["kind"] = "24x7"
    elif change == "version not an integer":
        data["version"] = "v3"
    elif change == "bad date":
        data["closures"][0]["date"] = "24/12/2026"
    elif change == "closed and opened":
        data["openings"][0]["date"] = "2026-12-24"
    elif change == "unknown field":
        data["holidays"] = []
    return data


CLASH = "2026-12-24 is already given at calendars[0].closures[0]; one entry per date"


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        ("overlap", "mon[2]", "11:00-14:00 overlaps calendars[0].weekly_hours.mon[0] 09:00-12:00"),
        ("end before start", "mon[1]", "ends before it starts (17:00-13:00)"),
        ("bad time", "mon[0]", "'9h' is not a time HH:MM"),
        ("unknown weekday", "weekly_hours", "unknown weekday 'monday'"),
        ("unknown holiday set", "holiday_sets", "unknown holiday set 'rj_state'"),
        ("bad time zone", "time_zone", "'America/Sao Paulo' is not an IANA time zone"),
        ("no hours", "weekly_hours", "a business calendar needs at least one interval"),
        ("calendar kind with hours", "", "a 'calendar' kind is open all the time"),
        ("unknown kind", "kind", "'24x7' is not one of ['business', 'calendar']"),
        ("version not an integer", "version", "must be an integer >= 1"),
        ("bad date", "closures[0].date", "'24/12/2026' is not a date YYYY-MM-DD"),
        ("closed and opened", "openings[0].date", CLASH),
        ("unknown field", "", "unknown field(s) ['holidays']"),
    ],
)
def test_a_faulty_calendar_file_is_refused_naming_the_file_the_field_and_the_fault(
    tmp_path: Path, change: str, where: str, problem: str
) -> None:
    path = tmp_path / "calendars.json"
    path.write_text(json.dumps({"calendars": [_broken(change)]}), encoding="utf-8")

    with pytest.raises(CalendarError) as caught:
        load_calendars(path)

    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, BadInput)
    assert str(path) in message
    field = where.replace("mon[", "weekly_hours.mon[")
    assert f"at calendars[0]{'.' if field else ''}{field}: {problem}" in message
    assert problem in message


def test_a_calendar_id_used_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calendars.json"
    path.write_text(json.dumps({"calendars": [_valid(), _valid()]}), encoding="utf-8")

    with pytest.raises(CalendarError, match=r"at calendars\[1\]\.id: 'test-office' is used twice"):
        load_calendars(path)


def test_a_file_that_is_not_json_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "calendars.json"
    path.write_text('{\n  "calendars": [\n  oops\n]}', encoding="utf-8")

    with pytest.raises(CalendarError, match=r"not JSON: .* at line 3"):
        load_calendars(path)


def test_a_missing_file_is_refused_saying_to_check_the_path(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="check the path"):
        load_calendars(tmp_path / "nowhere.json")


def test_the_default_file_is_where_the_loader_looks() -> None:
    assert DEFAULT_CALENDARS_PATH.name == "calendars.default.json"
    assert set(load_calendars(DEFAULT_CALENDARS_PATH)) == {"office-hours", "urgent-24x7"}


# Properties -------------------------------------------------------------------------------

CALENDARS = [OFFICE, NIGHTS, LISBON]
WALL_TIMES = [time(0), time(0, 30), time(1), time(2), time(9), time(12), time(13), time(17)]
MAX_SPAN = 60 * BUSINESS_DAY

CLOCK_CHANGES = [
    date(2017, 10, 15),  # São Paulo, forward at midnight
    date(2018, 2, 17),  # São Paulo, back at midnight (23:00-24:00 twice)
    date(2018, 2, 18),
    date(2018, 11, 4),
    date(2019, 2, 16),  # São Paulo's last change
    date(2026, 3, 29),  # Lisbon, forward at 01:00
    date(2026, 10, 25),  # Lisbon, back at 02:00
]
dates = st.one_of(
    st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31)),
    st.sampled_from(CLOCK_CHANGES),
)
instants = st.one_of(
    st.datetimes(
        min_value=datetime(2015, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda d, t, z: datetime.combine(d, t, tzinfo=z).astimezone(UTC),
        dates,
        st.sampled_from(WALL_TIMES),
        st.sampled_from([SP, ZoneInfo("Europe/Lisbon")]),
    ),
)
spans = st.one_of(
    st.just(0.0),
    st.floats(min_value=0, max_value=MAX_SPAN, allow_nan=False),
    st.integers(0, int(MAX_SPAN // HOUR)).map(lambda hours: hours * HOUR),
)
calendars = st.sampled_from(CALENDARS)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, spans)
def test_the_business_time_added_is_the_business_time_that_elapses(
    cal: Calendar, start: datetime, seconds: float
) -> None:
    deadline = add_business(cal, start, seconds)

    assert business_seconds(cal, start, deadline) == pytest.approx(seconds, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, instants, instants)
def test_business_time_adds_up_over_any_split_point(
    cal: Calendar, a: datetime, b: datetime, c: datetime
) -> None:
    start, split, end = sorted((a, b, c))

    whole = business_seconds(cal, start, end)
    parts = business_seconds(cal, start, split) + business_seconds(cal, split, end)

    assert whole == pytest.approx(parts, abs=1e-6)
    assert 0 <= whole <= (end - start).total_seconds()


@settings(max_examples=300, deadline=None)
@given(calendars, instants, spans, spans)
def test_more_business_time_never_ends_earlier(
    cal: Calendar, start: datetime, x: float, y: float
) -> None:
    shorter, longer = sorted((x, y))

    assert add_business(cal, start, shorter) <= add_business(cal, start, longer)


@settings(max_examples=300, deadline=None)
@given(calendars, instants, spans)
def test_a_deadline_falls_in_open_hours_or_exactly_at_a_closing(
    cal: Calendar, start: datetime, seconds: float
) -> None:
    deadline = add_business(cal, start, seconds)

    assert deadline >= start
    assert is_open(cal, deadline) or is_open(cal, deadline - MICROSECOND)


@settings(max_examples=300, deadline=None)
@given(calendars, instants)
def test_the_next_opening_is_open_and_no_business_time_comes_before_it(
    cal: Calendar, at: datetime
) -> None:
    opening = next_open(cal, at)

    assert opening >= at
    assert is_open(cal, opening)
    assert business_seconds(cal, at, opening) == 0.0
    assert (opening == at) == is_open(cal, at)


@settings(max_examples=100, deadline=None)
@given(instants, spans)
def test_a_calendar_kind_is_plain_time(start: datetime, seconds: float) -> None:
    deadline = add_business(URGENT, start, seconds)

    assert (deadline - start).total_seconds() == pytest.approx(seconds, abs=1e-6)
    assert business_seconds(URGENT, start, deadline) == pytest.approx(seconds, abs=1e-6)
