"""Kill the conversation worker (SIGKILL) at random instants, restart it, and the outputs,
counted once per event id, are exactly those of an uninterrupted run: nothing accepted is
lost, nothing is decided twice differently."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from schemas.codec import Codec, SchemaSet
from streams.conversation.processor import ConversationCore
from streams.demo.people import citizen_messages
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    group_lag,
    make_consumer,
    make_producer,
)
from streams.shared.settings import Settings
from tests.integration.workers.conversation import FixedKeys

CITIZENS = 1500


@pytest.fixture
async def out_topic(settings: Settings) -> AsyncIterator[str]:
    name = f"test.crash.out.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, partitions=6)])
    yield name
    await delete_topics(settings.kafka, [name])


def expected_outputs() -> set[str]:
    """The event ids an uninterrupted run produces: the pure core over the same inputs."""
    core = ConversationCore()
    states: dict[str, Any] = {}
    ids: set[str] = set()
    for n in range(CITIZENS):
        for message in citizen_messages(n):
            state = states.get(message.contact_id) or core.initial(message.contact_id)
            states[message.contact_id], outputs = core.handle(state, message)
            ids.update(o.event_id for o in outputs)
    return ids


async def test_killed_at_random_the_worker_loses_nothing_and_repeats_nothing_differently(
    settings: Settings, topic: str, out_topic: str, tmp_path: Path
) -> None:
    codec = Codec(SchemaSet.from_dirs())
    keys = FixedKeys()
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        pending = [
            await producer.send(
                topic, codec.encode(m.NAME, m.to_record(), keys), key=m.contact_id.encode()
            )
            for n in range(CITIZENS)
            for m in citizen_messages(n)
        ]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()

    group = f"test.crash.{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, WORKER_INPUT=topic, WORKER_OUTPUT=out_topic, WORKER_GROUP=group)
    chance = random.Random(20261128)
    kills = 0
    kills_mid_stream = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        log = tmp_path / f"worker-{kills}.log"
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.workers.conversation",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        try:
            if kills < 6:
                await asyncio.sleep(chance.uniform(1.0, 2.5))  # a random instant to die at
                worker.send_signal(signal.SIGKILL)
                kills += 1
                kills_mid_stream += await group_lag(settings.kafka, group, topic) > 0
            else:
                # Wait on the condition: every input consumed and committed.
                left = await group_lag(settings.kafka, group, topic)
                while left > 0 and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                    left = await group_lag(settings.kafka, group, topic)
                worker.send_signal(signal.SIGTERM)
                break
        finally:
            await asyncio.wait_for(worker.wait(), timeout=30)
    assert kills == 6
    assert kills_mid_stream >= 3, "the worker must die while it still has work"
    left = await group_lag(settings.kafka, group, topic)
    assert left == 0, (
        f"{left} inputs never processed; last worker said:\n" + log.read_text()[-3000:]
    )

    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(out_topic, p) for p in range(6)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)
        got: list[Any] = []
        while len(got) < sum(ends.values()):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                got.extend(records)
    finally:
        await consumer.stop()
    produced = [codec.peek(m.value).event_id for m in got]

    assert set(produced) == expected_outputs()
