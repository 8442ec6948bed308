"""`erase` and the conversation processor on the real broker and database: the erasure's
copy in every partition of the contacts' topic closes each open case of the erased citizen
(two contacts of one citizen, in whatever partitions they fall) for citizen_erased, caused
by the erasure, and leaves another citizen's case open; running the erasure again closes
nothing twice; a processor replaying the log from the start writes the same closings with
the same ids."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from schemas.events import MessageReceived
from streams.conversation.processor import ConversationCore
from streams.privacy.erasure import erase
from streams.shared.contract import Contract
from streams.shared.events import Received, read_topic
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics
from streams.shared.settings import Settings
from tests.integration.test_conversation_processor import drain, processor, publish
from tests.unit.triage.conversation import Citizen

PARTITIONS = 6  # as the `topic` fixture makes it
TIMEOUT_S = 120


@pytest.fixture
async def out_topics(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """Where the first processor writes, and where a replay of the log writes."""
    run = uuid.uuid4().hex[:8]
    names = (f"test.erasure.closes.out.{run}", f"test.erasure.closes.replay.{run}")
    await ensure_topics(settings.kafka, [TopicSpec(n, PARTITIONS) for n in names])
    yield names
    await delete_topics(settings.kafka, list(names))


@pytest.fixture
async def privacy(settings: Settings) -> AsyncIterator[str]:
    name = f"test.erasure.closes.privacy.{uuid.uuid4().hex[:8]}"
    yield name
    await delete_topics(settings.kafka, [name])


@pytest.fixture
async def groups(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    run = uuid.uuid4().hex[:8]
    names = (f"test.erasure.closes.{run}", f"test.erasure.closes.replay.{run}")
    yield names
    await delete_topics(settings.kafka, [f"{n}.changelog" for n in names])


def first_message(citizen: str, contact: str) -> MessageReceived:
    base = Citizen().says("Oi, preciso de ajuda com a pensão do meu filho")
    return MessageReceived.from_record(
        {
            **base.to_record(),
            "event_id": f"m-{contact}",
            "correlation_id": f"m-{contact}",
            "contact_id": contact,
            "subject_id": citizen,
            "provider_message_id": f"wamid-{contact}",
        }
    )


async def test_an_erasure_closes_the_erased_citizens_open_cases_and_no_other(
    settings: Settings,
    topic: str,
    out_topics: tuple[str, str],
    privacy: str,
    groups: tuple[str, str],
    contract: Contract,
) -> None:
    run = uuid.uuid4().hex[:8]
    x, y = f"citizen-x-{run}", f"citizen-y-{run}"
    x_contacts = [f"contact-x-whatsapp-{run}", f"contact-x-email-{run}"]
    y_contact = f"contact-y-{run}"
    messages = [first_message(x, c) for c in x_contacts] + [first_message(y, y_contact)]
    await publish(settings, contract, topic, messages)
    out, replay_out = out_topics

    proc = processor(ConversationCore(), contract, settings, topic, out, groups[0])
    await proc.start()
    try:
        await drain(proc, len(messages))
        assert await closings(settings, contract, out) == []  # three cases open

        report = await asyncio.wait_for(
            erase(settings, contract, x, schemas=[], topic=privacy, conversations=topic),
            TIMEOUT_S,
        )
        await drain(proc, len(messages) + PARTITIONS)
        closed = await closings(settings, contract, out)

        # The same erasure again (a crash repaired by running it again): nothing new.
        await asyncio.wait_for(
            erase(settings, contract, x, schemas=[], topic=privacy, conversations=topic),
            TIMEOUT_S,
        )
        await drain(proc, len(messages) + 2 * PARTITIONS)
        await proc.checkpoint()
    finally:
        await proc.stop()

    assert sorted((c["contact_id"], c["reason"], c["closed_by_agent_id"]) for c in closed) == [
        (contact, "citizen_erased", None) for contact in sorted(x_contacts)
    ]
    assert {c["causation_id"] for c in closed} == {report.request.event_id}
    assert await closings(settings, contract, out) == closed  # nothing closed twice
    states = {k: s for by_key in proc.states.values() for k, s in by_key.items()}
    assert states[y_contact].contact.case is not None
    assert states[y_contact].contact.case.is_open  # the other citizen's case goes on

    # A processor replaying the whole log decides the same closings, with the same ids.
    replay = processor(ConversationCore(), contract, settings, topic, replay_out, groups[1])
    await replay.start()
    try:
        await drain(replay, len(messages) + 2 * PARTITIONS)
    finally:
        await replay.stop()
    assert await closings(settings, contract, replay_out) == closed


async def closings(settings: Settings, contract: Contract, topic: str) -> list[dict[str, Any]]:
    """The CaseClosed records written to `topic`, ordered by event id."""
    found = [
        r.event.record
        for r in await read_topic(settings.kafka, contract.decode, topic)
        if isinstance(r, Received) and r.event.name == "CaseClosed"
    ]
    return sorted(found, key=lambda r: str(r["event_id"]))
