"""Changes of calendar through the log: a calendar of the file's format as the
`CalendarChanged` that puts it in force (`calendar_changed`, for `acolhe sla change-calendar`),
and that event folded into the policy's calendars (`apply_calendar_change`, for the
processor). The clocks take it from the change on (see `streams.sla.domain`).

What the event cannot carry, and so what `calendar_changed` refuses rather than drops: a
`calendar` kind (open all the time: nothing to change; point the queue's policy to another
calendar instead), dated `openings`, and `closures` of part of a day. Holiday sets are rules
computed per year, the event lists dates: they are written out for `HOLIDAY_YEARS` years
from the change's, so a calendar set through the log needs a new change before then.

`version` is the calendar's, as in the file: the processor ignores a change whose version is
not above the one in force (a redelivery, or a stale copy), so each change needs a higher one.

Plain data: must not import Kafka, faust, Postgres, logging or a clock.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from schemas.envelope import derive_event_id
from schemas.events import Break, CalendarChanged, HolidayScope, OpeningHours
from schemas.events import Holiday as ListedHoliday
from streams.shared.errors import BadInput
from streams.sla.calendar import WHOLE_DAY, Calendar, HolidaySet, holidays
from streams.sla.calendar_file import calendar_from_change
from streams.sla.policy import SlaPolicy

HOLIDAY_YEARS: Final = 10
"""How many years of each holiday set a change lists, the change's year first."""

_SCOPES: Final[dict[HolidaySet, HolidayScope]] = {
    "national": "national",
    "sp_state": "state",
    "sp_city": "city",
}


class CalendarChangeRefused(BadInput):
    """A calendar that cannot be put in force through the log; the message says what to fix."""


def calendar_change_id(calendar_id: str, version: int) -> str:
    """The id of the change that sets this version of the calendar: publishing it twice
    records it once."""
    return derive_event_id("sla-calendar", calendar_id, str(version))


def calendar_changed(
    cal: Calendar, *, now: datetime, agent_id: str | None = None, source: str = "<data>"
) -> CalendarChanged:
    """The CalendarChanged that puts `cal` in force from `now`.

    Raises CalendarChangeRefused, naming `source` and the field, for what the event cannot
    carry (see the module's docstring)."""
    what = f"calendar {cal.id} in {source}"
    if cal.kind == "calendar":
        raise CalendarChangeRefused(
            f"{what}: a 'calendar' kind counts all the time and has no hours to change; to "
            "count business hours on its queues, point their policy to a business calendar "
            "(acolhe sla change-policy)"
        )
    if cal.openings:
        raise CalendarChangeRefused(
            f"{what}: at openings: CalendarChanged cannot carry dated openings "
            f"({cal.openings[0].date}); remove them, or edit the calendar file and restart"
        )
    for i, closure in enumerate(cal.closures):
        if closure.closed != WHOLE_DAY:
            raise CalendarChangeRefused(
                f"{what}: at closures[{i}]: CalendarChanged carries whole-day closures only, "
                f"this one closes {closure.closed} on {closure.date}; close the whole day, "
                "or edit the calendar file and restart"
            )
    first = now.astimezone(ZoneInfo(cal.time_zone)).year
    listed = [
        ListedHoliday(date=h.date, name=h.name, scope=_SCOPES[h.holiday_set])
        for year in range(first, first + HOLIDAY_YEARS)
        for h in holidays(year, cal.holiday_sets)
    ]
    listed += [ListedHoliday(date=c.date, name=c.name, scope="office") for c in cal.closures]
    event_id = calendar_change_id(cal.id, cal.version)
    return CalendarChanged(
        event_id=event_id,
        occurred_at=now,
        correlation_id=event_id,
        calendar_id=cal.id,
        version=cal.version,
        time_zone=cal.time_zone,
        weekly_hours=tuple(
            OpeningHours(weekday=day + 1, opens=str(h)[:5], closes=str(h)[6:])
            for day, hours in enumerate(cal.weekly_hours)
            for h in hours
        ),
        breaks=tuple[Break, ...](),  # a gap between two intervals is the break
        holidays=tuple(sorted(listed, key=lambda h: (h.date, h.name))),
        effective_from=now,
        changed_by_agent_id=agent_id,
    )


def apply_calendar_change(policy: SlaPolicy, change: CalendarChanged) -> SlaPolicy:
    """The policy with the calendar `change` sets in force (a new id is added: a later
    change of policy may name it).

    A change the policy already has (the same calendar at the same or a later version: a
    redelivery or a stale copy) returns `policy` itself. Raises BadInput for a change that
    cannot be applied: CalendarChangeRefused, or CalendarError naming the faulty field.
    """
    current = policy.calendars.get(change.calendar_id)
    if current is not None and change.version <= current.version:
        return policy
    what = f"CalendarChanged {change.event_id} ({change.calendar_id} v{change.version})"
    if change.effective_from > change.occurred_at:
        raise CalendarChangeRefused(
            f"{what} takes effect at {change.effective_from.isoformat()}, after it was written "
            f"({change.occurred_at.isoformat()}): clocks take a change from when it is "
            "written, so write it when it takes effect"
        )
    if current is not None and current.kind == "calendar":
        raise CalendarChangeRefused(
            f"{what}: {current.id} counts all the time (kind 'calendar') and its clocks carry "
            "no calendar; point the queues' policy to a business calendar instead"
        )
    calendars = {**policy.calendars, change.calendar_id: calendar_from_change(change)}
    return SlaPolicy(
        version=policy.version, queues=policy.queues, calendars=MappingProxyType(calendars)
    )
