"""Kafka clients built from the settings: idempotent producers, consumers, topic declaration.

Every producer acolhe makes is idempotent with acks=all: a retried send never writes a
record twice and an acknowledged record is on every in-sync replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from streams.shared.errors import BadInput, RetriableInfrastructureError
from streams.shared.settings import KafkaSettings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


class KeyPartitioner:
    """Kafka's default partitioner (murmur2 of the key, as the Java client computes it) with
    the hash of recent keys remembered.

    aiokafka computes murmur2 in pure Python, about 8 µs per record; the processors send
    several records per input to the same few thousand contacts and cases, so most hashes
    are for keys seen a moment ago. The partition chosen is exactly the default one.
    """

    def __init__(self, remember: int = 65536) -> None:
        self._hashes: dict[bytes, int] = {}
        self._remember = remember

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(DefaultPartitioner()(key, all_partitions, available))
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._remember:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


def make_producer(kafka: KafkaSettings, **overrides: object) -> AIOKafkaProducer:
    options: dict[str, object] = {
        **kafka.client_options(),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "partitioner": KeyPartitioner(),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    kafka: KafkaSettings, *topics: str, group_id: str | None, **overrides: object
) -> AIOKafkaConsumer:
    options: dict[str, object] = {
        **kafka.client_options(),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": 2000,
        "fetch_max_bytes": 16 * 1024 * 1024,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def fetch_until(
    consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]
) -> AsyncIterator[tuple[TopicPartition, list[Any]]]:
    """The records of the assigned (and already positioned) partitions up to `ends`, end
    excluded, fetch by fetch, in log order within each partition.

    It fetches until each partition's position reaches its end: counting records instead
    would never finish on a topic whose first offsets retention deleted, or that holds
    transaction markers. The caller bounds the time it may take."""
    waiting = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
    while waiting:
        for tp, records in (await consumer.getmany(*waiting, timeout_ms=1000)).items():
            yield tp, [m for m in records if m.offset < ends[tp]]
        waiting = [tp for tp in waiting if await consumer.position(tp) < ends[tp]]


class ReadIncomplete(RetriableInfrastructureError):
    """A whole-topic read did not reach the topic's end in time; the text says what to check."""


async def read_to_ends(
    consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int], topic: str, *, timeout_s: float
) -> list[tuple[TopicPartition, list[Any]]]:
    """`fetch_until`'s batches, all of them, in the order fetched; ReadIncomplete when they
    are not all read within `timeout_s` (a broker that stopped answering: a tool must not
    hang on it)."""
    batches: list[tuple[TopicPartition, list[Any]]] = []

    async def fetch() -> None:
        async for tp, records in fetch_until(consumer, ends):
            batches.append((tp, records))

    try:
        await asyncio.wait_for(fetch(), timeout_s)
    except TimeoutError as exc:
        raise ReadIncomplete(
            f"reading {topic} did not reach its end within {timeout_s:.0f} s: is the "
            "broker healthy? (`acolhe stack status`)"
        ) from exc
    return batches


async def ensure_topics(
    kafka: KafkaSettings, specs: Iterable[TopicSpec], *, ready_within_s: float = 30.0
) -> None:
    """Create the topics that do not exist yet (existing ones are left as they are), then
    wait until every partition of every topic asked for has a leader.

    Creating a topic only starts its leader elections: a producer that sends at once can
    find partitions without a leader and, on a fresh cluster, give up on them. Waiting here
    makes "declared" mean "ready to write"."""
    specs = list(specs)
    admin = AIOKafkaAdminClient(**kafka.client_options())
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.config)
            for s in specs
            if s.name not in existing
        ]
        if missing:
            # Created concurrently by another process: that is what we wanted.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        await _wait_for_leaders(admin, [s.name for s in specs], ready_within_s)
    except KafkaError as exc:
        raise RetriableInfrastructureError(f"could not declare Kafka topics: {exc!r}") from exc
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], within_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        described = await admin.describe_topics(names) if names else []
        waiting = sorted(
            entry["topic"]
            for entry in described
            if entry["error_code"] != 0
            or not entry["partitions"]
            or any(p["leader"] < 0 for p in entry["partitions"])
        )
        if not waiting:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RetriableInfrastructureError(
                f"Kafka topics {', '.join(waiting)} have partitions without a leader after "
                f"{within_s:.0f} s; check the broker's log (acolhe stack status)"
            )
        await asyncio.sleep(0.1)


async def delete_topics(kafka: KafkaSettings, names: Iterable[str]) -> None:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    try:
        await admin.start()
        await admin.delete_topics(list(names))
    except KafkaError as exc:
        raise RetriableInfrastructureError(f"could not delete Kafka topics: {exc!r}") from exc
    finally:
        await admin.close()


async def topic_partitions(kafka: KafkaSettings, topic: str) -> list[int]:
    """The partition numbers of `topic`, asked of the broker; BadInput if it does not exist."""
    admin = AIOKafkaAdminClient(**kafka.client_options())
    try:
        await admin.start()
        described = await admin.describe_topics([topic])
    except KafkaError as exc:
        raise RetriableInfrastructureError(f"could not describe topic {topic!r}: {exc!r}") from exc
    finally:
        await admin.close()
    for entry in described:
        if entry["topic"] == topic and entry["error_code"] == 0 and entry["partitions"]:
            return sorted(p["partition"] for p in entry["partitions"])
    raise BadInput(f"Kafka topic {topic!r} does not exist")


async def group_lag(kafka: KafkaSettings, group: str, topic: str) -> int:
    """Records of `topic` that consumer group `group` has not committed yet."""
    from aiokafka import TopicPartition

    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    parts = [TopicPartition(topic, p) for p in await topic_partitions(kafka, topic)]
    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in parts)
