"""Office calendars from their versioned JSON file (see `calendars.default.json` and the
format in `streams.sla.calendar`), checked field by field: a bad file is refused with the
file, the field path and what is wrong (`CalendarError`), never half-loaded. A calendar set
through the log (`CalendarChanged`) is checked by the same rules (`calendar_from_change`).

Pure but for `load_calendars`, which reads the file.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.events import CalendarChanged
from streams.shared.frozen import replace
from streams.sla.calendar import (
    CALENDAR_KINDS,
    DAY_MINUTES,
    DEFAULT_TIME_ZONE,
    HOLIDAY_SETS,
    WEEKDAYS,
    WHOLE_DAY,
    Calendar,
    CalendarError,
    Closure,
    HolidaySet,
    Hours,
    Opening,
    holidays,
)

_HH_MM = re.compile(r"(?:([01]\d|2[0-3]):([0-5]\d))|24:00")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DEFAULT_CALENDARS_PATH: Final = Path(__file__).with_name("calendars.default.json")


def load_calendars(path: Path | str) -> Mapping[str, Calendar]:
    """The calendars of a JSON file, by id. Raises CalendarError naming the file and field."""
    source = str(path)
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarError(source, "", f"cannot be read ({exc.strerror}); check the path") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CalendarError(source, "", f"not JSON: {exc.msg} at line {exc.lineno}") from exc
    return parse_calendars(data, source=source)


def default_calendars() -> Mapping[str, Calendar]:
    """The calendars shipped with acolhe (streams/sla/calendars.default.json)."""
    return load_calendars(DEFAULT_CALENDARS_PATH)


def parse_calendars(data: object, *, source: str = "<data>") -> Mapping[str, Calendar]:
    """Calendars from decoded JSON (`{"calendars": [...]}`), by id; ids must be distinct."""
    top = _object(data, source, "")
    _only(top, {"calendars"}, source, "")
    items = top.get("calendars")
    if not isinstance(items, list) or not items:
        raise CalendarError(source, "calendars", "must be a non-empty list of calendars")
    found: dict[str, Calendar] = {}
    for i, item in enumerate(items):
        cal = parse_calendar(item, source=source, where=f"calendars[{i}]")
        if cal.id in found:
            raise CalendarError(source, f"calendars[{i}].id", f"{cal.id!r} is used twice")
        found[cal.id] = cal
    return MappingProxyType(found)


def parse_calendar(data: object, *, source: str = "<data>", where: str = "") -> Calendar:
    """One calendar from decoded JSON. Raises CalendarError naming `source` and the field."""
    item = _object(data, source, where)
    at = f"{where}." if where else ""
    rules = ("weekly_hours", "holiday_sets", "closures", "openings")
    _only(item, {"id", "version", "kind", "time_zone", *rules}, source, where)
    kind = item.get("kind", "business")
    if kind not in CALENDAR_KINDS:
        raise CalendarError(source, f"{at}kind", f"{kind!r} is not one of {list(CALENDAR_KINDS)}")
    version = item.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CalendarError(source, f"{at}version", "must be an integer >= 1")
    ident = _string(item.get("id"), source, f"{at}id")
    time_zone = _time_zone(item.get("time_zone", DEFAULT_TIME_ZONE), source, f"{at}time_zone")
    if kind == "calendar":
        given = [key for key in rules if item.get(key)]
        if given:
            problem = f"a 'calendar' kind is open all the time; remove {given} or use 'business'"
            raise CalendarError(source, where, problem)
        return Calendar(id=ident, version=version, kind="calendar", time_zone=time_zone)
    weekly = _weekly(item.get("weekly_hours"), source, f"{at}weekly_hours")
    closures = _list(item.get("closures", []), source, f"{at}closures")
    openings = _list(item.get("openings", []), source, f"{at}openings")
    cal = Calendar(
        id=ident,
        version=version,
        time_zone=time_zone,
        weekly_hours=weekly,
        holiday_sets=_holiday_sets(item.get("holiday_sets", []), source, f"{at}holiday_sets"),
        closures=tuple(_closure(c, source, f"{at}closures[{i}]") for i, c in enumerate(closures)),
        openings=tuple(_opening(o, source, f"{at}openings[{i}]") for i, o in enumerate(openings)),
    )
    _distinct_dates(cal, source, at)
    return cal


def calendar_from_change(change: CalendarChanged) -> Calendar:
    """The business calendar a `CalendarChanged` sets, checked like a file entry (CalendarError
    names the event and the field).

    The event carries what the file says otherwise: hours per ISO weekday, weekly breaks
    (cut out of those hours) and dated whole-day holidays (closures). A listed holiday that
    is one of the computed holidays (same date and name, e.g. Ash Wednesday) closes what the
    computed one closes: the contract has no field for a part of a day, and this keeps
    "closed until 12:00" as the file had it.
    """
    source = f"CalendarChanged {change.event_id}"
    days: dict[str, list[dict[str, str]]] = {}
    for i, hours in enumerate(change.weekly_hours):
        day = _weekday(hours.weekday, source, f"weekly_hours[{i}].weekday")
        days.setdefault(day, []).append({"opens": hours.opens, "closes": hours.closes})
    closed: dict[date, tuple[str, Hours]] = {}
    for holiday in change.holidays:
        known = holidays(holiday.date.year)
        cut = next(
            (h.closed for h in known if (h.date, h.name) == (holiday.date, holiday.name)),
            WHOLE_DAY,
        )
        if holiday.date in closed:  # two holidays on one day: it closes what either closes
            name, other = closed[holiday.date]
            cut = Hours(min(cut.opens, other.opens), max(cut.closes, other.closes))
            holiday_name = f"{name} / {holiday.name}"
        else:
            holiday_name = holiday.name
        closed[holiday.date] = (holiday_name, cut)
    entry = {
        "id": change.calendar_id,
        "version": change.version,
        "time_zone": change.time_zone,
        "weekly_hours": days,
        "closures": [
            {"date": day.isoformat(), "name": name, "from": str(cut)[:5], "until": str(cut)[6:]}
            for day, (name, cut) in sorted(closed.items())
        ],
    }
    cal = parse_calendar(entry, source=source)
    weekly = [list(hours) for hours in cal.weekly_hours]
    for i, pause in enumerate(change.breaks):
        where = f"breaks[{i}]"
        index = WEEKDAYS.index(_weekday(pause.weekday, source, f"{where}.weekday"))
        cut = _interval(pause.starts, pause.ends, source, where)
        weekly[index] = [part for h in weekly[index] for part in _without(h, cut)]
    if not any(weekly):
        raise CalendarError(source, "breaks", "they leave the office no opening hours")
    return replace(cal, weekly_hours=tuple(tuple(day) for day in weekly))


def _weekday(value: int, source: str, where: str) -> str:
    if not 1 <= value <= len(WEEKDAYS):
        raise CalendarError(source, where, f"{value} is not an ISO weekday (1 Monday to 7 Sunday)")
    return WEEKDAYS[value - 1]


def _without(hours: Hours, cut: Hours) -> list[Hours]:
    """What is left of `hours` once `cut` is taken out of it."""
    if cut.closes <= hours.opens or hours.closes <= cut.opens:
        return [hours]
    kept = [Hours(hours.opens, cut.opens)] if hours.opens < cut.opens else []
    return kept + ([Hours(cut.closes, hours.closes)] if cut.closes < hours.closes else [])


def _weekly(data: object, source: str, where: str) -> tuple[tuple[Hours, ...], ...]:
    days = _object(data, source, where)
    for key in days:
        if key not in WEEKDAYS:
            raise CalendarError(source, where, f"unknown weekday {key!r}; use {list(WEEKDAYS)}")
    weekly = tuple(_hours(days.get(key, []), source, f"{where}.{key}") for key in WEEKDAYS)
    if not any(weekly):
        raise CalendarError(source, where, "a business calendar needs at least one interval")
    return weekly


def _hours(data: object, source: str, where: str) -> tuple[Hours, ...]:
    items = _list(data, source, where)
    found: list[tuple[Hours, int]] = []
    for i, raw in enumerate(items):
        item = _object(raw, source, f"{where}[{i}]")
        _only(item, {"opens", "closes"}, source, f"{where}[{i}]")
        hours = _interval(item.get("opens"), item.get("closes"), source, f"{where}[{i}]")
        found.append((hours, i))
    found.sort()
    for (before, i), (after, j) in itertools.pairwise(found):
        if after.opens < before.closes:
            raise CalendarError(source, f"{where}[{j}]", f"{after} overlaps {where}[{i}] {before}")
    return tuple(hours for hours, _ in found)


def _interval(opens: object, closes: object, source: str, where: str) -> Hours:
    hours = Hours(_time(opens, source, where), _time(closes, source, where))
    if hours.opens == DAY_MINUTES:
        raise CalendarError(source, where, "24:00 can only close an interval")
    if hours.closes <= hours.opens:
        raise CalendarError(source, where, f"ends before it starts ({hours}); write it start-end")
    return hours


def _time(value: object, source: str, where: str) -> int:
    match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise CalendarError(source, where, f"{value!r} is not a time HH:MM from 00:00 to 24:00")
    hh, mm = match.groups()
    return DAY_MINUTES if hh is None else int(hh) * 60 + int(mm)


def _closure(data: object, source: str, where: str) -> Closure:
    item = _object(data, source, where)
    _only(item, {"date", "name", "from", "until"}, source, where)
    closed = _interval(item.get("from", "00:00"), item.get("until", "24:00"), source, where)
    return Closure(
        date=_date(item.get("date"), source, f"{where}.date"),
        name=_string(item.get("name"), source, f"{where}.name"),
        closed=closed,
    )


def _opening(data: object, source: str, where: str) -> Opening:
    item = _object(data, source, where)
    _only(item, {"date", "name", "hours"}, source, where)
    hours = _hours(item.get("hours"), source, f"{where}.hours")
    if not hours:
        raise CalendarError(source, f"{where}.hours", "an opening needs at least one interval")
    return Opening(
        date=_date(item.get("date"), source, f"{where}.date"),
        name=_string(item.get("name"), source, f"{where}.name"),
        hours=hours,
    )


def _distinct_dates(cal: Calendar, source: str, at: str) -> None:
    seen: dict[date, str] = {}
    dated = [(f"{at}closures[{i}]", c.date) for i, c in enumerate(cal.closures)]
    dated += [(f"{at}openings[{i}]", o.date) for i, o in enumerate(cal.openings)]
    for where, day in dated:
        if day in seen:
            problem = f"{day} is already given at {seen[day]}; one entry per date"
            raise CalendarError(source, f"{where}.date", problem)
        seen[day] = where


def _holiday_sets(data: object, source: str, where: str) -> frozenset[HolidaySet]:
    chosen: set[HolidaySet] = set()
    for item in _list(data, source, where):
        known = next((s for s in HOLIDAY_SETS if s == item), None)
        if known is None:
            raise CalendarError(
                source, where, f"unknown holiday set {item!r}; use {list(HOLIDAY_SETS)}"
            )
        chosen.add(known)
    return frozenset(chosen)


def _time_zone(value: object, source: str, where: str) -> str:
    name = _string(value, source, where)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        problem = f"{name!r} is not an IANA time zone; use e.g. {DEFAULT_TIME_ZONE!r}"
        raise CalendarError(source, where, problem) from exc
    return name


def _date(value: object, source: str, where: str) -> date:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarError(source, where, f"{value!r} is not a date YYYY-MM-DD")


def _object(data: object, source: str, where: str) -> dict[str, object]:
    if not isinstance(data, dict):
        raise CalendarError(source, where, "must be a JSON object")
    return data


def _list(data: object, source: str, where: str) -> list[object]:
    if not isinstance(data, list):
        raise CalendarError(source, where, "must be a JSON list")
    return data


def _only(item: Mapping[str, object], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise CalendarError(
            source, where, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}"
        )


def _string(value: object, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CalendarError(source, where, "must be a non-empty string")
    return value
