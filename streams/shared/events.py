"""Publishing and reading acolhe events on Kafka: the codec plus CloudEvents headers.

Steps of `publish_many`, in order:
1. make sure every subject whose personal fields are sealed has a data key (key store);
2. encode each event (personal fields sealed) and build its CloudEvents headers. A subject
   erased meanwhile (its key destroyed) cannot be sealed for: by default (`refuse`, for
   connectors and the gateway, whose input is new) the key store's `SubjectErased` is
   raised; a processor's publisher (`write_erased`) writes the event with its personal
   fields ERASED (`schemas.personal.SEALED_ERASED`, no key), so the output it decided is
   recorded, reads as ERASED as every other copy of that citizen's fields does, and the
   processor goes on (docs/privacy.md);
3. send it to its topic, keyed by the field the catalog names (so one partition owns
   each contact, case or agent), and to the topics the catalog copies it to, with the
   idempotent producer;
4. wait until the broker acknowledged every record (acks=all) before returning.

Reading is the mirror: decode the frame, load the subjects' keys, open the fields.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from schemas.codec import Codec, Decoded, EventSchema
from schemas.envelope import cloudevent_headers, derive_event_id, parse_cloudevent_headers
from schemas.errors import EncodeError
from schemas.events import InputDeadLettered
from schemas.personal import KeyRing
from streams.shared.errors import BadInput

log = logging.getLogger(__name__)

ErasedSubjects = Literal["refuse", "write_erased"]
"""What a publisher does with an event whose subject was erased: raise `SubjectErased`, or
write its personal fields ERASED."""


class EventRoute(Protocol):
    """Where an event goes: its topic and the record field that keys it."""

    @property
    def topic(self) -> str: ...

    @property
    def key_field(self) -> str: ...


@dataclass(frozen=True)
class TopicRoute:
    """An explicit route, for events sent elsewhere than the catalog says (tests, demos,
    benchmarks on topics of their own)."""

    topic: str
    key_field: str
    copies: tuple[str, ...] = ()


class KeySource(KeyRing, Protocol):
    async def ensure(self, subjects: Iterable[str]) -> None: ...

    async def load(self, subjects: Iterable[str]) -> None: ...


@dataclass(frozen=True)
class Received:
    """One decoded event with where it was read from."""

    event: Decoded
    topic: str
    partition: int
    offset: int
    raw_headers: Sequence[tuple[str, bytes]] = ()

    @property
    def headers(self) -> dict[str, str]:
        """The CloudEvents headers, decoded (on demand: processors rarely need them)."""
        return parse_cloudevent_headers(self.raw_headers)


class EventPublisher:
    def __init__(
        self,
        producer: Any,
        codec: Codec,
        keys: KeySource,
        *,
        source: str,
        routes: Mapping[str, EventRoute] | None = None,
        erased_subjects: ErasedSubjects = "refuse",
    ) -> None:
        if routes is None:
            from schemas.catalog import BY_NAME

            routes = BY_NAME
        self._producer = producer
        self._codec = codec
        self._keys = keys
        self._source = source
        self._routes = routes
        self._write_erased = erased_subjects == "write_erased"
        self.written_erased = 0  # events written with their personal fields ERASED

    async def publish(self, name: str, record: Mapping[str, Any]) -> Any:
        """Publish one event and wait for the broker's acknowledgement; returns the metadata
        of its record in its own topic."""
        return (await self.publish_many([(name, record)]))[0]

    async def publish_many(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Publish events and wait until the broker acknowledged every one (acks=all)."""
        sent = await self.send_many(events)
        if len(sent) == 1:  # a webhook's one message: no gathering future for it
            return [await sent[0]]
        return list(await asyncio.gather(*sent))

    async def send_many(
        self, events: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[asyncio.Future[Any]]:
        """Hand events to the producer; returns one future per record, which resolves when
        the broker acknowledged it. A processor awaits them before committing the offsets
        of their causes, so it need not stop between batches to wait."""
        pending = []
        for route, key, value, headers in await self._encode(events):
            # The catalog's copies (a processor reading one ordered topic needs the fact
            # there too) carry the same bytes and event id: the same fact, not a new one.
            for topic in (route.topic, *getattr(route, "copies", ())):
                pending.append(
                    await self._producer.send(topic, value=value, key=key.encode(), headers=headers)
                )
        return pending

    async def broadcast(
        self, name: str, record: Mapping[str, Any], partitions: Mapping[str, Sequence[int]]
    ) -> None:
        """Publish one event into every listed partition of each topic (same bytes, same id)
        and wait for every acknowledgement: a fact every key of a keyed stream must see in
        order with its own events, such as a change of SLA policy (as the timer does ticks)."""
        [(_, key, value, headers)] = await self._encode([(name, record)])
        pending = [
            await self._producer.send(
                topic, value=value, key=key.encode(), partition=p, headers=headers
            )
            for topic, parts in partitions.items()
            for p in parts
        ]
        await asyncio.gather(*pending)

    async def _encode(
        self, events: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[tuple[EventRoute, str, bytes, list[tuple[str, bytes]]]]:
        """Each event's route, Kafka key, bytes (personal fields sealed, the subjects' keys
        made sure of first) and CloudEvents headers."""
        subjects = {
            str(r["subject_id"])
            for n, r in events
            if self._codec.schemas.current(n).has_personal and r.get("subject_id")
        }
        erased: set[str] = set()
        if subjects:
            await self._keys.ensure(subjects)
            if self._write_erased:
                # After `ensure`, only a destroyed key (a tombstone) is missing.
                erased = {s for s in subjects if self._keys.decryption_key(s) is None}
        out = []
        for name, given in events:
            route = self._route(name)
            key = given.get(route.key_field)
            if not isinstance(key, str) or not key:
                raise EncodeError(f"{name}.{route.key_field} is its Kafka key and must be set")
            record = given
            if erased and given.get("subject_id") in erased:
                record = self._codec.erase(name, given)
                self.written_erased += 1
                log.info(
                    "subject erased: personal fields written as ERASED",
                    extra={
                        "event_type": name,
                        "event_id": record.get("event_id"),
                        "topic": route.topic,
                    },
                )
            headers = cloudevent_headers(
                name=name,
                record=record,
                source=self._source,
                subject=key,
                content_type=self._codec.content_type,
            )
            out.append((route, key, self._codec.encode(name, record, self._keys), headers))
        return out

    def _route(self, name: str) -> EventRoute:
        try:
            return self._routes[name]
        except KeyError:
            raise EncodeError(f"event {name!r} has no topic in the catalog") from None


@dataclass(frozen=True)
class Rejected:
    """A Kafka record that is not a valid event: what a processor dead-letters, with why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: BadInput


DEAD_LETTER_TOPIC: Final = "acolhe.deadletter"


def dead_letter(item: Rejected, processor: str) -> InputDeadLettered:
    """The dead-letter record of a rejected input, with the reason: its id derives from the
    input's position and the processor, so a redelivery dead-letters it once."""
    payload = item.value or b""
    event_id = derive_event_id(item.topic, str(item.partition), str(item.offset), processor)
    now = datetime.now(UTC)
    return InputDeadLettered(
        event_id=event_id,
        occurred_at=now,
        correlation_id=event_id,
        causation_id=None,
        source="kafka",
        source_topic=item.topic,
        source_partition=item.partition,
        source_offset=item.offset,
        source_key=item.key,
        source_headers=(),
        content_type=None,
        payload=payload,
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        error_type=type(item.error).__name__,
        reason=str(item.error),
        processor=processor,
        dead_lettered_at=now,
    )


async def decode_batch(
    codec: Codec, keys: KeySource, messages: Sequence[Any]
) -> list[Received | Rejected]:
    """Decode Kafka records into events, loading the data keys they need in one query.

    A record that cannot be decoded comes back as `Rejected` with the reason, in its place;
    the others are unaffected.
    """
    sealed: list[Decoded | BadInput] = []
    for m in messages:
        try:
            sealed.append(codec.decode(m.value))
        except BadInput as exc:
            sealed.append(exc)
    subjects = {
        str(d.record["subject_id"])
        for d in sealed
        if isinstance(d, Decoded)
        and codec.schemas.current(d.name).has_personal
        and d.record.get("subject_id")
    }
    if subjects:
        await keys.load(subjects)
    out: list[Received | Rejected] = []
    for m, decoded in zip(messages, sealed, strict=True):
        outcome = decoded if isinstance(decoded, BadInput) else _open(codec, keys, decoded)
        if isinstance(outcome, BadInput):
            out.append(Rejected(m.topic, m.partition, m.offset, m.key, m.value, outcome))
        else:
            out.append(Received(outcome, m.topic, m.partition, m.offset, m.headers or ()))
    return out


async def read_events(
    codec: Codec, keys: KeySource, messages: Sequence[Any], wanted: Container[str]
) -> tuple[list[tuple[int, Any]], list[Rejected]]:
    """The events of the `wanted` types among Kafka records, as (offset, event) in log
    order, built by the codec's compiled readers (`Codec.read`), and the records that are
    not events, as `Rejected` with the reason.

    A record of another type is skipped after its frame: its body is not read, so one
    whose body is corrupt is left to the consumers of its type to dead-letter. The data
    keys of the records read are loaded in one query first.
    """
    chosen: list[tuple[Any, EventSchema]] = []
    rejected: list[Rejected] = []
    subjects: set[str] = set()
    for m in messages:
        try:
            writer = codec.writer_of(m.value)
            if writer.name not in wanted:
                continue
            subject = codec.subject_of(m.value, writer)
        except BadInput as exc:
            rejected.append(Rejected(m.topic, m.partition, m.offset, m.key, m.value, exc))
            continue
        if subject is not None:
            subjects.add(subject)
        chosen.append((m, writer))
    if subjects:
        await keys.load(subjects)
    events: list[tuple[int, Any]] = []
    for m, writer in chosen:
        try:
            events.append((m.offset, codec.read(m.value, keys, writer)))
        except BadInput as exc:
            rejected.append(Rejected(m.topic, m.partition, m.offset, m.key, m.value, exc))
    return events, rejected


def _open(codec: Codec, keys: KeyRing, decoded: Decoded) -> Decoded | BadInput:
    schema = codec.schemas.current(decoded.name)
    if not schema.has_personal:
        return decoded
    try:
        # In place: the record was decoded for this batch alone; on an error it is dropped.
        record = codec.open(schema, decoded.record, keys, in_place=True)
    except BadInput as exc:
        return exc
    return Decoded(decoded.name, decoded.version, record)


async def read_topic(
    kafka: Any, decode: Any, topic: str, *, timeout_s: float = 60.0
) -> list[Received | Rejected]:
    """Every record now in `topic`, from the beginning, decoded (for tools, demos, tests).

    `kafka` is the KafkaSettings, `decode` a batch decoder such as `Contract.decode`.
    """
    from aiokafka import TopicPartition

    from streams.shared.kafka import fetch_until, make_consumer, topic_partitions

    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in await topic_partitions(kafka, topic)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)
        messages: list[Any] = []

        async def fetch() -> None:
            async for _, records in fetch_until(consumer, ends):
                messages.extend(records)

        await asyncio.wait_for(fetch(), timeout_s)
    finally:
        await consumer.stop()
    decoded: list[Received | Rejected] = await decode(messages)
    return decoded
