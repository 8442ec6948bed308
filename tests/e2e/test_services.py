"""The services as an operator runs them: `acolhe run conversation`, `router`, `sla` and
`timer` on the catalog's topics. A citizen's urgent message becomes an assigned case with
its SLA clocks started; the agent's reply, sent as a command, meets the first-response
clock; SIGTERM stops each service cleanly."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.structs import TopicPartition

from schemas.events import AgentPresenceChanged, CaseClosed, MessageReceived, SendReply
from streams.cli.run import COMMANDS, CONVERSATIONS, ROUTING, SLA
from streams.shared.contract import Contract
from streams.shared.kafka import TopicSpec, ensure_topics, make_consumer, make_producer
from streams.shared.settings import Settings
from streams.stack.manager import Stack


async def test_an_urgent_message_is_assigned_by_the_running_services(
    settings: Settings, stack: Stack
) -> None:
    await ensure_topics(
        settings.kafka,
        [
            TopicSpec(CONVERSATIONS, 12),
            TopicSpec(ROUTING, 1),
            TopicSpec(SLA, 12),
            TopicSpec(COMMANDS, 6),
        ],
    )
    contract = await Contract.open(settings)
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    parts = [TopicPartition(CONVERSATIONS, p) for p in range(12)]
    sla_parts = [TopicPartition(SLA, p) for p in range(12)]
    consumer.assign([*parts, *sla_parts])
    await consumer.seek_to_end(*parts, *sla_parts)
    for tp in [*parts, *sla_parts]:
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
        for name in ("conversation", "router", "sla", "timer")
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
        clocks: list[dict[str, Any]] = []

        async def wait_for_assignment_and_clocks() -> dict[str, Any]:
            found: dict[str, Any] | None = None
            while found is None or not clocks:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for m in records:
                        decoded = contract.codec.decode(m.value)
                        if tp.topic == SLA:
                            clocks.append({"name": decoded.name, **decoded.record})
                        elif m.key == f"contact-{run}".encode():
                            seen.append(decoded.name)
                            if decoded.name == "CaseAssigned":
                                found = decoded.record
            return found

        assigned = await asyncio.wait_for(wait_for_assignment_and_clocks(), timeout=90)

        # The assigned agent answers through a command: the conversation processor accepts
        # it into the agent's MessageSent, and that reply meets the first-response clock.
        reply = SendReply(
            event_id=f"e2e-{run}-reply",
            occurred_at=datetime.now(UTC),
            correlation_id=f"e2e-{run}-m1",
            subject_id=f"citizen-{run}",
            case_id=assigned["case_id"],
            contact_id=f"contact-{run}",
            agent_id=assigned["agent_id"],
            text="Olá, sou a defensora do seu caso. Você está em segurança agora?",
        )
        await publisher.publish(reply.NAME, reply.to_record())

        async def wait_for_first_response_met() -> None:
            while not any(
                c["name"] == "SlaMet"
                and c["metric"] == "first_response"
                and c["case_id"] == assigned["case_id"]
                for c in clocks
            ):
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for m in records:
                        decoded = contract.codec.decode(m.value)
                        if tp.topic == SLA:
                            clocks.append({"name": decoded.name, **decoded.record})
                        elif m.key == f"contact-{run}".encode():
                            seen.append(decoded.name)

        await asyncio.wait_for(wait_for_first_response_met(), timeout=90)
        # Leave the long-lived router as found: the agent's capacity back for the next run.
        done = CaseClosed(
            event_id=f"e2e-{run}-closed",
            occurred_at=datetime.now(UTC),
            correlation_id=f"e2e-{run}-m1",
            case_id=assigned["case_id"],
            reason="resolved",
            contact_id=f"contact-{run}",
        )
        await publisher.publish(done.NAME, done.to_record())
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
    # The SLA clocks of this case started when it opened (other tests' cases may tick too),
    # and the agent's reply met the first response in time.
    mine = [c for c in clocks if c["case_id"] == assigned["case_id"]]
    assert {c["metric"] for c in mine if c["name"] == "SlaStarted"} >= {"first_response"}
    met = [c for c in mine if c["name"] == "SlaMet" and c["metric"] == "first_response"]
    assert [c["within_target"] for c in met] == [True]
    assert "SendReply" in seen  # the command, in the contact's stream
    assert seen.count("MessageSent") >= 2  # the bot's urgent notice, then the agent's reply
    assert codes == [0, 0, 0, 0], [await s.stderr.read() if s.stderr else b"" for s in services]
