"""Events travel through the real broker with their envelope, sealed, and shred on erasure."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from bench.samples import message_received, routing_decided
from schemas.personal import ERASED
from streams.shared.contract import Contract
from streams.shared.events import Received, Rejected
from streams.shared.kafka import make_consumer, make_producer
from streams.shared.keystore import PostgresKeyStore
from streams.shared.settings import Settings


@dataclass(frozen=True)
class Route:
    topic: str
    key_field: str


@pytest.fixture
async def contract(settings: Settings, pg_schema: str) -> AsyncIterator[Contract]:
    import asyncpg

    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=2)
    store = PostgresKeyStore(pool, os.urandom(32), schema=pg_schema)
    await store.create_tables()
    contract = await Contract.open(settings, keys=store)
    yield contract
    await contract.close()
    await pool.close()


async def _read_all(settings: Settings, topic: str, contract: Contract) -> list[Any]:
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(6)]
        consumer.assign(parts)
        end = await consumer.end_offsets(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)
        messages: list[Any] = []
        while len(messages) < sum(end.values()):
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                messages.extend(records)
    finally:
        await consumer.stop()
    return await contract.decode(messages)


async def test_published_events_come_back_with_their_envelope_and_personal_data(
    settings: Settings, topic: str, contract: Contract
) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        routes = {
            "MessageReceived": Route(topic, "contact_id"),
            "RoutingDecided": Route(topic, "case_id"),
        }
        publisher = contract.publisher(
            producer, source="/acolhe/connectors/whatsapp", routes=routes
        )
        sent = [("MessageReceived", message_received(i)) for i in range(20)]
        sent.append(("RoutingDecided", routing_decided(1)))
        await publisher.publish_many(sent)
    finally:
        await producer.stop()

    got = await _read_all(settings, topic, contract)

    received = [g for g in got if isinstance(g, Received)]
    assert len(received) == 21
    by_id = {r.event.record["event_id"]: r for r in received}
    for name, record in sent:
        r = by_id[record["event_id"]]
        assert r.event.name == name
        assert r.event.record == record
        assert r.headers["ce_id"] == record["event_id"]
        assert r.headers["ce_type"] == f"acolhe.events.{name}"
        assert r.headers["ce_source"] == "/acolhe/connectors/whatsapp"
        assert r.headers["ce_specversion"] == "1.0"
        assert r.headers["content-type"].startswith("application/avro")
    # One contact's messages share a partition, so they stay in order.
    partitions: dict[str, set[int]] = {}
    for r in received:
        if r.event.name == "MessageReceived":
            partitions.setdefault(r.event.record["contact_id"], set()).add(r.partition)
    assert all(len(p) == 1 for p in partitions.values())


async def test_after_erasure_the_log_reads_erased_and_garbage_is_rejected_with_a_reason(
    settings: Settings, topic: str, contract: Contract
) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        routes = {"MessageReceived": Route(topic, "contact_id")}
        publisher = contract.publisher(producer, source="/acolhe/test", routes=routes)
        await publisher.publish_many([("MessageReceived", message_received(i)) for i in (1, 2)])
        await producer.send_and_wait(
            topic, value=b"\x00 garbage that is no event", key=b"contact-9"
        )
    finally:
        await producer.stop()
    assert isinstance(contract.keys, PostgresKeyStore)
    await contract.keys.destroy("citizen-1")

    got = await _read_all(settings, topic, contract)

    rejected = [g for g in got if isinstance(g, Rejected)]
    assert len(rejected) == 1
    assert "not Avro single-object" in str(rejected[0].error)
    records = {g.event.record["subject_id"]: g.event.record for g in got if isinstance(g, Received)}
    assert records["citizen-1"]["text"] is ERASED
    assert records["citizen-1"]["contact_address"] is ERASED
    assert records["citizen-1"]["attachments"][0]["sha256"]  # the facts stay
    assert records["citizen-2"]["text"] == message_received(2)["text"]
