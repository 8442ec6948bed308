"""The services as an operator runs them: `acolhe run conversation`, `router` and `timer`
on the catalog's topics. A citizen's urgent message becomes an assigned case, and SIGTERM
stops each service cleanly."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.structs import TopicPartition

from schemas.events import AgentPresenceChanged, MessageReceived
from streams.cli.run import CONVERSATIONS, ROUTING
from streams.shared.contract import Contract
from streams.shared.kafka import TopicSpec, ensure_topics, make_consumer, make_producer
from streams.shared.settings import Settings
from streams.stack.manager import Stack


async def test_an_urgent_message_is_assigned_by_the_running_services(
    settings: Settings, stack: Stack
) -> None:
    await ensure_topics(settings.kafka, [TopicSpec(CONVERSATIONS, 12), TopicSpec(ROUTING, 1)])
    contract = await Contract.open(settings)
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    parts = [TopicPartition(CONVERSATIONS, p) for p in range(12)]
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)
    for tp in parts:
        await consumer.position(tp)  # fix the starting point before anything is published
    services = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.cli",
            "run",
            name,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for name in ("conversation", "router", "timer")
    ]
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(producer, source="/test/e2e")
        agents = ("vd-01", "vd-02", "vd-03", "vd-sup-01")
        await publisher.publish_many(
            [
                (
                    "AgentPresenceChanged",
                    AgentPresenceChanged(
                        event_id=f"e2e-{run}-{a}",
                        occurred_at=now,
                        correlation_id=f"e2e-{run}-{a}",
                        agent_id=a,
                        presence="available",
                        changed_at=now,
                    ).to_record(),
                )
                for a in agents
            ]
        )
        message = MessageReceived(
            event_id=f"e2e-{run}-m1",
            occurred_at=now + timedelta(seconds=1),
            correlation_id=f"e2e-{run}-m1",
            subject_id=f"citizen-{run}",
            channel="whatsapp",
            contact_id=f"contact-{run}",
            contact_address="+5511900000000",
            provider_message_id=f"wamid-{run}",
            kind="text",
            text="socorro, meu marido me bateu e ameaçou me matar",
            received_at=now + timedelta(seconds=1),
        )
        await publisher.publish(message.NAME, message.to_record())

        assigned: dict[str, Any] | None = None
        seen: list[str] = []

        async def wait_for_assignment() -> dict[str, Any]:
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for m in records:
                        if m.key != f"contact-{run}".encode():
                            continue
                        decoded = contract.codec.decode(m.value)
                        seen.append(decoded.name)
                        if decoded.name == "CaseAssigned":
                            return decoded.record

        assigned = await asyncio.wait_for(wait_for_assignment(), timeout=90)
    finally:
        await producer.stop()
        await consumer.stop()
        for service in services:
            if service.returncode is None:
                service.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(s.wait(), timeout=60) for s in services]
        await contract.close()

    assert assigned is not None
    assert assigned["contact_id"] == f"contact-{run}"
    assert seen[:2] == ["MessageReceived", "CaseOpened"]  # the message, then its case
    assert "CaseTriaged" in seen
    assert "CaseQueued" in seen
    assert codes == [0, 0, 0], [await s.stderr.read() if s.stderr else b"" for s in services]
