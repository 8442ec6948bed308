"""The pure counting of the read model's `daily_stats`: what one event adds, and where.

The case projection folds a batch of `acolhe.conversations` over the `cases` and
`case_messages` rows; for each event it knows the case row before and after, and whether
the message row is new. `counts` turns that into `Increment`s of daily_stats, written in
the same transaction as the rows and the offsets:

- a case counts as opened when its row is created (CaseOpened), on the office day it
  opened, in area `unknown`; its first CaseTriaged moves that count to the case's area
  (same day, same channel): the figures per area are those of the cases' areas;
- a case counts as closed when its row moves into `closed` (a repeated CaseClosed moves
  nothing), on the day it closed, in the case's area;
- a message counts when its `case_messages` row is created, on the day it was recorded,
  in the area of its case (`unknown` outside a case or before triage).

Counting changes of rows, not events, is what makes counts exact under at-least-once
delivery: a duplicate event (same id, later offset) changes no row and so counts nothing.
Imports no Kafka, Postgres, logging or clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from streams.projections.writer import Increment

DAILY_STATS: Final = "daily_stats"
OFFICE_TIME_ZONE: Final = ZoneInfo("America/Sao_Paulo")
"""Must equal the SQL function office_time_zone() of migration 0001."""
UNKNOWN: Final = "unknown"


def office_day(instant: datetime) -> date:
    """The office's calendar day of an instant (as SQL office_day())."""
    return instant.astimezone(OFFICE_TIME_ZONE).date()


def _add(day: date, area: str, channel: str, column: str, n: int = 1) -> Increment:
    return Increment(DAILY_STATS, (("day", day), ("area", area), ("channel", channel)), {column: n})


def case_counts(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[Increment]:
    """What a case row's change adds to daily_stats (opened, first triaged, closed)."""
    out: list[Increment] = []
    channel = after["channel"]
    opened = office_day(after["opened_at"])
    if before is None:
        out.append(_add(opened, after["area"], channel, "cases_opened"))
    elif (
        before["triaged_at"] is None
        and after["triaged_at"] is not None
        and before["area"] != after["area"]
    ):
        out.append(_add(opened, before["area"], channel, "cases_opened", -1))
        out.append(_add(opened, after["area"], channel, "cases_opened"))
    if after["status"] == "closed" and (before is None or before["status"] != "closed"):
        out.append(_add(office_day(after["closed_at"]), after["area"], channel, "cases_closed"))
    return out


def message_counts(message: Mapping[str, Any], case: Mapping[str, Any] | None) -> Increment:
    """What a new case_messages row adds to daily_stats."""
    column = "messages_in" if message["direction"] == "in" else "messages_out"
    area = case["area"] if case is not None else UNKNOWN
    return _add(office_day(message["occurred_at"]), area, message["channel"], column)
