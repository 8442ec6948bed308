"""`acolhe deadletters` on the real broker and database: dead letters written by the code
that writes them in production are listed without their payload, shown with it only when
asked, and replayed byte for byte into their source partition, once; a connector's raw
input is refused for replay."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import TopicPartition

from bench.samples import message_received
from connectors.common.inbound import Inbound
from schemas.events import InputDeadLettered, InputHeader
from streams.cli import main
from streams.shared.contract import Contract
from streams.shared.errors import BadInput
from streams.shared.events import Rejected, TopicRoute, dead_letter, read_topic
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_consumer,
    make_producer,
)
from streams.shared.settings import Settings

TIMEOUT_S = 60.0
GARBAGE = b"\x00\x01 not an event, says Maria da Silva, CPF 123.456.789-09"
KEY = b"contact-42"
HEADERS = [("ce_id", b"m-42"), ("ce_source", b"/acolhe/connectors/whatsapp"), ("trace", b"\xff")]


@pytest.fixture
async def dl_topic(settings: Settings) -> AsyncIterator[str]:
    """This test's own dead-letter topic (3 partitions, as the runtime declares it)."""
    name = f"test.deadletter.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, partitions=3)])
    yield name
    await delete_topics(settings.kafka, [name])


@dataclasses.dataclass
class Cli:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()


async def acolhe(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> Cli:
    def run() -> int:
        try:
            return main(list(args))
        except SystemExit as exc:  # argparse's refusals; raised in a thread, it would escape
            return int(exc.code or 0)

    capsysbinary.readouterr()
    code = await asyncio.wait_for(asyncio.to_thread(run), TIMEOUT_S)
    out, err = capsysbinary.readouterr()
    return Cli(code, out, err.decode())


async def send_raw(
    settings: Settings, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
) -> Any:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        return await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def publish_dead_letters(
    settings: Settings, contract: Contract, dl_topic: str, records: list[InputDeadLettered]
) -> None:
    """As the runtime publishes them: keyed by processor, on the dead-letter topic."""
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(
            producer,
            source="streams.conversation",
            routes={"InputDeadLettered": TopicRoute(dl_topic, "processor")},
        )
        await publisher.publish_many([(r.NAME, r.to_record()) for r in records])
    finally:
        await producer.stop()


async def rejected_garbage(settings: Settings, contract: Contract, topic: str) -> Rejected:
    """Garbage fed to a topic, read back and rejected by the processors' decoder."""
    await send_raw(settings, topic, GARBAGE, KEY, HEADERS)
    [item] = await read_topic(settings.kafka, contract.decode, topic)
    assert isinstance(item, Rejected)
    return item


async def records_at(settings: Settings, topic: str, partition: int) -> list[Any]:
    """Every raw record now in one partition."""
    tp = TopicPartition(topic, partition)
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        got: list[Any] = []
        while len(got) < end:
            got += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        return got
    finally:
        await consumer.stop()


async def test_a_dead_letter_is_listed_without_its_payload_and_shown_with_it_only_if_asked(
    settings: Settings,
    topic: str,
    dl_topic: str,
    contract: Contract,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    rejected = await rejected_garbage(settings, contract, topic)
    record = dead_letter(rejected, "streams.conversation")
    await publish_dead_letters(settings, contract, dl_topic, [record])

    listed = await acolhe(capsysbinary, "deadletters", "list", "--topic", dl_topic)
    as_json = await acolhe(capsysbinary, "deadletters", "list", "--topic", dl_topic, "--json")
    shown = await acolhe(capsysbinary, "deadletters", "show", record.event_id, "--topic", dl_topic)
    payload = await acolhe(
        capsysbinary, "deadletters", "show", record.event_id, "--payload", "--topic", dl_topic
    )

    assert listed.code == 0, listed.err
    [line, total, per_type] = listed.text.splitlines()
    assert record.event_id in line
    assert "streams.conversation" in line
    assert record.error_type in line
    assert f"{topic}/{rejected.partition}@{rejected.offset}" in line
    assert f"{len(GARBAGE)} B" in line
    assert total == "1 dead letters"
    assert per_type.split() == [record.error_type, "1"]
    for out in (listed, as_json, shown):
        assert b"Maria" not in out.out
        assert b"contact-42" not in out.out
    [entry] = json.loads(as_json.text)["dead_letters"]
    assert entry["payload_bytes"] == len(GARBAGE)
    assert entry["replayable"] is True
    assert "payload" not in entry
    assert shown.code == 0
    assert f"key             {len(KEY)} B" in shown.text
    assert "replayable      yes" in shown.text
    assert payload.code == 0
    assert payload.out == GARBAGE
    assert "personal data" in payload.err


async def test_a_replay_puts_the_identical_record_back_into_its_partition_once(
    settings: Settings,
    topic: str,
    dl_topic: str,
    pg_schema: str,
    contract: Contract,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    rejected = await rejected_garbage(settings, contract, topic)
    # As a processor that keeps the record's headers would write it (the runtime keeps none
    # today: `dead_letter` leaves source_headers empty).
    record = dataclasses.replace(
        dead_letter(rejected, "streams.conversation"),
        source_headers=tuple(InputHeader(name=n, value=v) for n, v in HEADERS),
    )
    await publish_dead_letters(settings, contract, dl_topic, [record])
    replay = ("deadletters", "replay", record.event_id, "--topic", dl_topic)
    ops = ("--ops-schema", pg_schema)

    dry = await acolhe(capsysbinary, *replay, *ops, "--dry-run")
    after_dry_run = await records_at(settings, topic, rejected.partition)
    first = await acolhe(capsysbinary, *replay, *ops)
    again = await acolhe(capsysbinary, *replay, *ops)
    forced = await acolhe(capsysbinary, *replay, *ops, "--force")

    assert dry.code == 0, dry.err
    assert f"would replay {record.event_id}" in dry.text
    assert len(after_dry_run) == 1
    assert first.code == 0, first.err
    assert again.code == 2
    assert "already replayed" in again.err
    assert "nothing was replayed" in again.err
    assert forced.code == 0, forced.err
    [original, replayed, replayed_again] = await records_at(settings, topic, rejected.partition)
    for copy in (replayed, replayed_again):
        assert copy.value == original.value == GARBAGE
        assert copy.key == original.key == KEY
        assert list(copy.headers) == list(original.headers) == HEADERS
    assert f"@{replayed.offset}" in first.text


async def test_an_event_a_core_refused_is_replayed_from_the_source_topic(
    settings: Settings,
    topic: str,
    dl_topic: str,
    pg_schema: str,
    contract: Contract,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(
            producer, source="/test", routes={"MessageReceived": TopicRoute(topic, "contact_id")}
        )
        sent = await publisher.publish("MessageReceived", message_received(7))
    finally:
        await producer.stop()
    # What the runtime dead-letters when its core raises BadInput: where, not the bytes.
    refused = Rejected(topic, sent.partition, sent.offset, None, None, BadInput("a bug"))
    record = dead_letter(refused, "streams.conversation")
    await publish_dead_letters(settings, contract, dl_topic, [record])

    done = await acolhe(
        capsysbinary,
        *("deadletters", "replay", "--error-type", "BadInput", "--topic", dl_topic),
        *("--ops-schema", pg_schema),
    )

    assert done.code == 0, done.err
    [original, replayed] = await records_at(settings, topic, sent.partition)
    assert replayed.value == original.value
    assert replayed.key == original.key
    assert list(replayed.headers) == list(original.headers)
    assert any(name == "ce_id" for name, _ in replayed.headers)


async def test_a_connectors_raw_input_is_refused_for_replay_with_what_to_do(
    settings: Settings,
    dl_topic: str,
    pg_schema: str,
    contract: Contract,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        inbound = Inbound(
            contract,
            producer,
            processor="connectors.whatsapp",
            routes={"InputDeadLettered": TopicRoute(dl_topic, "processor")},
        )
        event_id = await inbound.dead_letter(
            source="http",
            payload=b'{"entry": [{"from": "5511999990000"',
            error_type="MalformedJson",
            reason="the body is not JSON: line 1 column 37",
            content_type="application/json",
            headers=[("content-type", "application/json"), ("x-hub-signature-256", "sha256=ab")],
        )
    finally:
        await producer.stop()

    shown = await acolhe(capsysbinary, "deadletters", "show", event_id, "--topic", dl_topic)
    refused = await acolhe(
        capsysbinary,
        *("deadletters", "replay", event_id, "--topic", dl_topic, "--ops-schema", pg_schema),
    )

    assert "headers         content-type (16 B)" in shown.text
    assert "5511999990000" not in shown.text
    assert refused.code == 2
    assert "not from a Kafka topic" in refused.err
    assert "the provider resends" in refused.err
    assert "nothing was replayed" in refused.err
