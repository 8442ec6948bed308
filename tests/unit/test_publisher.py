"""Given a citizen erased after a processor decided an output for them, when the output is
published, then a processor's publisher writes it with its personal fields ERASED (and the
processor goes on), while a connector's or the gateway's publisher refuses to write it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.samples import message_received
from schemas.codec import Codec, SchemaSet
from schemas.events import MessageReceived
from schemas.personal import ERASED, InMemoryKeyRing
from streams.shared.events import EventPublisher, TopicRoute


class Producer:
    """Records what was sent; every send is acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, *, value: bytes, key: bytes, **_: Any) -> Any:
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def two_citizens() -> list[tuple[str, dict[str, Any]]]:
    erased = {**message_received(1), "subject_id": "citizen-erased", "text": "mk-erased"}
    kept = {**message_received(2), "subject_id": "citizen-kept", "text": "mk-kept"}
    return [(MessageReceived.NAME, erased), (MessageReceived.NAME, kept)]


async def test_a_processors_publisher_writes_an_erased_citizens_fields_erased() -> None:
    codec, ring, producer = Codec(SchemaSet.from_dirs()), InMemoryKeyRing(), Producer()
    await ring.ensure(["citizen-erased", "citizen-kept"])
    ring.destroy("citizen-erased")
    publisher = EventPublisher(
        producer,
        codec,
        ring,
        source="/test",
        routes={MessageReceived.NAME: TopicRoute("out", "contact_id")},
        erased_subjects="write_erased",
    )

    await publisher.publish_many(two_citizens())

    records = [codec.decode(value, ring).record for _, _, value in producer.sent]
    assert [r["event_id"] for r in records] == [e["event_id"] for _, e in two_citizens()]
    assert records[0]["text"] is ERASED
    assert records[0]["contact_address"] is ERASED
    assert records[0]["kind"] == two_citizens()[0][1]["kind"]  # the facts stay
    assert records[1]["text"] == "mk-kept"
    assert not any(b"mk-erased" in value for _, _, value in producer.sent)
    assert publisher.written_erased == 1


async def test_by_default_a_publisher_refuses_to_write_for_an_erased_citizen() -> None:
    codec, ring = Codec(SchemaSet.from_dirs()), InMemoryKeyRing()
    await ring.ensure(["citizen-erased"])
    ring.destroy("citizen-erased")
    publisher = EventPublisher(
        Producer(),
        codec,
        ring,
        source="/test",
        routes={MessageReceived.NAME: TopicRoute("out", "contact_id")},
    )

    with pytest.raises(ValueError, match="erased"):
        await publisher.publish_many(two_citizens()[:1])
