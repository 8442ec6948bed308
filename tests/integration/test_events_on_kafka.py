"""Events travel through the real broker with their envelope, sealed, and shred on erasure."""

from __future__ import annotations

from typing import Any

from bench.samples import message_received, routing_decided
from schemas.personal import ERASED
from streams.shared.contract import Contract
from streams.shared.events import Received, Rejected, TopicRoute, read_topic
from streams.shared.kafka import make_producer
from streams.shared.keystore import PostgresKeyStore
from streams.shared.settings import Settings


async def _read_all(settings: Settings, topic: str, contract: Contract) -> list[Any]:
    return await read_topic(settings.kafka, contract.decode, topic)


async def test_published_events_come_back_with_their_envelope_and_personal_data(
    settings: Settings, topic: str, contract: Contract
) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        routes = {
            "MessageReceived": TopicRoute(topic, "contact_id"),
            "RoutingDecided": TopicRoute(topic, "case_id"),
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
        routes = {"MessageReceived": TopicRoute(topic, "contact_id")}
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


async def test_reading_a_topic_whose_first_records_were_deleted_ends_at_its_end(
    settings: Settings, topic: str, contract: Contract
) -> None:
    # Retention (or DeleteRecords) moves a partition's start offset up: a reader that counted
    # records against the end offsets waited for records that no longer exist.
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(
            producer,
            source="/acolhe/tests",
            routes={"MessageReceived": TopicRoute(topic, "contact_id")},
        )
        sent = [message_received(i) for i in range(6)]
        metadata = await publisher.publish_many([("MessageReceived", r) for r in sent])
    finally:
        await producer.stop()
    first = metadata[0]
    admin = AIOKafkaAdminClient(**settings.kafka.client_options())
    await admin.start()
    try:
        tp = TopicPartition(topic, first.partition)
        await admin.delete_records({tp: RecordsToDelete(before_offset=first.offset + 1)})
    finally:
        await admin.close()

    got = await read_topic(settings.kafka, contract.decode, topic, timeout_s=20)

    ids = sorted(g.event.record["event_id"] for g in got if isinstance(g, Received))
    assert ids == sorted(r["event_id"] for r in sent[1:])
