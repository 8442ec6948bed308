"""Reading the dead-letter topic, and the one original record a replay may need.

Kafka only (the dead letters hold no sealed field, so no key store is opened: listing
works while Postgres is down). Every Kafka failure becomes a `RetriableInfrastructureError`
that says what to check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from schemas.events import InputDeadLettered
from schemas.personal import InMemoryKeyRing
from streams.deadletters.select import Position
from streams.shared.contract import Contract
from streams.shared.errors import BadInput, RetriableInfrastructureError
from streams.shared.kafka import ReadIncomplete, make_consumer, read_to_ends, topic_partitions
from streams.shared.settings import KafkaSettings, Settings

READ_TIMEOUT_S: Final = 60.0
# Seeking by time uses the records' Kafka timestamps, which the producer (or, with
# LogAppendTime, the broker) sets just after `dead_lettered_at`: the margin covers clocks
# that disagree; the exact filter is applied on `dead_lettered_at` afterwards.
SEEK_MARGIN: Final = timedelta(hours=1)
WANTED: Final = frozenset({InputDeadLettered.NAME})

T = TypeVar("T")


class NoKeys(InMemoryKeyRing):
    """The key source for reading dead letters: InputDeadLettered has no sealed field."""

    async def ensure(self, subjects: object) -> None:
        return None

    async def load(self, subjects: object) -> None:
        return None


@dataclass(frozen=True)
class DeadLetters:
    records: list[InputDeadLettered]
    not_dead_letters: int  # records on the topic that are not InputDeadLettered events
    topic_exists: bool = True


@dataclass(frozen=True)
class Original:
    """A Kafka record as it was read: what a replay writes back."""

    value: bytes | None
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]


async def open_contract(settings: Settings) -> Contract:
    """The codec (and the schema registry with `confluent` framing), without Postgres."""
    return await Contract.open(settings, keys=NoKeys())


async def read_dead_letters(
    settings: Settings, contract: Contract, topic: str, *, since: datetime | None = None
) -> DeadLetters:
    """Every dead letter now on `topic` (from about `since`, when given), in log order
    within each partition. A topic that does not exist yet holds none."""
    kafka = settings.kafka
    try:
        numbers = await _kafka(topic_partitions(kafka, topic), kafka)
    except BadInput:
        return DeadLetters([], 0, topic_exists=False)
    consumer = make_consumer(kafka, group_id=None)
    try:
        await _kafka(consumer.start(), kafka)
        parts = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(parts)
        ends = await _kafka(consumer.end_offsets(parts), kafka)
        starts: dict[TopicPartition, Any] = {}
        if since is not None:
            moment = int((since - SEEK_MARGIN).timestamp() * 1000)
            starts = await _kafka(consumer.offsets_for_times(dict.fromkeys(parts, moment)), kafka)
        for tp in parts:
            found = starts.get(tp)
            if since is None:
                await consumer.seek_to_beginning(tp)
            elif found is None:  # nothing that recent in this partition
                consumer.seek(tp, ends[tp])
            else:
                consumer.seek(tp, found.offset)
        read = read_to_ends(consumer, ends, topic, timeout_s=READ_TIMEOUT_S)
        messages = [m for _, records in await _kafka(read, kafka) for m in records]
    finally:
        await consumer.stop()
    events, _ = await contract.read(messages, WANTED)
    records = [e for _, e in events if isinstance(e, InputDeadLettered)]
    return DeadLetters(records, len(messages) - len(records))


async def read_original(settings: Settings, where: Position) -> Original | None:
    """The record at `where`, or None when retention has deleted it."""
    kafka = settings.kafka
    tp = TopicPartition(where.topic, where.partition)
    consumer = make_consumer(kafka, group_id=None, max_poll_records=1)
    try:
        await _kafka(consumer.start(), kafka)
        consumer.assign([tp])
        first = (await _kafka(consumer.beginning_offsets([tp]), kafka))[tp]
        end = (await _kafka(consumer.end_offsets([tp]), kafka))[tp]
        if not first <= where.offset < end:
            return None
        consumer.seek(tp, where.offset)

        async def fetch() -> Any:
            while await consumer.position(tp) < end:
                for m in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                    if m.offset == where.offset:
                        return m
                    if m.offset > where.offset:  # compacted away, or a transaction marker
                        return None
            return None

        found = await _kafka(asyncio.wait_for(fetch(), READ_TIMEOUT_S), kafka)
    finally:
        await consumer.stop()
    if found is None:
        return None
    return Original(found.value, found.key, tuple(found.headers or ()))


async def _kafka(call: Awaitable[T], kafka: KafkaSettings) -> T:
    try:
        return await call
    except ReadIncomplete:
        raise  # it says what to check already
    except (KafkaError, RetriableInfrastructureError) as exc:
        cause = exc.__cause__ if isinstance(exc, RetriableInfrastructureError) else exc
        raise RetriableInfrastructureError(
            f"cannot read from Kafka at {kafka.bootstrap_servers}: {cause or exc}; check that "
            "the broker runs (`acolhe stack status`) and ACOLHE_KAFKA_BOOTSTRAP_SERVERS"
        ) from exc
