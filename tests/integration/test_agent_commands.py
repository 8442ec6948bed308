"""Agents' commands on the real broker: the conversation processor accepts a reply from the
agent holding the case into MessageSent, on the contact's stream, and refuses one from another
agent with CommandRefused(not_your_case) on the commands topic, where every command is also
copied. Topics are this test's own, laid out as the catalog lays out the real ones."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from schemas.catalog import BY_NAME
from schemas.events import CaseAssigned, SendReply
from streams.cases.commands import reply_message_id
from streams.cases.state import case_id_for
from streams.conversation.processor import ConversationCore
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics, make_producer
from streams.shared.runtime import Processor
from streams.shared.settings import Settings
from tests.unit.triage.conversation import Citizen

REPLY = "Olá, sou a Ana, da Defensoria. Pode me enviar uma foto do seu RG?"


@pytest.fixture
async def commands_topic(settings: Settings, topic: str) -> AsyncIterator[str]:
    name = f"{topic}.commands"
    await ensure_topics(settings.kafka, [TopicSpec(name, partitions=6)])
    yield name
    await delete_topics(settings.kafka, [name])


def routes_on(topics: dict[str, str]) -> dict[str, TopicRoute]:
    """The catalog's routes (topic, key, copies), moved onto this test's topics; copies to
    topics the test does not have are left out."""
    return {
        spec.name: TopicRoute(
            topics[spec.topic],
            spec.key_field,
            tuple(topics[c] for c in spec.copies if c in topics),
        )
        for spec in BY_NAME.values()
        if spec.topic in topics
    }


async def test_a_reply_from_the_holder_is_sent_and_one_from_another_agent_refused(
    settings: Settings, topic: str, commands_topic: str, contract: Contract
) -> None:
    routes = routes_on({"acolhe.conversations": topic, "acolhe.commands": commands_topic})
    citizen = Citizen()
    message = citizen.says("Boa tarde, preciso de ajuda com a pensão dos meus filhos")
    case_id = case_id_for(message)
    later = message.occurred_at + timedelta(minutes=10)
    run = uuid.uuid4().hex[:8]
    assigned = CaseAssigned(
        event_id=f"assigned-{run}",
        occurred_at=later,
        correlation_id=message.event_id,
        case_id=case_id,
        agent_id="agent-ana",
        queue_id="familia-capital",
        routing_decision_id=f"decision-{run}",
        contact_id=message.contact_id,
    )

    def reply(agent_id: str, minute: int) -> SendReply:
        return SendReply(
            event_id=f"reply-{run}-{agent_id}",
            occurred_at=later + timedelta(minutes=minute),
            correlation_id=message.event_id,
            subject_id=message.subject_id,
            case_id=case_id,
            contact_id=message.contact_id,
            agent_id=agent_id,
            text=REPLY,
        )

    from_ana, from_bia = reply("agent-ana", 1), reply("agent-bia", 2)
    inputs: list[Any] = [message, assigned, from_ana, from_bia]
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(producer, source="/test/gateway", routes=routes)
        await publisher.publish_many([(e.NAME, e.to_record()) for e in inputs])
    finally:
        await producer.stop()

    group = f"test.commands.{run}"
    proc = Processor(
        ConversationCore(),
        contract,
        settings.kafka,
        input_topic=topic,
        routes=routes,
        group_id=group,
        changelog_topic=f"{group}.changelog",
    )
    await proc.start()
    try:

        async def until_the_inputs_are_decided() -> None:
            while proc.stats.events < len(inputs):
                await proc.step(timeout_ms=500)

        await asyncio.wait_for(until_the_inputs_are_decided(), timeout=60)
    finally:
        await proc.stop()  # a checkpoint: every output acknowledged
        await delete_topics(settings.kafka, [f"{group}.changelog"])

    conversation = await events_in(settings, contract, topic)
    sent = [r for name, r in conversation if name == "MessageSent" and r["sender_kind"] == "agent"]
    assert len(sent) == 1
    assert (sent[0]["agent_id"], sent[0]["case_id"], sent[0]["text"]) == (
        "agent-ana",
        case_id,
        REPLY,
    )
    assert sent[0]["contact_address"] == citizen.address  # opened with the citizen's key
    assert sent[0]["causation_id"] == from_ana.event_id
    assert sent[0]["message_id"] == reply_message_id(from_ana.event_id)

    commands = await events_in(settings, contract, commands_topic)
    assert sorted(r["event_id"] for name, r in commands if name == "SendReply") == sorted(
        [from_ana.event_id, from_bia.event_id]
    )  # the record of what agents asked
    refused = [r for name, r in commands if name == "CommandRefused"]
    assert len(refused) == 1
    assert (refused[0]["command_id"], refused[0]["command"], refused[0]["agent_id"]) == (
        from_bia.event_id,
        "SendReply",
        "agent-bia",
    )
    assert (refused[0]["reason"], refused[0]["case_id"]) == ("not_your_case", case_id)
    assert refused[0]["detail"] == f"case {case_id} is held by agent agent-ana"


async def events_in(
    settings: Settings, contract: Contract, topic: str
) -> list[tuple[str, dict[str, Any]]]:
    return [
        (r.event.name, r.event.record)
        for r in await read_topic(settings.kafka, contract.decode, topic)
        if isinstance(r, Received)
    ]
