"""The Python event types mirror the schemas exactly and round-trip through the codec."""

from __future__ import annotations

from bench.samples import message_received, routing_decided
from schemas import typegen
from schemas.codec import Codec, SchemaSet
from schemas.events import EVENT_TYPES, Attachment, MessageReceived, RoutingDecided
from schemas.personal import ERASED, InMemoryKeyRing


def test_generated_types_are_up_to_date_with_the_schemas() -> None:
    assert typegen.main(["--check"]) == 0


def test_every_event_schema_has_a_type() -> None:
    assert set(EVENT_TYPES) == set(SchemaSet.from_dirs().names())


def test_a_typed_event_round_trips_through_the_codec() -> None:
    codec = Codec(SchemaSet.from_dirs())
    ring = InMemoryKeyRing()
    sent = MessageReceived.from_record(message_received(7))

    decoded = codec.decode(codec.encode(MessageReceived.NAME, sent.to_record(), ring), ring)
    received = EVENT_TYPES[decoded.name].from_record(decoded.record)

    assert received == sent
    assert isinstance(received.attachments[0], Attachment)
    assert received.attachments[0].file_name == "certidao_nascimento.jpg"


def test_an_erased_citizen_reads_as_erased_in_typed_events_too() -> None:
    codec = Codec(SchemaSet.from_dirs())
    ring = InMemoryKeyRing()
    data = codec.encode("MessageReceived", message_received(1), ring)
    ring.destroy("citizen-1")

    event = MessageReceived.from_record(codec.decode(data, ring).record)

    assert event.text is ERASED
    assert event.attachments[0].caption is ERASED
    assert event.attachments[0].media_type == "image/jpeg"  # the facts survive erasure


def test_events_without_personal_fields_need_no_keys() -> None:
    codec = Codec(SchemaSet.from_dirs())
    event = RoutingDecided.from_record(routing_decided(3))

    again = RoutingDecided.from_record(
        codec.decode(codec.encode(event.NAME, event.to_record())).record
    )

    assert again == event
