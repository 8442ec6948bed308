"""`acolhe sla recompute` on the real broker and database: a history is published on a
test's own topic and run through a real SLA processor (its outputs on the test's own
topic), then recomputed from the log.

- With the processor's own files, the recomputed outcome and counted time of every clock
  equal the recorded ones (the replay is the processor's decisions again), in one process
  or in workers; skipping the log's change of policy changes exactly the clocks it moved.
- With a calendar that closes the Monday the office forgot, a resolution breached on the
  shipped calendar is met: the CSV row says they differ and the summary's counts move.
"""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import make_producer
from streams.shared.runtime import Processor
from streams.shared.settings import Settings
from streams.sla.calendar_file import DEFAULT_CALENDARS_PATH
from streams.sla.outcomes import compare, summarize
from streams.sla.processor import SlaCore
from streams.sla.recompute import Files, KeySpec, recompute
from tests.integration import test_sla_processor as history
from tests.integration.test_sla_processor import PARTITIONS, _for, run_until, sla_topics
from tests.unit.sla import builders as b

__all__ = ["sla_topics"]  # the fixture: a fresh input topic and three output topics

KEYED = (
    "CaseOpened",
    "CaseQueued",
    "MessageSent",
    "MessageReceived",
    "CasePutOnHold",
    "CaseResumed",
    "CaseClosed",
)


def targets(resolution: str, *, responses: bool) -> dict[str, Any]:
    found: dict[str, Any] = {"resolution": {"target": resolution, "warn_at": 0.8}}
    if responses:
        found["first_response"] = {"target": "7h", "warn_before": "2h"}
        found["next_response"] = {"target": "7h", "warn_before": "2h"}
    return found


def policy_file(tmp_path: Path, resolution: str, *, responses: bool = True) -> Path:
    """Not the shipped policy (a replay that ignored the files would count otherwise): one
    policy on office hours, its resolution target `resolution`, and response targets of 7h
    unless not `responses`."""
    path = tmp_path / "policy.json"
    policy = {
        "version": "test-recompute",
        "policies": [
            {
                "policy_id": "geral",
                "version": 1,
                "queues": ["*"],
                "calendar": "office-hours",
                "pause_reasons": ["waiting_on_citizen", "documents_pending", "external"],
                "targets": {
                    p: targets(resolution, responses=responses) for p in ("normal", "unknown")
                },
            }
        ],
    }
    path.write_text(json.dumps(policy), encoding="utf-8")
    return path


def monday_closed(tmp_path: Path) -> Path:
    """The shipped calendars with Monday 2 March 2026 closed (the holiday it lacked)."""
    data = json.loads(DEFAULT_CALENDARS_PATH.read_text(encoding="utf-8"))
    office = next(c for c in data["calendars"] if c["id"] == "office-hours")
    office["closures"] = [{"date": "2026-03-02", "name": "Ponte"}]
    path = tmp_path / "calendars-monday-closed.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


async def publish(
    settings: Settings, contract: Contract, topic: str, items: list[tuple[datetime, str, Any]]
) -> int:
    """Publish the items (time order; "broadcast" into every partition); the record count."""
    producer = make_producer(settings.kafka)
    await producer.start()
    routes = {name: TopicRoute(topic, "contact_id") for name in KEYED} | {
        "ClockTicked": TopicRoute(topic, "source"),
        "SlaPolicyChanged": TopicRoute(topic, "policy_id"),
    }
    publisher = contract.publisher(producer, source="/test", routes=routes)
    count = 0
    try:
        for _, kind, event in items:
            if kind == "keyed":
                await publisher.publish_many([(event.NAME, event.to_record())])
                count += 1
            else:
                everywhere = {topic: list(range(PARTITIONS))}
                await publisher.broadcast(event.NAME, event.to_record(), everywhere)
                count += PARTITIONS
    finally:
        await producer.stop()
    return count


async def record(
    settings: Settings, contract: Contract, files: Files, source: str, out: str, records: int
) -> None:
    """A real SLA processor over `files` reads `source` to its end and writes to `out`."""
    proc: Processor[Any] = Processor(
        SlaCore(files.load()),
        contract,
        settings.kafka,
        input_topic=source,
        routes={name: TopicRoute(out, "case_id") for name in history.OUTPUTS},
        group_id=f"test.sla.rc.{uuid.uuid4().hex}",
        max_records=40,  # many small batches, as in test_sla_processor
        checkpoint_interval_s=0.0,
    )
    await proc.start()
    try:
        await run_until(proc, records)
    finally:
        await proc.stop()


async def test_with_the_processors_files_every_clock_is_recomputed_as_recorded(
    settings: Settings,
    contract: Contract,
    sla_topics: tuple[str, list[str]],
    pg_schema: str,
    master_key: bytes,
    tmp_path: Path,
) -> None:
    source, (out, _, _) = sla_topics
    files = Files(policy_file(tmp_path, "20h"), DEFAULT_CALENDARS_PATH)
    # 30 cases: answered and closed, held for documents, ignored; a change of policy at
    # noon (first responses within 2h) in every partition.
    records = await publish(settings, contract, source, history.timeline())
    await record(settings, contract, files, source, out, records)
    keys = KeySpec(pg_schema, master_key)

    result = await asyncio.wait_for(
        recompute(settings, files, topic=source, sla_topic=out, keys=keys), 120
    )

    rows = compare(result.recorded, result.recomputed)
    assert result.replayed.records == records
    assert len(rows) == len(result.recorded) == len(result.recomputed) > history.CONTACTS
    assert [r for r in rows if r.differs] == []  # the determinism check
    assert {r.recorded for r in rows} == {"met", "breached"}
    assert {r.metric for r in rows if r.recorded == "breached"} == {
        "first_response",  # by the change at noon
        "resolution",  # 20h, not the shipped 70h: the files were read
    }

    in_workers = await asyncio.wait_for(
        recompute(settings, files, topic=source, sla_topic=out, keys=keys, workers=2), 120
    )
    assert in_workers.recomputed == result.recomputed

    # Without the log's change of policy the files alone apply: first responses get 7h.
    ignoring = await asyncio.wait_for(
        recompute(
            settings,
            files,
            topic=source,
            sla_topic=out,
            keys=keys,
            ignore_recorded_changes=True,
        ),
        120,
    )
    moved = [r for r in compare(ignoring.recorded, ignoring.recomputed) if r.differs]
    assert ignoring.replayed.skipped_changes == PARTITIONS
    assert moved
    assert {r.metric for r in moved} == {"first_response"}
    first = next(s for s in summarize(moved) if s.metric == "first_response")
    assert first.recomputed_breached < first.recorded_breached


def calendar_history() -> list[tuple[datetime, str, Any]]:
    """Three cases in queue familia-capital, ticks every 30 minutes from Monday 2 March 09:00
    to Tuesday 12:00, with a 4-hour resolution target (and none for responses):
    - A opened Monday 09:00, closed Tuesday 11:00: 9h counted, breached on Monday at 14:00;
      with Monday closed, 2h: met;
    - B opened Monday 16:00, closed Tuesday 10:00: 2h counted, met; with Monday closed, 1h;
    - C opened Tuesday 09:30, closed at 10:30: 1h either way."""
    lives = [
        (b.sp(3, 2, 9), b.sp(3, 3, 11)),
        (b.sp(3, 2, 16), b.sp(3, 3, 10)),
        (b.sp(3, 3, 9, 30), b.sp(3, 3, 10, 30)),
    ]
    items: list[tuple[datetime, str, Any]] = []
    for i, (start, end) in enumerate(lives):
        case: list[Any] = [b.opened(start), b.queued(start + timedelta(minutes=1)), b.closed(end)]
        items += [(e.occurred_at, "keyed", _for(e, i)) for e in case]
    tick_at = b.sp(3, 2, 9)
    while tick_at <= b.sp(3, 3, 12):
        items.append((tick_at, "broadcast", b.tick(tick_at)))
        tick_at += timedelta(minutes=30)
    items.sort(key=lambda item: (item[0], item[1] == "keyed"))
    return items


async def test_a_calendar_closing_the_day_turns_a_breach_into_a_met_target_in_the_report(
    settings: Settings,
    contract: Contract,
    sla_topics: tuple[str, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, (out, _, _) = sla_topics
    policy = policy_file(tmp_path, "4h", responses=False)  # one clock a case
    records = await publish(settings, contract, source, calendar_history())
    await record(settings, contract, Files(policy, DEFAULT_CALENDARS_PATH), source, out, records)
    csv_path = tmp_path / "report.csv"

    def command(calendars: Path, *extra: str) -> list[str]:
        return [
            "sla",
            "recompute",
            "--policy",
            str(policy),
            "--calendars",
            str(calendars),
            "--out",
            str(csv_path),
            "--topic",
            source,
            "--sla-topic",
            out,
            *extra,
        ]

    # The command's own shell and contract (no personal field in this history).
    status = await asyncio.to_thread(main, command(monday_closed(tmp_path)))
    assert status == 0
    printed = capsys.readouterr().out
    with csv_path.open(encoding="utf-8") as report:
        rows = {r["case_id"]: r for r in csv.DictReader(report)}
    case = f"{b.CASE}-{{}}"
    a, c_, later = rows[case.format(0)], rows[case.format(1)], rows[case.format(2)]
    assert (a["queue_id"], a["priority"], a["metric"]) == (b.GENERAL, "normal", "resolution")
    assert a["started_at"] == b.sp(3, 2, 9).isoformat()
    assert (a["recorded_outcome"], a["recomputed_outcome"], a["differs"]) == (
        "breached",
        "met",
        "true",
    )
    assert (a["recorded_counted_s"], a["recomputed_counted_s"]) == ("32400.000", "7200.000")
    assert (c_["recorded_outcome"], c_["recomputed_outcome"], c_["differs"]) == (
        "met",
        "met",
        "true",  # the same outcome, an hour less counted
    )
    assert (later["recorded_counted_s"], later["differs"]) == ("3600.000", "false")
    line = next(x for x in printed.splitlines() if x.startswith(b.GENERAL))
    assert line.split() == [
        b.GENERAL,
        "resolution",
        "3",
        *["2", "->", "3", "1", "->", "0", "66.7%", "->", "100.0%", "1"],
    ]
    assert "clocks started from the beginning until now: 3, 2 differ" in printed

    # A window: only the clocks started on Tuesday.
    status = await asyncio.to_thread(
        main, command(monday_closed(tmp_path), "--since", "2026-03-03")
    )
    assert status == 0
    assert "clocks started from 2026-03-03 until now: 1, 0 differ" in capsys.readouterr().out

    # The original files: every clock as recorded.
    status = await asyncio.to_thread(main, command(DEFAULT_CALENDARS_PATH))
    assert status == 0
    assert "3, 0 differ" in capsys.readouterr().out
    with csv_path.open(encoding="utf-8") as report:
        assert {r["differs"] for r in csv.DictReader(report)} == {"false"}
