"""The SLA processor on the real broker: the same log replayed gives the same SLA events at
the same instants, a change of policy reaches every partition at its point in the log, a
restart resumes where the changelog left off, and closed cases leave no state behind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics, make_producer
from streams.shared.runtime import Processor
from streams.shared.settings import Settings
from streams.sla.processor import SlaCore
from tests.unit.sla import builders as b

PARTITIONS = 3
CONTACTS = 30
OUTPUTS = ("SlaStarted", "SlaPaused", "SlaResumed", "SlaWarned", "SlaBreached", "SlaMet")
MONDAY = b.sp(3, 2, 9, 0)  # Monday 2 March 2026, 09:00 in São Paulo
CHANGE_AT = b.sp(3, 2, 12, 0)


def _for(event: Any, i: int) -> Any:
    """The builders' event (one case) made into contact i's."""
    record = event.to_record()
    record["event_id"] = f"{record['event_id']}-{i}"
    for field in ("case_id", "subject_id", "citizen_id", "correlation_id"):
        if record.get(field):
            record[field] = f"{record[field]}-{i}"
    if "contact_id" in record:  # every case fact on the conversations topic names its contact
        record["contact_id"] = f"{b.CONTACT}-{i}"
    return type(event).from_record(record)


def life(i: int) -> list[Any]:
    """Three kinds of case: answered and closed; held for documents, then closed; ignored."""
    start = MONDAY + timedelta(minutes=i)
    events = [b.opened(start), b.queued(start + timedelta(minutes=1))]
    if i % 3 == 0:
        events += [
            b.replied(start + timedelta(minutes=30)),
            b.wrote(start + timedelta(hours=1)),
            b.replied(start + timedelta(hours=2)),
            b.closed(start + timedelta(hours=3)),
        ]
    elif i % 3 == 1:
        events += [
            b.held(start + timedelta(minutes=50), "documents_pending"),
            b.resumed(start + timedelta(days=1)),
            b.closed(start + timedelta(days=1, hours=2)),
        ]
    return [_for(e, i) for e in events]


def timeline() -> list[tuple[datetime, str, Any]]:
    """Every record in time order: case events ("keyed"), and ticks and one change of
    policy for every partition ("broadcast")."""
    items: list[tuple[datetime, str, Any]] = [
        (e.occurred_at, "keyed", e) for i in range(CONTACTS) for e in life(i)
    ]
    tick_at = MONDAY
    while tick_at <= MONDAY + timedelta(days=2, hours=9):
        items.append((tick_at, "broadcast", b.tick(tick_at)))
        tick_at += timedelta(minutes=30)
    # From noon on, normal cases must get a first answer within 2 business hours, not 7.
    change = b.policy_changed(
        CHANGE_AT,
        [
            (p, m, 2 * b.HOUR, 30 * b.MINUTE)
            for p in ("normal", "unknown")
            for m in ("first_response",)
        ],
    )
    items.append((CHANGE_AT, "broadcast", change))
    items.sort(key=lambda item: (item[0], item[1] == "keyed"))  # time first, broadcasts first
    return items


@pytest.fixture
async def sla_topics(settings: Settings) -> AsyncIterator[tuple[str, list[str]]]:
    run = uuid.uuid4().hex[:8]
    source, outs = f"test.sla.in.{run}", [f"test.sla.out.{run}.{n}" for n in range(3)]
    await ensure_topics(
        settings.kafka,
        [TopicSpec(source, PARTITIONS), *(TopicSpec(o, PARTITIONS) for o in outs)],
    )
    yield source, outs
    await delete_topics(settings.kafka, [source, *outs])


async def publish(settings: Settings, contract: Contract, topic: str) -> int:
    """Publish the timeline; returns how many records the topic holds."""
    producer = make_producer(settings.kafka)
    await producer.start()
    routes = {
        name: TopicRoute(topic, "contact_id")
        for name in (
            "CaseOpened",
            "CaseQueued",
            "MessageSent",
            "MessageReceived",
            "CasePutOnHold",
            "CaseResumed",
            "CaseClosed",
        )
    } | {
        "ClockTicked": TopicRoute(topic, "source"),
        "SlaPolicyChanged": TopicRoute(topic, "policy_id"),
    }
    publisher = contract.publisher(producer, source="/test", routes=routes)
    count = 0
    try:
        for _, kind, event in timeline():
            if kind == "keyed":
                await publisher.publish_many([(event.NAME, event.to_record())])
                count += 1
            else:
                await publisher.broadcast(
                    event.NAME, event.to_record(), {topic: list(range(PARTITIONS))}
                )
                count += PARTITIONS
    finally:
        await producer.stop()
    return count


def processor(settings: Settings, contract: Contract, source: str, out: str, group: str) -> Any:
    return Processor(
        SlaCore(b.POLICY),
        contract,
        settings.kafka,
        input_topic=source,
        routes={name: TopicRoute(out, "case_id") for name in OUTPUTS},
        group_id=group,
        max_records=40,  # many small batches: checkpoints fall inside case lives
        checkpoint_interval_s=0.0,
    )


async def run_until(proc: Any, records: int) -> None:
    async def loop() -> None:
        while proc.stats.events < records:
            await proc.step(timeout_ms=500)

    await asyncio.wait_for(loop(), timeout=90)


async def outputs_of(settings: Settings, contract: Contract, topic: str) -> list[tuple[Any, ...]]:
    return sorted(
        (r.event.name, r.event.record["event_id"], r.event.record["occurred_at"])
        for r in await read_topic(settings.kafka, contract.decode, topic)
        if isinstance(r, Received)
    )


async def test_a_replay_gives_the_same_sla_events_at_the_same_instants(
    settings: Settings, contract: Contract, sla_topics: tuple[str, list[str]]
) -> None:
    source, (first_out, replay_out, restarted_out) = sla_topics
    records = await publish(settings, contract, source)

    first = processor(settings, contract, source, first_out, f"test.sla.a.{uuid.uuid4().hex}")
    await first.start()
    try:
        await run_until(first, records)
        kept = {p: sorted(states) for p, states in first.states.items()}
    finally:
        await first.stop()

    replay = processor(settings, contract, source, replay_out, f"test.sla.b.{uuid.uuid4().hex}")
    await replay.start()
    try:
        await run_until(replay, records)
    finally:
        await replay.stop()

    # A worker stopped mid-log and a new one in the same group: it restores the states and
    # the policy in force from the changelog and goes on.
    group = f"test.sla.c.{uuid.uuid4().hex}"
    before = processor(settings, contract, source, restarted_out, group)
    await before.start()
    try:
        await run_until(before, records // 2)
    finally:
        await before.stop()
    after = processor(settings, contract, source, restarted_out, group)
    await after.start()
    try:
        await run_until(after, records - before.stats.events)
        # The partitions it read again, restored from the changelog (tombstones deleting):
        restored = {p: sorted(states) for p, states in after.states.items()}
    finally:
        await after.stop()

    original = await outputs_of(settings, contract, first_out)
    assert len(set(original)) == len(original)  # one id per output, even for ticks' outputs
    assert original == await outputs_of(settings, contract, replay_out)
    assert sorted(set(await outputs_of(settings, contract, restarted_out))) == original

    names = [name for name, _, _ in original]
    assert {"SlaStarted", "SlaMet", "SlaPaused", "SlaResumed", "SlaBreached"} <= set(names)
    # Ignored cases (a third) breach their first response under the tighter policy, every
    # one at the change itself (their 2 hours were already over by noon), whichever
    # partition holds them.
    breaches = [at for name, _, at in original if name == "SlaBreached"]
    assert breaches.count(CHANGE_AT) == CONTACTS // 3
    # Closed cases leave nothing behind; only the ignored ones keep clocks.
    assert sum(map(len, kept.values())) == CONTACTS // 3
    assert restored
    assert restored == {p: kept[p] for p in restored}
