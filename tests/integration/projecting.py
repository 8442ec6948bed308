"""Helpers shared by the projector tests: where a topic ends, and running a projector until
the positions stored with its rows reach a point."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from streams.projections.projector import Projector
from streams.shared.kafka import make_consumer, topic_partitions
from streams.shared.settings import Settings

Positions = dict[tuple[str, int], int]


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
