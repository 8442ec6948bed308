"""The timer writes each tick into every partition of the topics it serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka.structs import TopicPartition

from schemas.codec import Codec, SchemaSet
from streams.shared.kafka import make_consumer, make_producer
from streams.shared.settings import Settings
from streams.timer.service import Timer


async def test_each_partition_gets_the_same_tick_in_order(settings: Settings, topic: str) -> None:
    now = [datetime(2026, 11, 28, 12, 0, 0, 500_000, tzinfo=UTC)]
    codec = Codec(SchemaSet.from_dirs())
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        timer = Timer(producer, codec, {topic: range(6)}, clock=lambda: now[0])
        first = await timer.beat()
        assert await timer.beat() is None  # same interval: nothing new
        now[0] += timedelta(seconds=1)
        second = await timer.beat()
    finally:
        await producer.stop()
    assert first is not None
    assert second == first + 1

    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(6)]
        consumer.assign(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)
        seen: dict[int, list[int]] = {p: [] for p in range(6)}
        while sum(map(len, seen.values())) < 12:
            for tp, messages in (await consumer.getmany(timeout_ms=1000)).items():
                for m in messages:
                    decoded = codec.decode(m.value)
                    assert decoded.name == "ClockTicked"
                    seen[tp.partition].append(decoded.record["sequence"])
    finally:
        await consumer.stop()
    assert all(sequences == [first, second] for sequences in seen.values())
