"""The conversation processor on the real broker: one case per contact, urgent cases triaged
at once, state that survives a restart, bad records dead-lettered with their reason."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.events import DeliveryStatusChanged, MessageReceived
from streams.conversation.processor import ConversationCore
from streams.shared.contract import Contract
from streams.shared.events import DEAD_LETTER_TOPIC, Received, TopicRoute, read_topic
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_producer,
)
from streams.shared.runtime import Processor
from streams.shared.settings import Settings
from tests.unit.triage.conversation import Citizen

URGENT = "Socorro, meu marido me ameaçou de morte agora"


@pytest.fixture
async def out_topic(settings: Settings) -> AsyncIterator[str]:
    name = f"test.conversation.out.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, partitions=6)])
    yield name
    await delete_topics(settings.kafka, [name])


def message(contact: int, n: int, text: str) -> MessageReceived:
    base = Citizen().says(text)
    return MessageReceived.from_record(
        {
            **base.to_record(),
            "event_id": f"m-{contact}-{n}",
            "correlation_id": f"m-{contact}-0",
            "contact_id": f"contact-{contact}",
            "subject_id": f"citizen-{contact}",
            "provider_message_id": f"wamid-{contact}-{n}",
        }
    )


def processor(
    core: ConversationCore,
    contract: Contract,
    settings: Settings,
    topic: str,
    out_topic: str,
    group: str,
) -> Processor[Any]:
    routes = {
        name: TopicRoute(out_topic, key)
        for name, key in (
            ("CaseOpened", "contact_id"),
            ("CaseReopened", "case_id"),
            ("CaseResumed", "case_id"),
            ("CasePutOnHold", "case_id"),
            ("CaseClosed", "case_id"),
            ("MessageSent", "contact_id"),
            ("CaseTriaged", "case_id"),
        )
    }
    return Processor(
        core,
        contract,
        settings.kafka,
        input_topic=topic,
        routes=routes,
        group_id=group,
        changelog_topic=f"{group}.changelog",
    )


async def publish(
    settings: Settings, contract: Contract, topic: str, messages: list[MessageReceived]
) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(
            producer, source="/test", routes={"MessageReceived": TopicRoute(topic, "contact_id")}
        )
        await publisher.publish_many([(m.NAME, m.to_record()) for m in messages])
    finally:
        await producer.stop()


async def drain(proc: Processor[Any], expected_inputs: int) -> None:
    async def loop() -> None:
        while proc.stats.events < expected_inputs:
            await proc.step(timeout_ms=500)

    await asyncio.wait_for(loop(), timeout=60)


async def read_all(settings: Settings, contract: Contract, topic: str) -> list[Any]:
    return await read_topic(settings.kafka, contract.decode, topic)


async def test_one_case_per_contact_urgent_ones_triaged_and_state_survives_a_restart(
    settings: Settings, topic: str, out_topic: str, contract: Contract
) -> None:
    group = f"test.conversation.{uuid.uuid4().hex[:8]}"
    contacts = range(60)
    burst = [
        message(c, n, URGENT if c % 5 == 0 else text)
        for c in contacts
        for n, text in enumerate(("oi", "bom dia", "preciso de ajuda"))
    ]
    await publish(settings, contract, topic, burst)

    first = processor(ConversationCore(), contract, settings, topic, out_topic, group)
    await first.start()
    try:
        await drain(first, len(burst))
    finally:
        await first.stop()

    # A new worker restores the contacts from the changelog; a later message joins the case.
    await publish(settings, contract, topic, [message(c, 9, "voltei") for c in contacts])
    second = processor(ConversationCore(), contract, settings, topic, out_topic, group)
    await second.start()
    try:
        await drain(second, len(contacts))
    finally:
        await second.stop()

    events = [
        r.event for r in await read_all(settings, contract, out_topic) if isinstance(r, Received)
    ]
    opened = [e.record["contact_id"] for e in events if e.name == "CaseOpened"]
    assert sorted(opened) == sorted(f"contact-{c}" for c in contacts)
    urgent = [
        e.record for e in events if e.name == "CaseTriaged" and e.record["priority"] == "urgent"
    ]
    assert len(urgent) == len([c for c in contacts if c % 5 == 0])
    assert len({e.record["event_id"] for e in events}) == len(events)


async def test_a_record_that_is_no_event_is_dead_lettered_with_the_reason(
    settings: Settings, topic: str, out_topic: str, contract: Contract
) -> None:
    group = f"test.conversation.{uuid.uuid4().hex[:8]}"
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"\xc3\x01 not an event at all", key=b"contact-1")
    finally:
        await producer.stop()
    proc = processor(ConversationCore(), contract, settings, topic, out_topic, group)
    await proc.start()
    try:
        await drain(proc, 1)
    finally:
        await proc.stop()

    assert proc.stats.dead_lettered == 1
    dead = [
        r.event.record
        for r in await read_all_deadletters(settings, contract)
        if isinstance(r, Received) and r.event.record["source_topic"] == topic
    ]
    assert len(dead) == 1
    assert "fingerprint" in dead[0]["reason"]
    assert dead[0]["payload"] == b"\xc3\x01 not an event at all"


async def read_all_deadletters(settings: Settings, contract: Contract) -> list[Any]:
    return await read_topic(settings.kafka, contract.decode, DEAD_LETTER_TOPIC)


def status(contact: int, n: int, state: str) -> DeliveryStatusChanged:
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    return DeliveryStatusChanged(
        event_id=f"s-{contact}-{n}-{state}",
        occurred_at=at,
        correlation_id=f"m-{contact}-0",
        channel="whatsapp",
        contact_id=f"contact-{contact}",
        message_id=f"bot-{contact}-{n}",
        provider_message_id=f"wamid-out-{contact}-{n}",
        status=state,  # type: ignore[arg-type]
        status_at=at,
    )


async def test_statuses_and_own_outputs_read_back_are_skipped_without_changing_a_decision(
    settings: Settings, topic: str, contract: Contract
) -> None:
    # As in production: the processor's outputs land in the topic it reads, among the
    # channels' delivery statuses. Neither can change a decision, so neither is decoded.
    group = f"test.conversation.{uuid.uuid4().hex[:8]}"
    contacts = range(20)
    messages = [
        message(c, n, URGENT if c % 4 == 0 else text)
        for c in contacts
        for n, text in enumerate(("oi", "meu ex marido não paga a pensão"))
    ]
    statuses = [status(c, n, s) for c in contacts for n in range(3) for s in ("sent", "read")]
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(
            producer,
            source="/test",
            routes={
                "MessageReceived": TopicRoute(topic, "contact_id"),
                "DeliveryStatusChanged": TopicRoute(topic, "contact_id"),
            },
        )
        await publisher.publish_many(
            [(e.NAME, e.to_record()) for e in (*messages, *statuses)]  # type: ignore[attr-defined]
        )
    finally:
        await producer.stop()
    proc = processor(ConversationCore(), contract, settings, topic, topic, group)
    await proc.start()
    try:

        async def until_outputs_read_back() -> None:
            while proc.stats.outputs == 0 or proc.stats.events < (
                len(messages) + len(statuses) + proc.stats.outputs
            ):
                await proc.step(timeout_ms=500)

        await asyncio.wait_for(until_outputs_read_back(), timeout=60)
    finally:
        await proc.stop()

    assert proc.stats.skipped == len(statuses) + proc.stats.outputs
    assert proc.stats.dead_lettered == 0
    events = [r.event for r in await read_all(settings, contract, topic) if isinstance(r, Received)]
    opened = [e.record["contact_id"] for e in events if e.name == "CaseOpened"]
    assert sorted(opened) == sorted(f"contact-{c}" for c in contacts)
    triaged = [e.record for e in events if e.name == "CaseTriaged"]
    assert len(triaged) == len([c for c in contacts if c % 4 == 0])
    assert len({e.record["event_id"] for e in events}) == len(events)
