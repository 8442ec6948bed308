"""A processor's changelog: the compacted topic its states are checkpointed to and restored
from, one partition per input partition.

Records: key = the state's key, value = its snapshot (`streams.shared.snapshots`: the
citizens' personal values sealed with their data key, so erasing a citizen reaches every
copy here too), or no value (a tombstone) when the key was deleted; the key CONTEXT_KEY
holds the partition's context, for cores that keep one. Restoring reads a partition from
its beginning to the end offset it had when the read began, keeping the last value of
each key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import TopicPartition

from streams.shared.kafka import make_consumer
from streams.shared.settings import KafkaSettings

CONTEXT_KEY = "\x00context"
"""The key of a partition's context (no state key starts with a NUL)."""


async def write(
    producer: Any,
    topic: str,
    states: Mapping[tuple[int, str], bytes | None],
    contexts: Mapping[int, bytes],
) -> None:
    """Write snapshots (None: a tombstone) and contexts, and wait for every acknowledgement."""
    pending = [
        await producer.send(topic, value=value, key=key.encode(), partition=partition)
        for (partition, key), value in states.items()
    ]
    for partition, value in sorted(contexts.items()):
        pending.append(
            await producer.send(topic, value=value, key=CONTEXT_KEY.encode(), partition=partition)
        )
    await asyncio.gather(*pending)


async def read(
    kafka: KafkaSettings, topic: str, partitions: Sequence[int], *, max_record_bytes: int
) -> dict[int, tuple[dict[str, bytes], bytes | None]]:
    """Per partition: the last snapshot of every key still alive, and the context if any."""
    reader = make_consumer(
        kafka,
        group_id=None,
        isolation_level="read_uncommitted",
        max_partition_fetch_bytes=max_record_bytes,
    )
    await reader.start()
    try:
        parts = [TopicPartition(topic, p) for p in partitions]
        reader.assign(parts)
        ends = await reader.end_offsets(parts)
        for tp in parts:
            await reader.seek_to_beginning(tp)
        remaining = {tp for tp in parts if ends[tp] > 0}
        found: dict[int, tuple[dict[str, bytes], bytes | None]] = {
            p: ({}, None) for p in partitions
        }
        while remaining:
            for tp, messages in (await reader.getmany(*remaining, timeout_ms=500)).items():
                states, context = found[tp.partition]
                for m in messages:
                    key = m.key.decode()
                    if key == CONTEXT_KEY:
                        context = m.value
                    elif m.value is None:
                        states.pop(key, None)  # a tombstone: the key was deleted
                    else:
                        states[key] = m.value
                found[tp.partition] = (states, context)
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await reader.stop()
