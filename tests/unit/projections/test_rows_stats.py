"""What each change of a case or message row adds to the daily figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from streams.projections.rows_stats import case_counts, message_counts, office_day
from streams.projections.writer import summed

OPENED = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)  # 23:30 on March 1st in São Paulo


def case(**changes: Any) -> dict[str, Any]:
    row = {
        "channel": "whatsapp",
        "area": "unknown",
        "status": "in_triage",
        "opened_at": OPENED,
        "triaged_at": None,
        "closed_at": None,
    }
    return row | changes


def totals(increments: list[Any]) -> dict[tuple[Any, ...], dict[str, int]]:
    out = {}
    for (_, _, counted), sums in summed(increments).items():
        for key, values in sums.items():
            out[key] = dict(zip(counted, values, strict=True))
    return out


def test_the_office_day_is_sao_paulos() -> None:
    assert office_day(OPENED) == date(2026, 3, 1)


def test_a_new_case_counts_as_opened_in_area_unknown_on_its_office_day() -> None:
    assert totals(case_counts(None, case())) == {
        (date(2026, 3, 1), "unknown", "whatsapp"): {"cases_opened": 1}
    }


def test_the_first_triage_moves_the_opening_to_the_cases_area() -> None:
    before = case()
    after = case(area="familia", triaged_at=OPENED, status="queued")
    moved = case_counts(None, before) + case_counts(before, after)
    assert totals(moved) == {(date(2026, 3, 1), "familia", "whatsapp"): {"cases_opened": 1}}


def test_a_second_triage_moves_nothing() -> None:
    before = case(area="familia", triaged_at=OPENED)
    assert case_counts(before, case(area="criminal", triaged_at=OPENED)) == []


def test_closing_counts_once_on_the_day_it_closed() -> None:
    closed_at = datetime(2026, 3, 4, 15, tzinfo=UTC)
    before = case(area="saude", triaged_at=OPENED, status="assigned")
    after = case(area="saude", triaged_at=OPENED, status="closed", closed_at=closed_at)
    assert totals(case_counts(before, after)) == {
        (date(2026, 3, 4), "saude", "whatsapp"): {"cases_closed": 1}
    }
    assert case_counts(after, after) == []


def test_a_message_counts_in_its_cases_area_or_unknown_outside_a_case() -> None:
    message = {"direction": "in", "occurred_at": OPENED, "channel": "web_chat"}
    inside = message_counts(message, case(area="moradia"))
    outside = message_counts({**message, "direction": "out"}, None)
    assert totals([inside, outside]) == {
        (date(2026, 3, 1), "moradia", "web_chat"): {"messages_in": 1},
        (date(2026, 3, 1), "unknown", "web_chat"): {"messages_out": 1},
    }
