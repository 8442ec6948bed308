"""`acolhe sla change-calendar` and `acolhe sla change-policy` run against the real broker:
the change is written once into every partition of `acolhe.conversations` (where the SLA
clocks read it with each case's events) and into `acolhe.sla.config`, the same bytes and the
same event id in each; a calendar or policy version already in the log is refused (exit
status 2, the version to give instead) and writes nothing; `--dry-run` writes nothing.

The commands always write to the catalog's topics, which other runs share: each test names
its own calendar or policy and queues, and reads only what was written after the end offsets
it recorded before the command ran. "Writes nothing" compares those end offsets, so it
assumes nothing else writes to these topics while the test runs (the catalog's topics are
the running services' and the e2e tests', not the integration tests').
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

from schemas.catalog import TOPICS
from schemas.envelope import derive_event_id
from schemas.events import CalendarChanged, Holiday, SlaPolicyChanged
from streams.cli import main
from streams.cli.sla import CONVERSATIONS, SLA_CONFIG
from streams.shared.contract import Contract
from streams.shared.events import Received
from streams.shared.kafka import TopicSpec, ensure_topics, make_consumer, topic_partitions
from streams.shared.settings import Settings
from streams.sla.calendar_change import calendar_change_id
from streams.sla.calendar_file import DEFAULT_CALENDARS_PATH
from streams.stack.manager import Stack
from tests.integration.projecting import Positions, ends

TIMEOUT_S = 60.0
WRITTEN_TO = (CONVERSATIONS, SLA_CONFIG)
CLOSURE = Holiday(date=date(2031, 12, 24), name="Véspera de Natal", scope="office")


@pytest.fixture
def catalog_topics(stack: Stack, settings: Settings) -> list[TopicPartition]:
    """Every partition, as the broker has them, of the topics the commands write to (made
    sure of first, as the command does, so that their end offsets can be read before it)."""

    async def partitions() -> list[TopicPartition]:
        specs = [TopicSpec(t, partitions=TOPICS[t].partitions) for t in WRITTEN_TO]
        await ensure_topics(settings.kafka, specs)
        return [
            TopicPartition(t, p)
            for t in WRITTEN_TO
            for p in await topic_partitions(settings.kafka, t)
        ]

    return asyncio.run(asyncio.wait_for(partitions(), TIMEOUT_S))


async def _ends(settings: Settings) -> Positions:
    return {tp: offset for t in WRITTEN_TO for tp, offset in (await ends(settings, t)).items()}


def end_offsets(settings: Settings) -> Positions:
    """The end offset of every partition of the topics the commands write to."""
    return asyncio.run(asyncio.wait_for(_ends(settings), TIMEOUT_S))


def written_since(settings: Settings, before: Positions) -> list[tuple[Received, bytes]]:
    """Each event written to the topics after `before`, decoded, with its bytes."""

    async def read() -> list[tuple[Received, bytes]]:
        until = {TopicPartition(t, p): offset for (t, p), offset in (await _ends(settings)).items()}
        consumer = make_consumer(settings.kafka, group_id=None)
        await consumer.start()
        try:
            consumer.assign(list(until))
            for tp in until:
                consumer.seek(tp, before.get((tp.topic, tp.partition), 0))
            messages: list[Any] = []
            left = set(until)
            while left:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    messages += records
                left = {tp for tp in left if await consumer.position(tp) < until[tp]}
        finally:
            await consumer.stop()
        raw = {(m.topic, m.partition, m.offset): m.value for m in messages}
        contract = await Contract.open(settings)
        try:
            decoded = await contract.decode(messages)
        finally:
            await contract.close()
        return [
            (r, raw[(r.topic, r.partition, r.offset)]) for r in decoded if isinstance(r, Received)
        ]

    return asyncio.run(asyncio.wait_for(read(), TIMEOUT_S))


def a_calendar(calendar_id: str, version: int) -> dict[str, Any]:
    """The shipped office-hours calendar under another id, at `version`, with one closure."""
    shipped = json.loads(DEFAULT_CALENDARS_PATH.read_text(encoding="utf-8"))
    office: dict[str, Any] = shipped["calendars"][0]
    closure = {"date": CLOSURE.date.isoformat(), "name": CLOSURE.name}
    return {**office, "id": calendar_id, "version": version, "closures": [closure]}


def a_policy(policy_id: str, queues: list[str]) -> dict[str, Any]:
    return {
        "policy_id": policy_id,
        "version": 3,
        "queues": queues,
        "calendar": "office-hours",
        "pause_reasons": ["waiting_on_citizen"],
        "targets": {
            "normal": {
                "first_response": {"target": "2h", "warn_before": "30m"},
                "resolution": {"target": "35h", "warn_at": 0.8},
            }
        },
    }


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_calendar_change_is_written_once_into_every_partition_and_not_again(
    settings: Settings,
    catalog_topics: list[TopicPartition],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    calendar_id = f"test-cal-{uuid.uuid4().hex[:12]}"
    file = write_json(tmp_path / "calendar.json", a_calendar(calendar_id, version=2))
    before = end_offsets(settings)

    assert main(["sla", "change-calendar", str(file), "--agent", "sup-01"]) == 0
    assert "in force: written to" in capsys.readouterr().out

    ours = [
        (r, value)
        for r, value in written_since(settings, before)
        if r.event.name == CalendarChanged.NAME and r.event.record["calendar_id"] == calendar_id
    ]
    assert sorted((r.topic, r.partition) for r, _ in ours) == sorted(
        (tp.topic, tp.partition) for tp in catalog_topics
    )  # every partition of both topics, once each
    assert len({value for _, value in ours}) == 1  # byte-identical copies
    change = CalendarChanged.from_record(ours[0][0].event.record)
    assert change.event_id == calendar_change_id(calendar_id, 2)
    assert (change.version, change.time_zone, change.changed_by_agent_id) == (
        2,
        "America/Sao_Paulo",
        "sup-01",
    )
    assert CLOSURE in change.holidays
    assert len(change.weekly_hours) == 10

    # The same file again: the log has that version already; refused, nothing written.
    before_repeat = end_offsets(settings)
    assert main(["sla", "change-calendar", str(file)]) == 2
    out = capsys.readouterr().out
    assert f"{SLA_CONFIG} already has {calendar_id} v2; nothing written" in out
    assert "give the file version 3 or more" in out
    assert end_offsets(settings) == before_repeat


@pytest.mark.parametrize("command", ["change-calendar", "change-policy"])
def test_a_dry_run_prints_the_change_and_writes_nothing(
    command: str,
    settings: Settings,
    catalog_topics: list[TopicPartition],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = uuid.uuid4().hex[:12]
    if command == "change-calendar":
        data = a_calendar(f"test-cal-{run}", version=2)
        printed = f"test-cal-{run} v2 (America/Sao_Paulo): 10 intervals"
    else:
        data = a_policy(f"test-policy-{run}", [f"test-queue-{run}"])
        printed = f"test-policy-{run} v3 for queue test-queue-{run}: 2 targets"
    file = write_json(tmp_path / "change.json", data)
    before = end_offsets(settings)

    assert main(["sla", command, str(file), "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert printed in out
    assert "in force:" not in out
    assert end_offsets(settings) == before


def test_a_policy_change_is_written_into_every_partition_once_per_queue(
    settings: Settings,
    catalog_topics: list[TopicPartition],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = uuid.uuid4().hex[:12]
    policy_id, queues = f"test-policy-{run}", [f"test-queue-{run}-a", f"test-queue-{run}-b"]
    file = write_json(tmp_path / "policy.json", a_policy(policy_id, queues))
    before = end_offsets(settings)

    assert main(["sla", "change-policy", str(file), "--agent", "sup-01"]) == 0
    assert "in force: written to" in capsys.readouterr().out

    ours = [
        (r, value)
        for r, value in written_since(settings, before)
        if r.event.name == SlaPolicyChanged.NAME and r.event.record["policy_id"] == policy_id
    ]
    everywhere = sorted((tp.topic, tp.partition) for tp in catalog_topics)
    for queue in queues:
        copies = [(r, v) for r, v in ours if r.event.record["queue_id"] == queue]
        assert sorted((r.topic, r.partition) for r, _ in copies) == everywhere
        assert len({v for _, v in copies}) == 1  # byte-identical copies
        change = SlaPolicyChanged.from_record(copies[0][0].event.record)
        assert change.event_id == derive_event_id("sla-policy", policy_id, "3", queue)
        assert (change.version, change.calendar_id, change.changed_by_agent_id) == (
            3,
            "office-hours",
            "sup-01",
        )
        targets = {(t.priority, t.metric): t.target_ms for t in change.targets}
        assert targets == {
            ("normal", "first_response"): 2 * 3_600_000,
            ("normal", "resolution"): 35 * 3_600_000,
        }
    assert len(ours) == len(queues) * len(everywhere)  # nothing else of this policy

    # Again: the log has this policy at this version for both queues; the processor would
    # ignore it as stale, so it is refused, naming the latest version, and nothing is written.
    capsys.readouterr()
    before_repeat = end_offsets(settings)
    assert main(["sla", "change-policy", str(file)]) == 2
    out = capsys.readouterr().out
    assert f"{SLA_CONFIG} already has {policy_id} for {queues[0]} v3, {queues[1]} v3" in out
    assert "give the file version 4 or more" in out
    assert end_offsets(settings) == before_repeat

    # A later version of it goes through.
    write_json(file, {**a_policy(policy_id, queues), "version": 4})
    assert main(["sla", "change-policy", str(file)]) == 0
    newer = {
        r.event.record["event_id"]
        for r, _ in written_since(settings, before_repeat)
        if r.event.name == SlaPolicyChanged.NAME and r.event.record["policy_id"] == policy_id
    }
    assert newer == {derive_event_id("sla-policy", policy_id, "4", q) for q in queues}
