"""Given an event schema, the codec frames, seals, encodes and decodes exactly; bad bytes
always become a DecodeError with a reason."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import Codec, SchemaSet, load_schema
from schemas.errors import DecodeError, EncodeError, UnknownEvent
from schemas.personal import ERASED, SEALED_ERASED, DataKey, InMemoryKeyRing, Sealer, seal, unseal

NOTE_V1: dict[str, Any] = {
    "type": "record",
    "name": "NoteTaken",
    "namespace": "acolhe.test",
    "acolhe.version": 1,
    "doc": "A test event.",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "occurred_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "subject_id", "type": "string"},
        {"name": "text", "type": "bytes", "acolhe.personal": True},
        {"name": "area", "type": "string"},
        {
            "name": "files",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "File",
                    "fields": [
                        {"name": "size", "type": "long"},
                        {
                            "name": "name",
                            "type": ["null", "bytes"],
                            "default": None,
                            "acolhe.personal": True,
                        },
                    ],
                },
            },
        },
    ],
}
NOTE_V2 = {
    **NOTE_V1,
    "acolhe.version": 2,
    "fields": [*NOTE_V1["fields"], {"name": "priority", "type": "string", "default": "normal"}],
}
WHEN = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def note(**changes: Any) -> dict[str, Any]:
    record = {
        "event_id": "e-1",
        "occurred_at": WHEN,
        "subject_id": "citizen-1",
        "text": "Meu marido me ameaçou",
        "area": "violencia_domestica",
        "files": [{"size": 10, "name": "bo.pdf"}, {"size": 3, "name": None}],
    }
    record.update(changes)
    return record


@pytest.fixture
def codec() -> Codec:
    return Codec(SchemaSet([load_schema(NOTE_V1)]))


def test_round_trip_with_the_key_gives_back_the_record(codec: Codec) -> None:
    ring = InMemoryKeyRing()

    data = codec.encode("NoteTaken", note(), ring)
    decoded = codec.decode(data, ring)

    assert decoded.name == "NoteTaken"
    assert decoded.record == note()


def test_personal_fields_are_not_in_clear_in_the_bytes(codec: Codec) -> None:
    data = codec.encode("NoteTaken", note(), InMemoryKeyRing())

    assert "ameaçou".encode() not in data
    assert b"bo.pdf" not in data
    assert b"violencia_domestica" in data  # non-personal facts stay readable


def test_single_object_frame_is_marker_and_rabin_fingerprint(codec: Codec) -> None:
    data = codec.encode("NoteTaken", note(), InMemoryKeyRing())

    assert data[:2] == b"\xc3\x01"
    canonical = fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(NOTE_V1))
    expected = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
    assert data[2:10] == expected
    # The spec's own example: the fingerprint of "null" is 0x63dd24e7cc258f8a, little-endian.
    null_fp = bytes.fromhex(fastavro.schema.fingerprint('"null"', "CRC-64-AVRO"))
    assert int.from_bytes(null_fp, "little") == 0x63DD24E7CC258F8A


def test_after_the_key_is_destroyed_personal_fields_read_as_erased(codec: Codec) -> None:
    ring = InMemoryKeyRing()
    data = codec.encode("NoteTaken", note(), ring)

    ring.destroy("citizen-1")
    record = codec.decode(data, ring).record

    assert record["text"] is ERASED
    assert record["files"][0]["name"] is ERASED
    assert record["files"][1]["name"] is None
    assert record["area"] == "violencia_domestica"
    assert record["files"][0]["size"] == 10


def test_an_erased_value_is_written_with_no_key_and_reads_as_erased_with_any(
    codec: Codec,
) -> None:
    ring = InMemoryKeyRing()
    ring.encryption_key("citizen-1")
    ring.destroy("citizen-1")  # a processor's output for a citizen erased meanwhile

    data = codec.encode("NoteTaken", codec.erase("NoteTaken", note()), ring)

    assert b"amea" not in data
    assert b"bo.pdf" not in data
    assert codec.decode(data).record["text"] == SEALED_ERASED
    another = InMemoryKeyRing()
    another.encryption_key("citizen-1")
    for keys in (ring, another):  # the key destroyed, or some key: ERASED either way
        record = codec.decode(data, keys).record
        assert record["text"] is ERASED
        assert [f["name"] for f in record["files"]] == [ERASED, None]
        assert record["area"] == "violencia_domestica"


def test_a_value_already_erased_needs_no_key_to_be_encoded_again(codec: Codec) -> None:
    # A replay after an erasure decides outputs from inputs that read ERASED.
    data = codec.encode("NoteTaken", note(text=ERASED, files=[]), InMemoryKeyRing())

    assert codec.decode(data, InMemoryKeyRing()).record["text"] is ERASED


def test_a_sealed_value_moved_to_another_subject_fails_authentication(codec: Codec) -> None:
    ring = InMemoryKeyRing()
    data = codec.encode("NoteTaken", note(), ring)
    sealed = codec.decode(data).record  # no key ring: fields stay sealed
    ring.encryption_key("citizen-2")
    moved = {**sealed, "subject_id": "citizen-2"}

    with pytest.raises(DecodeError, match="authentication"):
        codec.open(codec.schemas.current("NoteTaken"), moved, ring)


def test_old_versions_decode_as_the_current_schema() -> None:
    ring = InMemoryKeyRing()
    old = Codec(SchemaSet([load_schema(NOTE_V1)])).encode("NoteTaken", note(), ring)
    new = Codec(SchemaSet([load_schema(NOTE_V2)], released=[load_schema(NOTE_V1)]))

    decoded = new.decode(old, ring)

    assert decoded.version == 1
    assert decoded.record["priority"] == "normal"
    assert decoded.record["text"] == note()["text"]


def test_a_record_that_does_not_fit_names_the_field(codec: Codec) -> None:
    with pytest.raises(EncodeError, match="area"):
        codec.encode("NoteTaken", note(area=42), InMemoryKeyRing())


def test_personal_fields_need_a_key_ring_and_a_subject(codec: Codec) -> None:
    with pytest.raises(EncodeError, match="key ring"):
        codec.encode("NoteTaken", note())
    with pytest.raises(EncodeError, match="subject_id"):
        codec.encode("NoteTaken", note(subject_id=""), InMemoryKeyRing())


def test_unknown_event_name_and_fingerprint(codec: Codec) -> None:
    with pytest.raises(UnknownEvent):
        codec.encode("Nope", {})
    with pytest.raises(UnknownEvent, match="fingerprint"):
        codec.decode(b"\xc3\x01" + b"\x00" * 8 + b"\x02")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "too short"),
        (b"garbage bytes here", "not Avro single-object"),
        (b"\xc3\x01\x00", "too short"),
    ],
)
def test_bad_frames_say_what_is_wrong(codec: Codec, data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        codec.decode(data)


def test_truncated_and_padded_bodies_are_refused(codec: Codec) -> None:
    data = codec.encode("NoteTaken", note(), InMemoryKeyRing())

    for cut in (11, len(data) // 2, len(data) - 1):
        with pytest.raises(DecodeError):
            codec.decode(data[:cut])
    with pytest.raises(DecodeError, match="left after the record"):
        codec.decode(data + b"\x00")


def test_a_declared_length_of_gigabytes_fails_fast(codec: Codec) -> None:
    frame = codec.encode("NoteTaken", note(), InMemoryKeyRing())[:10]
    body = io.BytesIO()
    body.write(b"\x06e-1")  # event_id
    body.write(b"\x02")  # occurred_at
    body.write(b"\xfe\xff\xff\xff\x0f")  # subject_id claims ~2 GB

    with pytest.raises(DecodeError):
        codec.decode(frame + body.getvalue())


def test_oversized_input_is_refused_before_reading(codec: Codec) -> None:
    small = Codec(codec.schemas, max_bytes=64)
    with pytest.raises(DecodeError, match="limit"):
        small.decode(b"\xc3\x01" + b"\x00" * 100)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_fail_with_decode_error(data: bytes) -> None:
    codec = Codec(SchemaSet([load_schema(NOTE_V1)]))
    frame = b"\xc3\x01" + codec.schemas.current("NoteTaken").fingerprint
    for candidate in (data, frame + data):
        _decodes_or_says_why(codec, candidate, InMemoryKeyRing())


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_flipping_any_byte_never_crashes(data: st.DataObject) -> None:
    codec = Codec(SchemaSet([load_schema(NOTE_V1)]))
    ring = InMemoryKeyRing()
    good = bytearray(codec.encode("NoteTaken", note(), ring))
    at = data.draw(st.integers(0, len(good) - 1))
    good[at] ^= data.draw(st.integers(1, 255))
    _decodes_or_says_why(codec, bytes(good), ring)


def _decodes_or_says_why(codec: Codec, data: bytes, ring: InMemoryKeyRing) -> None:
    try:
        decoded = codec.decode(data, ring)
    except (DecodeError, UnknownEvent) as exc:
        assert str(exc), "a refusal must carry its reason"  # noqa: PT017
    else:
        assert decoded.name == "NoteTaken"
        assert set(decoded.record) == {f["name"] for f in NOTE_V1["fields"]}


def test_a_record_of_the_wrong_type_is_refused_when_types_are_expected(codec: Codec) -> None:
    data = codec.encode("NoteTaken", note(), InMemoryKeyRing())

    with pytest.raises(DecodeError, match="unexpected event type NoteTaken"):
        codec.decode(data, expect={"MessageReceived"})


def test_peek_reads_type_id_and_time_without_decoding_the_body() -> None:
    from bench.samples import message_received

    codec = Codec(SchemaSet.from_dirs())
    record = message_received(42)
    data = codec.encode("MessageReceived", record, InMemoryKeyRing())

    peeked = codec.peek(data)

    assert peeked.name == "MessageReceived"
    assert peeked.version == 1
    assert peeked.event_id == record["event_id"]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert peeked.occurred_at_us == (record["occurred_at"] - epoch) // timedelta(microseconds=1)


def test_peek_refuses_truncated_envelopes_and_foreign_records(codec: Codec) -> None:
    from bench.samples import routing_decided

    real = Codec(SchemaSet.from_dirs())
    data = real.encode("RoutingDecided", routing_decided(1))
    with pytest.raises(DecodeError, match="runs past the end"):
        real.peek(data[:14])
    foreign = Codec(
        SchemaSet(
            [
                load_schema(
                    {
                        "type": "record",
                        "name": "Foreign",
                        "fields": [{"name": "x", "type": "string"}],
                    }
                )
            ]
        )
    )
    with pytest.raises(DecodeError, match="envelope"):
        foreign.peek(foreign.encode("Foreign", {"x": "hello"}))
    assert codec.peek(codec.encode("NoteTaken", note(), InMemoryKeyRing())).event_id == "e-1"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_peek_on_any_bytes_answers_or_says_why(tail: bytes) -> None:
    real = Codec(SchemaSet.from_dirs())
    frame = b"\xc3\x01" + real.schemas.current("ClockTicked").fingerprint
    try:
        peeked = real.peek(frame + tail)
    except DecodeError as exc:
        assert str(exc)  # noqa: PT017
    else:
        assert peeked.name == "ClockTicked"


def test_every_sealed_value_gets_its_own_nonce() -> None:
    key = DataKey("subject-1", bytes(32))
    nonces = [seal(key, "text", "o mesmo texto")[1:13] for _ in range(5_000)]
    assert len(set(nonces)) == len(nonces)


def test_a_forked_child_never_seals_with_a_nonce_its_parent_drew() -> None:
    key = DataKey("subject-1", bytes(32))
    seal(key, "text", "primeiro")  # the parent now holds a drawn pool of nonces
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next nonces, to the parent
        try:
            os.write(write, b"".join(seal(key, "text", "x")[1:13] for _ in range(50)))
        finally:
            os._exit(0)
    os.close(write)
    child = b""
    while chunk := os.read(read, 4096):
        child += chunk
    os.close(read)
    os.waitpid(pid, 0)
    parent = {seal(key, "text", "x")[1:13] for _ in range(50)}
    child_nonces = {child[i : i + 12] for i in range(0, len(child), 12)}
    assert len(child_nonces) == 50
    assert not parent & child_nonces


def test_values_sealed_for_one_record_open_with_the_plain_unseal() -> None:
    ring = InMemoryKeyRing()
    sealer = Sealer(ring, "subject-1")
    first, second = sealer("text", "um"), sealer("sender_name", "dois")
    key = ring.decryption_key("subject-1")
    assert unseal(key, "text", first) == "um"
    assert unseal(key, "sender_name", second) == "dois"
    with pytest.raises(DecodeError):  # bound to its field
        unseal(key, "sender_name", first)
