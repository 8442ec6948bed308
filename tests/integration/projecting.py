"""Helpers shared by the projector tests: publishing events to a test topic, where a topic
ends, and running a projector until the positions stored with its rows reach a point."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition

from streams.projections.projector import Projector
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import make_consumer, make_producer, topic_partitions
from streams.shared.settings import Settings

Positions = dict[tuple[str, int], int]


async def publish(
    settings: Settings,
    contract: Contract,
    topic: str,
    events: list[Any],
    *,
    key: str = "contact_id",
) -> None:
    """Publish events (sealed, acknowledged) to `topic`, keyed by their field `key`."""
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        routes = {e.NAME: TopicRoute(topic, key) for e in events}
        publisher = contract.publisher(producer, source="/test", routes=routes)
        await publisher.publish_many([(e.NAME, e.to_record()) for e in events])
    finally:
        await producer.stop()


async def ends(settings: Settings, topic: str) -> Positions:
    """The end offset of every partition of `topic`, keyed like the stored positions."""
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in await topic_partitions(settings.kafka, topic)]
        found = await consumer.end_offsets(parts)
        return {(tp.topic, tp.partition): offset for tp, offset in found.items()}
    finally:
        await consumer.stop()


def halfway(end: Positions) -> Positions:
    return {tp: offset // 2 for tp, offset in end.items()}


async def project(proj: Projector, until: Positions, *, timeout_s: float = 90) -> None:
    """Step until the positions stored with the rows reach `until` in every partition."""

    async def loop() -> None:
        while True:
            stored = await proj.positions()
            if all(stored.get(tp, 0) >= end for tp, end in until.items()):
                return
            await proj.step(timeout_ms=500)

    await asyncio.wait_for(loop(), timeout=timeout_s)


async def project_once(
    settings: Settings,
    contract: Contract,
    projection: Any,
    *,
    topic: str,
    schema: str,
    until: Positions,
    group: str,
    max_records: int = 5000,
) -> Projector:
    """A projector of its own group, run from the stored positions up to `until`, then
    stopped; returned for its stats."""
    proj = Projector(
        settings,
        contract,
        projection,
        schema=schema,
        topic=topic,
        group_id=group,
        max_records=max_records,
    )
    await proj.start()
    try:
        await project(proj, until)
    finally:
        await proj.stop()
    return proj
