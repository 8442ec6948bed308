"""The rebuild's pure parts: its jobs, its in-memory rows, its progress line."""

from __future__ import annotations

import asyncio
from datetime import date

from streams.cli.projections import render_progress
from streams.projections.rebuild import Job, MemoryRows, Progress, plan
from streams.projections.writer import Increment, Upsert


def test_jobs_are_whole_partitions_largest_first_and_empty_ones_left_out() -> None:
    jobs = plan(
        {
            ("cases", "conv", 0): (0, 10),
            ("cases", "conv", 1): (5, 5),
            ("cases", "conv", 2): (100, 400),
            ("sla_clocks", "sla", 0): (0, 50),
        }
    )
    assert jobs == [
        Job("cases", "conv", 2, 100, 400),
        Job("sla_clocks", "sla", 0, 0, 50),
        Job("cases", "conv", 0, 0, 10),
    ]


def case(case_id: str, contact: str, status: str) -> Upsert:
    return Upsert(
        "cases", ("case_id",), {"case_id": case_id, "contact_id": contact, "status": status}
    )


def test_memory_rows_know_each_contacts_open_case_and_sum_counts() -> None:
    memory = MemoryRows()
    key = (("day", date(2026, 3, 1)), ("area", "familia"), ("channel", "whatsapp"))
    memory.apply(
        [
            case("a", "c1", "queued"),
            case("b", "c2", "assigned"),
            Increment("daily_stats", key, {"cases_opened": 1}),
            case("a", "c1", "closed"),
            Increment("daily_stats", key, {"cases_opened": 1, "cases_closed": 1}),
        ]
    )
    opened = asyncio.run(memory.open_cases(["c1", "c2", "c3"]))
    assert [r["case_id"] for r in opened] == ["b"]
    assert asyncio.run(memory.rows("cases", "case_id", ["a", "z"])) == {
        "a": {"case_id": "a", "contact_id": "c1", "status": "closed"}
    }
    assert memory.counts() == [
        Increment("daily_stats", key, {"cases_opened": 2, "cases_closed": 1})
    ]


def test_the_progress_line_shows_share_rate_and_time_left() -> None:
    line = render_progress(
        Progress(done=250_000, total=1_000_000, elapsed_s=5.0, phase="replay"), 10
    )
    assert line == "[##........]  25%  250,000/1,000,000 records  50,000/s  0:00:15 left"
    assert render_progress(Progress(0, 10, 0.0, "replay"), 4).endswith("0/s  ? left")
