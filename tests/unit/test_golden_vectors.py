"""Given the committed golden vectors, acolhe and the Apache `avro` package read each other's
events, and every event ever pinned stays readable however the schemas evolve.

The `avro` package is the independent implementation: it finds the writer schema from the
frame's fingerprint alone, reads the body with its own decoder, and writes bodies for acolhe
to read. Personal fields are opened and sealed with `schemas.personal` and the vectors'
fixed test keys, at the field paths the codec uses: `<Record>.<field>`, `<Record>.<field>.<sub>`
for a nested record and `<Record>.<field>[].<sub>` for a record in an array.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from typing import Any

import avro.io
import avro.schema
import pytest

from schemas.codec import AVRO_DIR, RELEASES_DIR, Codec, SchemaSet
from schemas.personal import seal, unseal
from tests.golden.make_vectors import (
    SINGLE_OBJECT_MARKER,
    GoldenKeyRing,
    Vector,
    load_vectors,
    spec_fingerprint,
    to_json,
)

VECTORS = load_vectors()
CATALOG = SchemaSet.from_dirs()
RING = GoldenKeyRing()
# Encoding draws no random nonce without personal fields: those vectors pin acolhe's encoder
# too, while their schema is the one that wrote them.
DETERMINISTIC = [
    v
    for v in VECTORS
    if not CATALOG.current(v.event).has_personal
    and CATALOG.current(v.event).fingerprint == v.frame_fingerprint
]
PINNED = {
    "MessageReceived",
    "MessageSent",
    "DeliveryStatusChanged",
    "CaseTriaged",
    "RoutingDecided",
    "SlaBreached",
    "CalendarChanged",
    "InputDeadLettered",
    "ErasureCompleted",
    "ClockTicked",
}

Schema = Mapping[str, Any]
OnField = Callable[[str, Any], Any]


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(CATALOG)


def each_vector(vectors: list[Vector] = VECTORS) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("vector", vectors, ids=[v.id for v in vectors])


# -- the independent side: schema files by fingerprint, personal fields by path ---------------


def writer_schema(vector: Vector) -> Schema:
    """The schema file, current or released, whose fingerprint (by the avro package) the frame
    carries: what any Avro reader holding the catalog's files would do."""
    event = vector.event
    candidates = [AVRO_DIR / f"{event}.avsc", *sorted((RELEASES_DIR / event).glob("v*.avsc"))]
    for path in candidates:
        text = path.read_text(encoding="utf-8")
        if spec_fingerprint(text) == vector.encoded[2:10]:
            parsed: Schema = json.loads(text)
            return parsed
    raise AssertionError(
        f"{vector.id}: no schema file of {event} has the fingerprint in the frame "
        f"({vector.encoded[2:10].hex()}), read as the little-endian CRC-64-AVRO of its "
        "Parsing Canonical Form"
    )


def inline_record(avro_type: Any) -> tuple[Schema, bool] | None:
    """The record a field holds, written out in place, and whether it sits in an array."""
    if isinstance(avro_type, list):
        for branch in avro_type:
            found = inline_record(branch)
            if found is not None:
                return found
        return None
    if isinstance(avro_type, dict):
        if avro_type.get("type") == "record":
            return avro_type, False
        if avro_type.get("type") == "array":
            items = inline_record(avro_type["items"])
            return (items[0], True) if items is not None else None
    return None


def map_personal(record: Mapping[str, Any], schema: Schema, prefix: str, fn: OnField) -> Any:
    """A copy of `record` with `fn(path, value)` applied to each non-null personal field."""
    out = dict(record)
    for field in schema["fields"]:
        name, value = field["name"], out.get(field["name"])
        path = f"{prefix}.{name}"
        if value is None:
            continue
        if field.get("acolhe.personal") is True:
            out[name] = fn(path, value)
            continue
        nested = inline_record(field["type"])
        if nested is not None:
            sub, is_array = nested
            out[name] = (
                [map_personal(item, sub, f"{path}[]", fn) for item in value]
                if is_array
                else map_personal(value, sub, path, fn)
            )
    return out


def subject_of(record: Mapping[str, Any]) -> str:
    subject = record.get("subject_id")
    return subject if isinstance(subject, str) else "no-personal-fields"


def avro_read(vector: Vector) -> tuple[Schema, dict[str, Any]]:
    schema = writer_schema(vector)
    parsed = avro.schema.parse(json.dumps(schema))
    body = io.BytesIO(vector.encoded[10:])
    record = avro.io.DatumReader(parsed).read(avro.io.BinaryDecoder(body))
    assert body.tell() == len(vector.encoded) - 10, "the avro package left bytes unread"
    assert isinstance(record, dict)
    return schema, record


def avro_write(schema: Schema, record: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(json.dumps(schema))).write(
        record, avro.io.BinaryEncoder(out)
    )
    return out.getvalue()


def as_current(vector: Vector, decoded: Mapping[str, Any], codec: Codec) -> None:
    """`decoded` is the vector's record: exactly, or, once the schema has evolved, in every
    field the current schema kept (the new ones hold their defaults)."""
    if vector.frame_fingerprint == codec.schemas.current(vector.event).fingerprint:
        assert to_json(decoded) == to_json(vector.record)
    else:
        kept = {k: v for k, v in vector.record.items() if k in decoded}
        assert to_json({k: decoded[k] for k in kept}) == to_json(kept)


# -- the vectors themselves --------------------------------------------------------------------


def test_vectors_pin_the_events_the_brief_names() -> None:
    missing = PINNED - {v.event for v in VECTORS}
    assert not missing
    assert len({v.id for v in VECTORS}) == len(VECTORS)


def test_the_avro_package_fingerprints_as_the_avro_specification_publishes() -> None:
    # share/test/data/schema-tests.txt in apache/avro: "null" -> 7195948357588979594.
    assert spec_fingerprint('"null"') == (7195948357588979594).to_bytes(8, "little")
    with_logical_type = '{"type": "long", "logicalType": "timestamp-micros"}'
    assert spec_fingerprint(with_logical_type) == spec_fingerprint('"long"')


@each_vector()
def test_the_frame_is_the_marker_and_the_writer_schemas_fingerprint(vector: Vector) -> None:
    assert vector.encoded[:2] == SINGLE_OBJECT_MARKER
    assert vector.encoded[2:10] == vector.frame_fingerprint
    assert spec_fingerprint(json.dumps(writer_schema(vector))) == vector.frame_fingerprint


# -- acolhe reads what acolhe wrote, forever ---------------------------------------------------


@each_vector()
def test_acolhe_decodes_the_vector_to_its_record(vector: Vector, codec: Codec) -> None:
    decoded = codec.decode(vector.encoded, RING)
    assert decoded.name == vector.event
    assert decoded.version == vector.version
    as_current(vector, decoded.record, codec)


@each_vector()
def test_an_evolved_schema_still_knows_the_vectors_version(vector: Vector, codec: Codec) -> None:
    current = codec.schemas.current(vector.event)
    if vector.frame_fingerprint == current.fingerprint:
        assert vector.version == current.version
        return
    released = codec.schemas.by_fingerprint(vector.frame_fingerprint)
    assert released is not None, f"{vector.id} was released: its schema must stay in releases/"
    assert (released.name, released.version) == (vector.event, vector.version)
    assert released.version < current.version


@each_vector(DETERMINISTIC)
def test_acolhe_still_encodes_a_record_without_personal_fields_to_the_same_bytes(
    vector: Vector, codec: Codec
) -> None:
    assert codec.encode(vector.event, vector.record) == vector.encoded


# -- the avro package reads what acolhe wrote --------------------------------------------------


@each_vector()
def test_the_avro_package_reads_the_body(vector: Vector) -> None:
    schema, record = avro_read(vector)
    key = RING.decryption_key(subject_of(record))

    def open_one(path: str, value: Any) -> Any:
        assert isinstance(value, bytes), f"{path} is not sealed: {value!r}"
        return unseal(key, path, value)

    opened = map_personal(record, schema, vector.event, open_one)
    # The avro package returns its own UTC tzinfo and datetime.date; the JSON form compares
    # instants and refuses naive datetimes.
    assert to_json(opened) == to_json(vector.record)


@each_vector()
def test_the_avro_package_writes_the_body_back_byte_for_byte(vector: Vector) -> None:
    schema, record = avro_read(vector)
    assert avro_write(schema, record) == vector.encoded[10:]


# -- acolhe reads what the avro package wrote --------------------------------------------------


@each_vector()
def test_acolhe_decodes_what_the_avro_package_writes(vector: Vector, codec: Codec) -> None:
    schema = writer_schema(vector)
    key = RING.encryption_key(subject_of(vector.record))
    sealed = map_personal(
        vector.record, schema, vector.event, lambda path, value: seal(key, path, value)
    )
    frame = SINGLE_OBJECT_MARKER + spec_fingerprint(json.dumps(schema))
    data = frame + avro_write(schema, sealed)
    decoded = codec.decode(data, RING)
    assert (decoded.name, decoded.version) == (vector.event, vector.version)
    as_current(vector, decoded.record, codec)
