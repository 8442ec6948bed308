"""`erase` and the conversation processor's changelog, on the real broker and database.

A running conversation processor takes two citizens' triage dialogues (their words, email
subjects and addresses marked), checkpoints, and one of them is erased. Then: the
changelog's segment files hold neither citizen's words in clear (snapshots are sealed with
the citizen's key), before and after; the running processor, which still holds the erased
citizen's values in memory, keeps going through a late message and an inactivity reminder
for them, and its next snapshot of the contact keeps nothing of theirs; a processor
restored from the changelog reads their values as ERASED and the other citizen's intact,
and closes the case. Both decide exactly what the pure core decides over the same inputs
(same events, same ids); what they wrote for the erased citizen after the erasure holds no
sealed value at all.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import TopicPartition

from bench.samples import message_received
from schemas.codec import Codec, Decoded, SchemaSet
from schemas.events import ClockTicked, MessageReceived
from schemas.personal import ERASED, SEALED_ERASED, InMemoryKeyRing
from streams.conversation.core import ConversationState
from streams.conversation.processor import ConversationCore
from streams.privacy.erasure import erase
from streams.shared import changelog, snapshots
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics, make_producer
from streams.shared.keystore import PostgresKeyStore
from streams.shared.settings import Settings
from streams.stack.manager import Stack
from tests.integration.projecting import publish
from tests.integration.test_conversation_processor import drain, processor
from tests.integration.test_erasure import Segments

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
PARTITIONS = 6  # as the `topic` fixture makes it; the changelog follows
TIMEOUT_S = 120


@dataclass(frozen=True)
class Writer:
    """A citizen writing by email; every personal value carries their marker, so finding
    the marker is finding their data in clear."""

    subject_id: str
    contact_id: str
    marker: str

    @classmethod
    def new(cls, label: str) -> Writer:
        run = uuid.uuid4().hex[:10]
        return cls(f"citizen-{label}-{run}", f"contact-{label}-{run}", f"mk{uuid.uuid4().hex}")

    def says(self, n: int, text: str) -> MessageReceived:
        at = T0 + timedelta(minutes=5 * n)
        return MessageReceived.from_record(
            {
                **message_received(n),
                "event_id": f"in-{self.contact_id}-{n}",
                "occurred_at": at,
                "received_at": at,
                "correlation_id": f"in-{self.contact_id}-0",
                "subject_id": self.subject_id,
                "channel": "email",
                "kind": "email",
                "contact_id": self.contact_id,
                "contact_address": f"maria.quiteria.{self.marker}@example.org",
                "provider_message_id": f"msgid-{self.contact_id}-{n}@mail.example.org",
                "sender_name": f"Maria Quitéria {self.marker}",
                "email_subject": f"Re: Pensão atrasada do Joaquim {self.marker}",
                "text": text.format(m=self.marker),
                "attachments": [],
            }
        )

    def dialogue(self) -> list[MessageReceived]:
        """The opening words, then the answer to the bot's first question."""
        return [
            self.says(0, "Bom dia. O pai dos meus filhos, Joaquim {m}, não paga a pensão."),
            self.says(1, "meu ex marido Joaquim {m} não paga a pensão das crianças"),
        ]

    def late_answer(self) -> MessageReceived:
        """Written before the erasure, read by the processor after it."""
        return self.says(2, "moro na rua das Flores {m}, perto da escola do Pedro")


@pytest.fixture
async def out_topic(settings: Settings) -> AsyncIterator[str]:
    name = f"test.erasure.out.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, PARTITIONS)])
    yield name
    await delete_topics(settings.kafka, [name])


@pytest.fixture
async def privacy(settings: Settings) -> AsyncIterator[str]:
    """Where the erasure's events go (`erase` creates the topic); deleted afterwards."""
    name = f"test.erasure.privacy.{uuid.uuid4().hex[:8]}"
    yield name
    await delete_topics(settings.kafka, [name])


@pytest.fixture
async def elsewhere(settings: Settings) -> AsyncIterator[str]:
    """Where the erasure writes its copies for the contacts (`erase` creates the topic): not
    the topic the processor reads. This test is about a contact whose case is still open
    once its citizen's key is gone (a processor that has not reached the erasure's copy
    yet); the close at the erasure is test_erasure_closes_cases.py's."""
    name = f"test.erasure.elsewhere.{uuid.uuid4().hex[:8]}"
    yield name
    await delete_topics(settings.kafka, [name])


@pytest.fixture
async def group(settings: Settings) -> AsyncIterator[str]:
    """The processor's consumer group; its changelog topic is deleted afterwards."""
    name = f"test.erasure.conversation.{uuid.uuid4().hex[:8]}"
    yield name
    await delete_topics(settings.kafka, [f"{name}.changelog"])


@pytest.fixture
async def worker_keys(
    settings: Settings, pg_schema: str, master_key: bytes, key_store: PostgresKeyStore
) -> AsyncIterator[PostgresKeyStore]:
    """The processor's own key store (a worker process's): same table and master key as
    the one `erase` uses, its own memory. It asks for destroyed keys at every batch
    (recheck_s=0) so the test knows which batch is the first after the erasure."""
    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=2)
    yield PostgresKeyStore(pool, master_key, schema=pg_schema, recheck_s=0.0)
    await pool.close()


async def test_an_erased_citizens_dialogue_is_nowhere_in_clear_and_the_processor_goes_on(
    settings: Settings,
    stack: Stack,
    topic: str,
    out_topic: str,
    group: str,
    privacy: str,
    elsewhere: str,
    contract: Contract,
    worker_keys: PostgresKeyStore,
) -> None:
    x, y = Writer.new("x"), Writer.new("y")
    worker = Contract(contract.codec, worker_keys)
    log = changelog_of(group)
    segments = Segments(stack.kafka.data_dir)
    await publish(settings, contract, topic, [*x.dialogue(), *y.dialogue()])

    running = processor(ConversationCore(), worker, settings, topic, out_topic, group)
    await running.start()
    try:
        await drain(running, 4)
        await running.checkpoint()
        # Both dialogues are under way, in the changelog: each citizen's words sealed with
        # their key; the keys (contact ids) in clear prove these are the right files.
        before = await restored_states(settings, worker_keys, log)
        assert x.marker in repr(before[x.contact_id])
        assert segments.contain(x.contact_id, log)
        assert segments.contain(y.contact_id, log)
        assert not segments.contain(x.marker, log)
        assert not segments.contain(y.marker, log)

        await publish(settings, contract, topic, [x.late_answer(), y.late_answer()])
        await asyncio.wait_for(
            erase(
                settings,
                contract,
                x.subject_id,
                schemas=[],
                topic=privacy,
                conversations=elsewhere,
            ),
            TIMEOUT_S,
        )
        reminder = tick(T0 + timedelta(hours=3))
        await broadcast(settings, contract, topic, reminder)

        # The running processor still holds X's values in clear; it reads X's late answer
        # (ERASED now), reminds both citizens, and checkpoints.
        await drain(running, 4 + 2 + PARTITIONS)
        await running.checkpoint()
        held = {k: s for by_key in running.states.values() for k, s in by_key.items()}
    finally:
        await running.stop()
    in_memory = held[x.contact_id].triage
    assert in_memory is not None
    assert any(x.marker in str(words) for words in in_memory.narrative)  # in memory only

    assert not segments.contain(x.marker, log)
    assert not segments.contain(y.marker, log)
    latest = await latest_snapshots(settings, log)
    assert snapshots.subject_of(latest[x.contact_id]) is None  # nothing of X's kept, sealed
    assert snapshots.subject_of(latest[y.contact_id]) == y.subject_id

    restarted = processor(ConversationCore(), worker, settings, topic, out_topic, group)
    await restarted.restore([TopicPartition(topic, p) for p in range(PARTITIONS)])
    states = {k: s for by_key in restarted.states.values() for k, s in by_key.items()}
    erased, kept = states[x.contact_id], states[y.contact_id]
    assert erased.contact.contact_address is ERASED
    assert erased.triage is not None
    assert set(erased.triage.narrative) == {ERASED}
    assert {a.answer for a in erased.triage.answers} == {ERASED}
    assert erased.contact.case == held[x.contact_id].contact.case  # the rest is intact
    assert y.marker in str(kept.contact.contact_address)
    assert kept.triage is not None
    assert any(y.marker in str(words) for words in kept.triage.narrative)

    close = tick(T0 + timedelta(days=3))
    await broadcast(settings, contract, topic, close)
    await restarted.start()
    try:
        await drain(restarted, PARTITIONS)
    finally:
        await restarted.stop()

    written = await outputs(settings, contract, out_topic)
    for citizen, late in ((x, erased_as_read(x.late_answer())), (y, y.late_answer())):
        inputs = [*citizen.dialogue(), late, reminder, close]
        assert written[citizen.contact_id] == pure_outputs(citizen.contact_id, inputs)
        assert [n for n, _ in written[citizen.contact_id]].count("CaseClosed") == 1
    # What the processors wrote for X after the erasure holds no sealed value at all: the
    # re-asking, the reminder and the close notice, by the running and the restored one;
    # what they wrote before it is sealed (and opens as ERASED now).
    addresses = await raw_addresses(settings, contract, out_topic, x.contact_id)
    assert [a == SEALED_ERASED for a in addresses] == [False, False, True, True, True]
    assert not segments.contain(x.marker, out_topic, log)


async def test_a_changelog_written_before_sealing_is_restored_and_written_again_sealed(
    settings: Settings,
    stack: Stack,
    topic: str,
    out_topic: str,
    group: str,
    contract: Contract,
) -> None:
    x = Writer.new("x")
    log = changelog_of(group)
    await publish(settings, contract, topic, x.dialogue())
    first = processor(ConversationCore(), contract, settings, topic, out_topic, group)
    await first.start()
    try:
        await drain(first, 2)
        [(partition, state)] = [
            (p, s) for p, by_key in first.states.items() for k, s in by_key.items()
        ]
    finally:
        await first.stop()
    # The contact's latest snapshot as the previous version wrote it: JSON, words in clear.
    await produce_raw(settings, log, partition, x.contact_id, plain_snapshot(state))
    assert Segments(stack.kafka.data_dir).contain(x.marker, log)

    second = processor(ConversationCore(), contract, settings, topic, out_topic, group)
    await broadcast(settings, contract, topic, tick(T0 + timedelta(minutes=30)))
    await second.start()
    try:
        await drain(second, PARTITIONS)  # restores on its first batch, then checkpoints
        restored = second.states[partition][x.contact_id]
    finally:
        await second.stop()

    assert restored == state  # nothing due at that tick: the state read back as it was
    latest = (await latest_snapshots(settings, log))[x.contact_id]
    assert snapshots.format_of(latest) == snapshots.SEALED
    assert snapshots.subject_of(latest) == x.subject_id
    assert x.marker.encode() not in latest
    # The clear record stays in its segment until the topic is compacted (docs/privacy.md).


# -- helpers --------------------------------------------------------------------------------


def plain_snapshot(state: ConversationState) -> bytes:
    """What `snapshots.dump` wrote before sealing: the state as JSON, in clear."""

    def default(value: Any) -> Any:
        if isinstance(value, frozenset):
            return sorted(value)
        raise TypeError(type(value).__name__)

    return orjson.dumps(state, default=default, option=orjson.OPT_NON_STR_KEYS)


async def produce_raw(
    settings: Settings, topic: str, partition: int, key: str, value: bytes
) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        await (await producer.send(topic, value=value, key=key.encode(), partition=partition))
    finally:
        await producer.stop()


def changelog_of(group: str) -> str:
    return f"{group}.changelog"


def tick(at: datetime) -> ClockTicked:
    return ClockTicked(
        event_id=f"tick-{uuid.uuid4().hex[:8]}-{at.isoformat()}",
        occurred_at=at,
        correlation_id="timer",
        source="timer-test",
        sequence=int(at.timestamp()),
        tick_at=at,
        interval_ms=1000,
    )


async def broadcast(settings: Settings, contract: Contract, topic: str, event: Any) -> None:
    """Into every partition, as the timer writes its ticks."""
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(
            producer, source="/test/timer", routes={event.NAME: TopicRoute(topic, "event_id")}
        )
        await publisher.broadcast(event.NAME, event.to_record(), {topic: range(PARTITIONS)})
    finally:
        await producer.stop()


async def latest_snapshots(settings: Settings, log: str) -> dict[str, bytes]:
    """The last snapshot of every key in the changelog, raw."""
    found = await changelog.read(
        settings.kafka, log, range(PARTITIONS), max_record_bytes=2 * 1024 * 1024
    )
    return {key: raw for states, _ in found.values() for key, raw in states.items()}


async def restored_states(
    settings: Settings, keys: PostgresKeyStore, log: str
) -> dict[str, ConversationState]:
    raw = await latest_snapshots(settings, log)
    await keys.load({s for data in raw.values() if (s := snapshots.subject_of(data))})
    return {k: snapshots.load(ConversationState, data, keys) for k, data in raw.items()}


def erased_as_read(message: MessageReceived) -> MessageReceived:
    """The message as a processor reads it once its citizen's key is destroyed."""
    codec, ring = Codec(SchemaSet.from_dirs()), InMemoryKeyRing()
    data = codec.encode(message.NAME, message.to_record(), ring)
    ring.destroy(message.subject_id)
    return MessageReceived.from_record(codec.decode(data, ring).record)


def pure_outputs(contact_id: str, inputs: list[Any]) -> list[tuple[str, str]]:
    """What the conversation core decides over these inputs, uninterrupted, in memory."""
    core = ConversationCore()
    state: ConversationState | None = core.initial(contact_id)
    out: list[tuple[str, str]] = []
    for event in inputs:
        assert state is not None
        state, produced = core.handle(state, event)
        out += [(o.NAME, o.event_id) for o in produced]
    return sorted(out)


async def outputs(
    settings: Settings, contract: Contract, topic: str
) -> dict[str, list[tuple[str, str]]]:
    """Per contact, the (type, id) of every output written, sorted."""
    items = await read_topic(settings.kafka, contract.decode, topic, timeout_s=TIMEOUT_S)
    assert all(isinstance(i, Received) for i in items), items
    by_contact: dict[str, list[tuple[str, str]]] = {}
    for item in items:
        assert isinstance(item, Received)
        record = item.event.record
        by_contact.setdefault(record["contact_id"], []).append(
            (item.event.name, record["event_id"])
        )
    return {contact: sorted(found) for contact, found in by_contact.items()}


async def raw_addresses(
    settings: Settings, contract: Contract, topic: str, contact_id: str
) -> list[bytes]:
    """The contact address of every MessageSent to the contact, as written (not opened)."""

    sealed: list[Decoded] = []

    async def undecoded(messages: list[Any]) -> list[Any]:
        sealed.extend(contract.codec.decode(m.value) for m in messages)  # no key ring
        return []

    await read_topic(settings.kafka, undecoded, topic, timeout_s=TIMEOUT_S)
    return [
        d.record["contact_address"]
        for d in sorted(sealed, key=lambda d: d.record["occurred_at"])
        if d.name == "MessageSent" and d.record["contact_id"] == contact_id
    ]
