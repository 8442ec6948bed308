"""Office calendars for SLA clocks: when an office is open, and business-time arithmetic.

A calendar is data, read from a versioned JSON file (see `calendars.default.json`):

    {"calendars": [{"id": "office-hours", "version": 1, "kind": "business",
                    "time_zone": "America/Sao_Paulo",
                    "weekly_hours": {"mon": [{"opens": "09:00", "closes": "12:00"},
                                             {"opens": "13:00", "closes": "17:00"}], ...},
                    "holiday_sets": ["national", "sp_state", "sp_city"],
                    "closures": [{"date": "2026-12-24", "name": "...", "from": "12:00"}],
                    "openings": [{"date": "2026-03-14", "name": "...", "hours": [...]}]}]}

A `business` calendar is open during its weekly hours (a gap between two intervals is a
break, e.g. lunch), minus the holidays of its sets (computed per year, see `holidays`) and
its dated closures (the whole day, or `from`/`until` a time). A dated opening replaces the
hours of its day, holidays included. A `calendar` calendar is open all the time (urgent
queues): its arithmetic is plain time.

Boundaries: intervals are half-open, [opens, closes): open at 09:00:00, closed at 17:00:00.
`add_business` ends at the earliest instant the elapsed business time is reached, so a span
that fills the day ends at the closing, not at the next opening; with zero seconds it
returns `next_open`. Hours are wall-clock times in the calendar's time zone, turned into
instants day by day (a wall time skipped or repeated by a historic DST change takes the
earlier offset, fold=0). Instants in are aware datetimes (naive ones are refused), instants
out are UTC; arithmetic is exact to the microsecond.

Speed: each local year is compiled once (cached) into its open intervals as UTC microseconds
with the running open time at each interval's end, so a query is a binary search, and a
long span adds whole years' totals: nothing iterates per day, minute or second.

Loading and checking calendar files: `streams.sla.calendar_file`.

Pure: must not import Kafka, faust, Postgres, logging or a clock.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from streams.shared.errors import BadInput

CalendarKind = Literal["business", "calendar"]
HolidaySet = Literal["national", "sp_state", "sp_city"]
CALENDAR_KINDS: Final[tuple[CalendarKind, ...]] = get_args(CalendarKind)
HOLIDAY_SETS: Final[tuple[HolidaySet, ...]] = get_args(HolidaySet)
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Keys of `weekly_hours`, Monday first (the index is `date.weekday()`)."""

DEFAULT_TIME_ZONE: Final = "America/Sao_Paulo"
DAY_MINUTES: Final = 24 * 60

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_PER_SECOND: Final = 1_000_000


class CalendarError(BadInput, ValueError):
    """A calendar file cannot be used; the message names the file, the field and the fault."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        super().__init__(f"calendar file {source}: at {where or 'top level'}: {problem}")


@dataclass(frozen=True, order=True, slots=True)
class Hours:
    """A wall-clock interval [opens, closes) of one day, in minutes after midnight (0..1440)."""

    opens: int
    closes: int

    def __str__(self) -> str:
        return f"{_hh_mm(self.opens)}-{_hh_mm(self.closes)}"


WHOLE_DAY: Final = Hours(0, DAY_MINUTES)


@dataclass(frozen=True, kw_only=True, slots=True)
class Holiday:
    """A holiday of a rule set; `closed` is the part of the day it closes (all of it by default)."""

    date: date
    name: str
    holiday_set: HolidaySet
    closed: Hours = WHOLE_DAY


@dataclass(frozen=True, kw_only=True, slots=True)
class Closure:
    """A dated closure decided by the office: `closed` is the part of the day it closes."""

    date: date
    name: str
    closed: Hours = WHOLE_DAY


@dataclass(frozen=True, kw_only=True, slots=True)
class Opening:
    """A dated opening decided by the office: `hours` replace that day's hours and holidays."""

    date: date
    name: str
    hours: tuple[Hours, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Calendar:
    """An office calendar. `weekly_hours[i]` are the sorted, disjoint hours of `WEEKDAYS[i]`.

    Build one with `parse_calendar`, which checks the file; a `calendar` kind ignores hours.
    """

    id: str
    version: int
    kind: CalendarKind = "business"
    time_zone: str = DEFAULT_TIME_ZONE
    weekly_hours: tuple[tuple[Hours, ...], ...] = ((),) * 7
    holiday_sets: frozenset[HolidaySet] = frozenset()
    closures: tuple[Closure, ...] = ()
    openings: tuple[Opening, ...] = ()
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.weekly_hours) != len(WEEKDAYS):
            raise ValueError(f"calendar {self.id}: weekly_hours needs one entry per weekday")
        if self.kind == "business" and not any(self.weekly_hours):
            raise ValueError(f"calendar {self.id}: a business calendar needs opening hours")
        # Every query looks up the compiled years by calendar: hash the fields once.
        fields = (self.id, self.version, self.kind, self.time_zone, self.weekly_hours)
        extras = (self.holiday_sets, self.closures, self.openings)
        object.__setattr__(self, "_hash", hash((*fields, *extras)))

    def __hash__(self) -> int:
        return self._hash


# Holidays ---------------------------------------------------------------------------------

_FIXED: Final[tuple[tuple[int, int, str, HolidaySet, int, int], ...]] = (
    # month, day, name, set, first year, last year
    (1, 1, "Confraternização Universal", "national", 1, 9999),
    (1, 25, "Aniversário da Cidade de São Paulo", "sp_city", 1, 9999),
    (4, 21, "Tiradentes", "national", 1, 9999),
    (5, 1, "Dia do Trabalho", "national", 1, 9999),
    (7, 9, "Revolução Constitucionalista de 1932", "sp_state", 1997, 9999),  # Lei 9.497/1997
    (9, 7, "Independência do Brasil", "national", 1, 9999),
    (10, 12, "Nossa Senhora Aparecida", "national", 1980, 9999),  # Lei 6.802/1980
    (11, 2, "Finados", "national", 1, 9999),
    (11, 15, "Proclamação da República", "national", 1, 9999),
    (11, 20, "Dia da Consciência Negra", "sp_city", 2004, 2023),  # Lei municipal 13.707/2004
    (11, 20, "Dia Nacional de Zumbi e da Consciência Negra", "national", 2024, 9999),
    (12, 25, "Natal", "national", 1, 9999),
)
_MOVABLE: Final[tuple[tuple[int, str, HolidaySet, Hours], ...]] = (
    # days after Easter Sunday, name, set, part of the day closed
    (-48, "Carnaval (segunda-feira)", "sp_state", WHOLE_DAY),
    (-47, "Carnaval (terça-feira)", "sp_state", WHOLE_DAY),
    (-46, "Quarta-feira de Cinzas (expediente a partir das 12h)", "sp_state", Hours(0, 720)),
    (-2, "Paixão de Cristo (Sexta-feira Santa)", "national", WHOLE_DAY),
    (60, "Corpus Christi", "sp_city", WHOLE_DAY),
)


def easter(year: int) -> date:
    """Easter Sunday of a Gregorian year (the anonymous Meeus/Jones/Butcher algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def holidays(year: int, sets: Iterable[HolidaySet] = HOLIDAY_SETS) -> tuple[Holiday, ...]:
    """The holidays of `year` in `sets`, by date (cached per year and sets)."""
    chosen = frozenset(sets)
    unknown = sorted(chosen - set(HOLIDAY_SETS))
    if unknown:
        raise ValueError(f"unknown holiday set(s) {unknown}; use some of {list(HOLIDAY_SETS)}")
    return _holidays(year, chosen)


@functools.lru_cache(maxsize=1024)
def _holidays(year: int, sets: frozenset[HolidaySet]) -> tuple[Holiday, ...]:
    fixed = [
        Holiday(date=date(year, month, day), name=name, holiday_set=in_set)
        for month, day, name, in_set, first, last in _FIXED
        if in_set in sets and first <= year <= last
    ]
    sunday = easter(year)
    movable = [
        Holiday(date=sunday + timedelta(days=days), name=name, holiday_set=in_set, closed=closed)
        for days, name, in_set, closed in _MOVABLE
        if in_set in sets
    ]
    return tuple(sorted(fixed + movable, key=lambda h: (h.date, h.name)))


def hours_on(cal: Calendar, day: date) -> tuple[Hours, ...]:
    """The wall-clock hours the office is open on a local date."""
    if cal.kind == "calendar":
        return (WHOLE_DAY,)
    opening = next((o.hours for o in cal.openings if o.date == day), None)
    closed = [h.closed for h in holidays(day.year, cal.holiday_sets) if h.date == day]
    closed += [c.closed for c in cal.closures if c.date == day]
    return _hours_of(cal.weekly_hours[day.weekday()], closed, opening)


def _hours_of(
    weekly: tuple[Hours, ...], closed: Iterable[Hours], opening: tuple[Hours, ...] | None
) -> tuple[Hours, ...]:
    if opening is not None:
        return opening
    hours = weekly
    for cut in closed:
        kept: list[Hours] = []
        for h in hours:
            if cut.closes <= h.opens or h.closes <= cut.opens:
                kept.append(h)
                continue
            if h.opens < cut.opens:
                kept.append(Hours(h.opens, cut.opens))
            if cut.closes < h.closes:
                kept.append(Hours(cut.closes, h.closes))
        hours = tuple(kept)
    return hours


# Business-time arithmetic -----------------------------------------------------------------


def is_open(cal: Calendar, at: datetime) -> bool:
    """Whether the office is open at `at` (open at an interval's start, closed at its end)."""
    t = _micros(at, "at")
    if cal.kind == "calendar":
        return True
    _, year = _year_of(cal, t)
    i = bisect_right(year.opens, t) - 1
    return i >= 0 and t < year.closes[i]


def next_open(cal: Calendar, at: datetime) -> datetime:
    """The first instant at or after `at` when the office is open (`at` itself if open), in UTC."""
    return _utc(_next_open(cal, _micros(at, "at")))


def business_seconds(cal: Calendar, start: datetime, end: datetime) -> float:
    """The open time between two instants, in seconds; 0 when `end` is not after `start`."""
    a, b = _micros(start, "start"), _micros(end, "end")
    if b <= a:
        return 0.0
    if cal.kind == "calendar":
        return (b - a) / _PER_SECOND
    number_a, year_a = _year_of(cal, a)
    number_b, year_b = _year_of(cal, b)
    whole = sum(_year(cal, n).total for n in range(number_a, number_b))
    return (whole + _open_before(year_b, b) - _open_before(year_a, a)) / _PER_SECOND


def add_business(cal: Calendar, start: datetime, seconds: float) -> datetime:
    """The earliest instant by which `seconds` of open time have elapsed since `start`, in UTC.

    Outside open hours the clock starts at the next opening; with 0 seconds that opening is
    the answer. Raises ValueError for negative or non-finite seconds.
    """
    t = _micros(start, "start")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    need = round(seconds * _PER_SECOND)
    if cal.kind == "calendar":
        return _utc(t + need)
    if need == 0:
        return _utc(_next_open(cal, t))
    number, year = _year_of(cal, t)
    target = _open_before(year, t) + need
    while target > year.total:
        target -= year.total
        number += 1
        year = _year(cal, number)
    i = bisect_left(year.done, target)
    return _utc(year.closes[i] - (year.done[i] - target))


@dataclass(frozen=True, slots=True)
class _Year:
    """One local year's open intervals, in UTC microseconds; `done[i]` is the open time from
    the year's start to `closes[i]`."""

    begins: int
    ends: int
    opens: tuple[int, ...]
    closes: tuple[int, ...]
    done: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.done[-1] if self.done else 0


@functools.lru_cache(maxsize=512)
def _year(cal: Calendar, number: int) -> _Year:
    """Compile a local year: each day's wall-clock hours, as instants, touching ones merged."""
    zone = ZoneInfo(cal.time_zone)
    closed: dict[date, list[Hours]] = {}
    for holiday in holidays(number, cal.holiday_sets):
        closed.setdefault(holiday.date, []).append(holiday.closed)
    for c in cal.closures:
        if c.date.year == number:
            closed.setdefault(c.date, []).append(c.closed)
    opened = {o.date: o.hours for o in cal.openings if o.date.year == number}
    opens: list[int] = []
    closes: list[int] = []
    done: list[int] = []
    total = 0
    day = date(number, 1, 1)
    while day.year == number:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        weekly = cal.weekly_hours[day.weekday()]
        for h in _hours_of(weekly, closed.get(day, ()), opened.get(day)):
            a = _micros(midnight + timedelta(minutes=h.opens), "")
            b = _micros(midnight + timedelta(minutes=h.closes), "")
            if closes and a <= closes[-1]:  # touches the previous interval (or a DST fold)
                if b > closes[-1]:
                    total += b - closes[-1]
                    closes[-1], done[-1] = b, total
            elif a < b:
                total += b - a
                opens.append(a)
                closes.append(b)
                done.append(total)
        day += timedelta(days=1)
    begins = _micros(datetime(number, 1, 1, tzinfo=zone), "")
    ends = _micros(datetime(number + 1, 1, 1, tzinfo=zone), "")
    return _Year(begins, ends, tuple(opens), tuple(closes), tuple(done))


def _year_of(cal: Calendar, t: int) -> tuple[int, _Year]:
    """The local year holding instant `t`: the UTC year, give or take one."""
    number = (_EPOCH + timedelta(microseconds=t)).year
    year = _year(cal, number)
    if t < year.begins:
        number -= 1
    elif t >= year.ends:
        number += 1
    else:
        return number, year
    return number, _year(cal, number)


def _open_before(year: _Year, t: int) -> int:
    """Open time from the year's start to `t`, in microseconds."""
    i = bisect_right(year.opens, t) - 1
    return 0 if i < 0 else year.done[i] - max(0, year.closes[i] - t)


def _next_open(cal: Calendar, t: int) -> int:
    if cal.kind == "calendar":
        return t
    number, year = _year_of(cal, t)
    while (i := bisect_right(year.closes, t)) == len(year.closes):
        number += 1
        year = _year(cal, number)
    return max(t, year.opens[i])


def _micros(at: datetime, name: str) -> int:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware, got naive {at.isoformat()}; "
            "attach the time zone it is in (e.g. tzinfo=datetime.UTC)"
        )
    return (at - _EPOCH) // _MICROSECOND


def _utc(t: int) -> datetime:
    return _EPOCH + timedelta(microseconds=t)


def _hh_mm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
