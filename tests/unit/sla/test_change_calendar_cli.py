"""`acolhe sla change-calendar`: a calendar of the calendar file's format becomes the
CalendarChanged that puts it in force, checked as strictly as the file; a bad file is a
one-line message and exit status 2, never a traceback, and nothing is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.cli.sla import calendar_change_from
from streams.shared.errors import BadInput
from streams.sla.calendar_file import DEFAULT_CALENDARS_PATH

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULT_CALENDARS_PATH.read_text(encoding="utf-8"))
    return data


def office(**edits: Any) -> dict[str, Any]:
    """The shipped office-hours calendar, one version up, with these fields changed."""
    entry: dict[str, Any] = shipped()["calendars"][0]
    assert entry["id"] == "office-hours"
    return {**entry, "version": 2, **edits}


def test_a_calendar_entry_becomes_one_change_in_force_from_now() -> None:
    closures = [{"date": "2026-12-24", "name": "Véspera de Natal"}]

    change = calendar_change_from(office(closures=closures), now=NOW, agent_id="sup-01")

    assert (change.calendar_id, change.version, change.time_zone) == (
        "office-hours",
        2,
        "America/Sao_Paulo",
    )
    assert (change.effective_from, change.occurred_at, change.changed_by_agent_id) == (
        NOW,
        NOW,
        "sup-01",
    )
    assert len(change.weekly_hours) == 10  # two intervals (the lunch break between) x 5 days
    listed = {(h.date.isoformat(), h.scope) for h in change.holidays}
    assert {("2026-12-24", "office"), ("2026-12-25", "national"), ("2035-01-25", "city")} <= listed
    # The same file gives the same id: running the command twice records the change once.
    assert change.event_id == calendar_change_from(office(closures=closures), now=NOW).event_id


def test_a_whole_calendar_file_needs_the_calendar_chosen() -> None:
    data = shipped()
    data["calendars"][0]["version"] = 2

    with pytest.raises(BadInput, match="choose one with --calendar"):
        calendar_change_from(data, now=NOW, source="cal.json")
    assert calendar_change_from(data, now=NOW, calendar_id="office-hours").version == 2
    with pytest.raises(BadInput, match="no calendar 'plantao'"):
        calendar_change_from(data, now=NOW, calendar_id="plantao")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (office(version=1), "not above the shipped calendar's"),
        (
            office(weekly_hours={"mon": [{"opens": "18:00", "closes": "09:00"}]}),
            r"at weekly_hours\.mon\[0\]: ends before it starts",
        ),
        (office(holiday_sets=["sp_county"]), "unknown holiday set 'sp_county'"),
        (
            office(closures=[{"date": "2026-12-24", "name": "Véspera", "from": "12:00"}]),
            r"closures\[0\]: CalendarChanged carries whole-day closures only",
        ),
        (
            office(openings=[{"date": "2026-03-14", "name": "Mutirão", "hours": []}]),
            "an opening needs at least one interval",
        ),
        (
            {"id": "urgent-24x7", "version": 2, "kind": "calendar"},
            "counts all the time",
        ),
    ],
)
def test_a_bad_calendar_is_refused_with_the_field_and_the_fault(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        calendar_change_from(entry, now=NOW, source="cal.json")


def test_the_command_prints_what_it_would_write_or_why_it_cannot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "office.json"
    good.write_text(json.dumps(office()), encoding="utf-8")
    overlapping = tmp_path / "overlap.json"
    hours = [{"opens": "09:00", "closes": "12:00"}, {"opens": "11:00", "closes": "14:00"}]
    overlapping.write_text(json.dumps(office(weekly_hours={"mon": hours})), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")

    assert main(["sla", "change-calendar", str(good), "--dry-run"]) == 0
    assert "office-hours v2 (America/Sao_Paulo): 10 intervals" in capsys.readouterr().out
    assert main(["sla", "change-calendar", str(overlapping), "--dry-run"]) == 2
    out = capsys.readouterr().out
    assert "at weekly_hours.mon[1]: 11:00-14:00 overlaps" in out
    assert "Traceback" not in out
    assert main(["sla", "change-calendar", str(broken), "--dry-run"]) == 2
    assert "is not JSON" in capsys.readouterr().out
    assert main(["sla", "change-calendar", str(tmp_path / "missing.json"), "--dry-run"]) == 2
    assert "cannot read" in capsys.readouterr().out
    assert main(["sla", "change-calendar", str(good), "--calendar", "plantao", "--dry-run"]) == 2
    assert "not 'plantao'" in capsys.readouterr().out
