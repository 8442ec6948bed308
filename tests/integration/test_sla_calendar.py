"""A change of calendar on the real broker: a `CalendarChanged` written into every partition
of the processor's input moves the warnings and breaches of the open cases on that calendar
(the time counted before it kept), cases opened after it count in the new calendar, and a
worker restarted after it keeps the changed calendar (restored from the changelog)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from schemas.events import CalendarChanged
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import make_producer
from streams.shared.settings import Settings
from streams.sla.calendar import Closure
from streams.sla.calendar_change import calendar_changed
from tests.integration.test_sla_processor import (
    PARTITIONS,
    _for,
    processor,
    run_until,
    sla_topics,
)
from tests.unit.sla import builders as b

__all__ = ["sla_topics"]  # the fixture: a fresh input topic and three output topics

CONTACTS = 6
MONDAY_9 = b.sp(3, 2, 9)  # Monday 2 March 2026, 09:00 in São Paulo
CHANGE_AT = b.sp(3, 2, 10)


def monday_closed() -> CalendarChanged:
    """At 10:00 the office declares Monday 2 March closed (office-hours, version 2)."""
    office = b.POLICY.calendars["office-hours"]
    closed = dataclasses.replace(
        office, version=2, closures=(Closure(date=date(2026, 3, 2), name="Ponte"),)
    )
    return calendar_changed(closed, now=CHANGE_AT, agent_id="sup-01")


def timeline() -> list[tuple[datetime, str, Any]]:
    """Contacts 0-2 open a case before the change, 3-5 after it (at 11:00); ticks every
    30 minutes until Tuesday evening; the change into every partition."""
    items: list[tuple[datetime, str, Any]] = []
    for i in range(CONTACTS):
        start = (MONDAY_9 if i < CONTACTS // 2 else b.sp(3, 2, 11)) + timedelta(minutes=i)
        items += [(start, "keyed", _for(e, i)) for e in (b.opened(start), b.queued(start))]
    tick_at = MONDAY_9
    while tick_at <= b.sp(3, 3, 18):
        items.append((tick_at, "broadcast", b.tick(tick_at)))
        tick_at += timedelta(minutes=30)
    items.append((CHANGE_AT, "broadcast", monday_closed()))
    items.sort(key=lambda item: (item[0], item[1] == "keyed"))
    return items


async def publish(settings: Settings, contract: Contract, topic: str) -> tuple[int, int]:
    """Publish the timeline; (records in the topic, records up to the first case after the
    change: where a worker is stopped and another takes over)."""
    producer = make_producer(settings.kafka)
    await producer.start()
    routes = {name: TopicRoute(topic, "contact_id") for name in ("CaseOpened", "CaseQueued")} | {
        "ClockTicked": TopicRoute(topic, "source"),
        "CalendarChanged": TopicRoute(topic, "calendar_id"),
    }
    publisher = contract.publisher(producer, source="/test", routes=routes)
    count = split = 0
    try:
        for at, kind, event in timeline():
            if kind == "keyed":
                if at > CHANGE_AT and not split:
                    split = count
                await publisher.publish_many([(event.NAME, event.to_record())])
                count += 1
            else:
                await publisher.broadcast(
                    event.NAME, event.to_record(), {topic: list(range(PARTITIONS))}
                )
                count += PARTITIONS
    finally:
        await producer.stop()
    return count, split


async def outputs_of(settings: Settings, contract: Contract, topic: str) -> list[tuple[Any, ...]]:
    """(name, id, instant, counted time, deadline) of every output: the counted time too, as
    a worker that lost the changed calendar would count the same alarms differently."""
    return sorted(
        (
            r.event.record["event_id"],
            r.event.record["occurred_at"],
            r.event.record["elapsed_ms"],
            r.event.name,
            r.event.record["deadline_at"],
        )
        for r in await read_topic(settings.kafka, contract.decode, topic)
        if isinstance(r, Received)
    )


def alarms(outputs: list[tuple[Any, ...]]) -> list[tuple[str, datetime]]:
    return sorted(
        (name, at) for _, at, _, name, _ in outputs if name in ("SlaWarned", "SlaBreached")
    )


def expected() -> list[tuple[str, datetime]]:
    """First responses (7h, warned at 5h) and resolutions (70h) in the changed calendar.

    Opened before the change at 09:00+i: 60-i minutes counted on Monday, the rest from
    Tuesday 09:00: warned at 14:00+i, breached at 16:00+i (without the change: warned on
    Monday at 15:00+i, breached at Tuesday 09:00+i). Opened after it, on the closed Monday:
    all counted from Tuesday 09:00: warned at 15:00, breached at 17:00 (without the change:
    warned at 16:00+i on Monday)."""
    found = []
    for i in range(CONTACTS // 2):
        found += [
            ("SlaWarned", b.sp(3, 3, 14, i)),
            ("SlaBreached", b.sp(3, 3, 16, i)),
        ]
    later = [("SlaWarned", b.sp(3, 3, 15)), ("SlaBreached", b.sp(3, 3, 17))]
    found += later * (CONTACTS - CONTACTS // 2)
    return sorted(found)


async def test_a_change_of_calendar_moves_the_alarms_and_a_restart_keeps_it(
    settings: Settings, contract: Contract, sla_topics: tuple[str, list[str]]
) -> None:
    source, (single_out, restarted_out, _) = sla_topics
    records, split = await publish(settings, contract, source)

    single = processor(settings, contract, source, single_out, f"test.sla.cal.{uuid.uuid4().hex}")
    await single.start()
    try:
        await run_until(single, records)
    finally:
        await single.stop()

    # A worker stopped after the change, before the later cases; a new one in its group
    # restores the clocks and the calendar in force from the changelog and goes on.
    group = f"test.sla.cal.r.{uuid.uuid4().hex}"
    before = processor(settings, contract, source, restarted_out, group)
    before.max_records = 1  # stop right there
    await before.start()
    try:
        await run_until(before, split)
    finally:
        await before.stop()
    assert before.stats.events == split
    after = processor(settings, contract, source, restarted_out, group)
    await after.start()
    try:
        await run_until(after, records - before.stats.events)
        assert any(ctx.changes for ctx in after.contexts.values())  # restored, not re-read
    finally:
        await after.stop()

    original = await outputs_of(settings, contract, single_out)
    assert alarms(original) == expected()
    assert sorted(set(await outputs_of(settings, contract, restarted_out))) == original
