"""`acolhe sla recompute`'s pure parts: the outcome of a clock from its events, two histories
compared clock by clock, the CSV and the summary per queue and metric, and the arguments
refused before any I/O (exit status 2, the option or field and the fault)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.events import SlaBreached, SlaMet, SlaStarted, SlaWarned
from streams.cli import main
from streams.shared.errors import BadInput
from streams.sla.calendar_file import DEFAULT_CALENDARS_PATH
from streams.sla.outcomes import (
    CSV_COLUMNS,
    Outcomes,
    Window,
    compare,
    format_summary,
    summarize,
    window_of,
    write_csv,
)
from streams.sla.policy import DEFAULT_POLICY_PATH
from tests.unit.sla import builders as b

MONDAY_9 = b.sp(3, 2, 9)


def event(kind: str, clock: str, at_h: float, elapsed_h: float, **extra: Any) -> Any:
    """An Sla* event of clock `clock` (case `case-<clock>`), `at_h` hours after Monday 09:00."""
    common: dict[str, Any] = {
        "event_id": f"{kind}-{clock}-{at_h}",
        "occurred_at": b.later(MONDAY_9, hours=at_h),
        "correlation_id": f"case-{clock}",
        "case_id": f"case-{clock}",
        "clock_id": clock,
        "queue_id": extra.pop("queue_id", b.GENERAL),
        "metric": extra.pop("metric", "first_response"),
        "priority": extra.pop("priority", "normal"),
        "policy_id": "geral",
        "policy_version": 1,
        "calendar_id": "office-hours",
        "target_ms": 7 * b.HOUR,
        "elapsed_ms": round(elapsed_h * b.HOUR),
    }
    kinds: dict[str, Any] = {
        "started": SlaStarted,
        "warned": SlaWarned,
        "breached": SlaBreached,
        "met": SlaMet,
    }
    if kind == "warned":
        extra.setdefault("warning_ms", 5 * b.HOUR)
    return kinds[kind](**common, **extra)


def folded(*events: Any) -> Outcomes:
    outcomes = Outcomes()
    for e in events:
        outcomes.add(e.NAME, e.to_record())
    return outcomes


# -- one clock's outcome --------------------------------------------------------------------


def test_a_clock_met_in_time_is_met_with_its_counted_time() -> None:
    clock = folded(
        event("started", "c1", 0, 0, queue_id="*", priority="unknown"),
        event("met", "c1", 2, 2, within_target=True),
    ).clocks["c1"]
    assert (clock.outcome, clock.counted_ms, clock.started_at) == ("met", 2 * b.HOUR, MONDAY_9)
    assert (clock.queue_id, clock.priority) == (b.GENERAL, "normal")  # its latest event's


def test_a_goal_reached_after_the_breach_stays_breached_whatever_the_order() -> None:
    events = [
        event("started", "c1", 0, 0),
        event("warned", "c1", 5, 5),
        event("breached", "c1", 7, 7),
        event("met", "c1", 9, 9, within_target=False),
    ]
    for order in (events, events[::-1], events + events):  # duplicates change nothing
        clock = folded(*order).clocks["c1"]
        assert (clock.outcome, clock.counted_ms, clock.started_at) == (
            "breached",
            9 * b.HOUR,
            MONDAY_9,
        )


def test_a_clock_without_goal_or_breach_is_running_at_its_last_counted_time() -> None:
    clock = folded(event("started", "c1", 0, 0), event("warned", "c1", 5, 5)).clocks["c1"]
    assert (clock.outcome, clock.counted_ms) == ("running", 5 * b.HOUR)


def test_events_of_other_types_are_ignored() -> None:
    outcomes = Outcomes()
    outcomes.add("CaseOpened", {"clock_id": "x"})
    assert outcomes.clocks == {}


# -- two histories compared -----------------------------------------------------------------


def histories() -> tuple[Outcomes, Outcomes]:
    """c1 breached then met within target under the recompute; c2 met both ways; c3 a
    clock only the recorded history has (its pair lost its target); c4 running, started on
    Tuesday, the same both ways."""
    recorded = folded(
        event("started", "c1", 0, 0),
        event("breached", "c1", 8, 7),
        event("met", "c1", 26, 9, within_target=False),
        event("started", "c2", 1, 0, metric="resolution"),
        event("met", "c2", 3, 2, within_target=True, metric="resolution"),
        event("started", "c3", 1, 0, metric="next_response"),
        event("started", "c4", 24, 0),
    )
    recomputed = folded(
        event("started", "c1", 0, 0),
        event("met", "c1", 26, 2, within_target=True),
        event("started", "c2", 1, 0, metric="resolution"),
        event("met", "c2", 3, 2, within_target=True, metric="resolution"),
        event("started", "c4", 24, 0),
    )
    return recorded, recomputed


def test_each_clock_of_either_history_is_one_row_saying_whether_they_differ() -> None:
    recorded, recomputed = histories()
    rows = {r.clock_id: r for r in compare(recorded.clocks, recomputed.clocks)}
    assert [(r.recorded, r.recomputed, r.differs) for r in rows.values()] == [
        ("breached", "met", True),
        ("met", "met", False),
        ("running", "none", True),
        ("running", "running", False),
    ]
    assert (rows["c1"].recorded_ms, rows["c1"].recomputed_ms) == (9 * b.HOUR, 2 * b.HOUR)
    assert rows["c3"].recomputed_ms is None


def test_the_window_keeps_the_clocks_started_from_since_until_before_until() -> None:
    recorded, recomputed = histories()
    tuesday = b.sp(3, 3)
    assert [r.clock_id for r in compare(recorded.clocks, recomputed.clocks, Window(tuesday))] == [
        "c4"
    ]
    before = Window(until=b.later(MONDAY_9, hours=1))  # c2 and c3 start at 10:00: left out
    assert [r.clock_id for r in compare(recorded.clocks, recomputed.clocks, before)] == ["c1"]


def test_the_summary_counts_met_and_breached_each_way_per_queue_and_metric() -> None:
    recorded, recomputed = histories()
    summaries = summarize(compare(recorded.clocks, recomputed.clocks))
    first = next(s for s in summaries if s.metric == "first_response")
    assert (first.clocks, first.recorded_met, first.recorded_breached) == (2, 0, 1)
    assert (first.recomputed_met, first.recomputed_breached, first.changed) == (1, 0, 1)
    assert (first.recorded_compliance, first.recomputed_compliance) == (0.0, 100.0)
    upcoming = next(s for s in summaries if s.metric == "next_response")
    assert upcoming.recorded_compliance is None  # running only: no compliance yet
    table = format_summary(summaries)
    assert table.splitlines()[0].split() == [
        "queue",
        "metric",
        "clocks",
        "met",
        "breached",
        "compliance",
        "changed",
    ]
    row = next(line for line in table.splitlines() if "first_response" in line)
    assert row.split() == [
        b.GENERAL,
        "first_response",
        "2",
        *["0", "->", "1", "1", "->", "0", "0.0%", "->", "100.0%", "1"],
    ]


def test_the_csv_has_one_row_per_clock_with_ids_outcomes_and_seconds() -> None:
    recorded, recomputed = histories()
    out = io.StringIO()
    write_csv(compare(recorded.clocks, recomputed.clocks), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert lines[1] == (
        f"c1,case-c1,{b.GENERAL},normal,first_response,{MONDAY_9.isoformat()},"
        "breached,met,32400.000,7200.000,true"
    )
    assert lines[3].endswith(",running,none,0.000,,true")
    assert len(lines) == 5


# -- the window's arguments -----------------------------------------------------------------


def test_a_bare_date_begins_at_midnight_in_sao_paulo() -> None:
    window = window_of("2026-03-01", "2026-04-01T00:00:00+00:00")
    assert window.since == b.sp(3, 1)
    assert window.until == b.sp(3, 31, 21)  # UTC midnight, as given


@pytest.mark.parametrize(
    ("since", "until", "fault"),
    [
        ("2026-04-01", "2026-03-01", "--since 2026-04-01 is not before --until 2026-03-01"),
        ("2026-03-01", "2026-03-01", "is not before --until"),
        ("2026-02-30", None, "--since '2026-02-30' is not an ISO date"),
        (None, "yesterday", "--until 'yesterday' is not an ISO date"),
    ],
)
def test_a_bad_window_is_refused_naming_the_option(
    since: str | None, until: str | None, fault: str
) -> None:
    with pytest.raises(BadInput, match=fault):
        window_of(since, until)


# -- the command refuses bad input before any I/O --------------------------------------------


def recompute(*extra: str) -> list[str]:
    return ["sla", "recompute", "--policy", str(DEFAULT_POLICY_PATH), *extra]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().err


def test_since_after_until_is_refused_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run(
        recompute(
            "--calendars",
            str(DEFAULT_CALENDARS_PATH),
            "--since",
            "2026-04-01",
            "--until",
            "2026-03",
        ),
        capsys,
    )
    assert status == 2
    assert "--until '2026-03' is not an ISO date" in err


def test_a_faulty_calendar_file_is_refused_naming_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(DEFAULT_CALENDARS_PATH.read_text(encoding="utf-8"))
    data["calendars"][0]["weekly_hours"]["mon"].append({"opens": "11:00", "closes": "14:00"})
    faulty = tmp_path / "calendars.json"
    faulty.write_text(json.dumps(data), encoding="utf-8")
    status, err = run(recompute("--calendars", str(faulty)), capsys)
    assert status == 2
    assert f"calendar file {faulty}: at calendars[0].weekly_hours.mon[2]: 11:00-14:00" in err


def test_a_policy_naming_a_calendar_the_file_lacks_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(DEFAULT_CALENDARS_PATH.read_text(encoding="utf-8"))
    data["calendars"] = [c for c in data["calendars"] if c["id"] != "urgent-24x7"]
    calendars = tmp_path / "calendars.json"
    calendars.write_text(json.dumps(data), encoding="utf-8")
    status, err = run(recompute("--calendars", str(calendars)), capsys)
    assert status == 2
    assert f"SLA policy {DEFAULT_POLICY_PATH}: at policies[1].calendar: unknown calendar" in err


def test_an_out_path_in_no_folder_or_a_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cal = str(DEFAULT_CALENDARS_PATH)
    status, err = run(
        recompute("--calendars", cal, "--out", str(tmp_path / "no" / "r.csv")), capsys
    )
    assert (status, "does not exist" in err) == (2, True)
    status, err = run(recompute("--calendars", cal, "--out", str(tmp_path)), capsys)
    assert (status, "is a directory" in err) == (2, True)
    status, err = run(recompute("--calendars", cal, "--workers", "0"), capsys)
    assert (status, "--workers 0 must be 1 or more" in err) == (2, True)
