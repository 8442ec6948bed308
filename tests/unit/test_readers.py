"""The compiled readers (`schemas.readers`, behind `Codec.read`) give exactly the event the
general path gives (fastavro, open, `from_record`), for every event type: on any valid
record, for an erased subject, and on damaged bytes, where both refuse with DecodeError."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import Codec, SchemaSet
from schemas.errors import DecodeError
from schemas.events import EVENT_TYPES
from schemas.personal import ERASED, InMemoryKeyRing
from schemas.readers import read_long

CODEC = Codec(SchemaSet.from_dirs())
NAMES = CODEC.schemas.names()
TEXT = st.text(max_size=12)
INSTANT = st.integers(min_value=0, max_value=4_102_444_800_000_000).map(
    lambda us: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
)


def values(avro: Any, names: dict[str, Any], *, personal: bool = False) -> st.SearchStrategy[Any]:
    """Records that fit the Avro type `avro` (personal bytes as the text they seal)."""
    if isinstance(avro, list):
        (other,) = [b for b in avro if b != "null"]
        return st.none() | values(other, names, personal=personal)
    if isinstance(avro, str) and avro in names:
        avro = names[avro]
    kind = avro if isinstance(avro, str) else avro["type"]
    logical = avro.get("logicalType") if isinstance(avro, dict) else None
    if logical == "timestamp-micros":
        return INSTANT
    if logical == "date":
        return st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1))
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "string": TEXT,
        "bytes": TEXT if personal else st.binary(max_size=12),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        names[avro["name"]] = avro
        return st.sampled_from(avro["symbols"])
    if kind == "array":
        return st.lists(values(avro["items"], names), max_size=3)
    assert kind == "record", avro
    names[avro["name"]] = avro
    fields = {
        f["name"]: values(f["type"], names, personal=f.get("acolhe.personal") is True)
        for f in avro["fields"]
    }
    if "subject_id" in fields:
        fields["subject_id"] = st.sampled_from(["citizen-a", "citizen-b"])
    return st.fixed_dictionaries(fields)


@st.composite
def encoded(draw: st.DrawFn) -> tuple[str, bytes, InMemoryKeyRing]:
    name = draw(st.sampled_from(NAMES))
    record = draw(values(dict(CODEC.schemas.current(name).raw), {}))
    ring = InMemoryKeyRing()
    return name, CODEC.encode(name, record, ring), ring


def general(data: bytes, ring: InMemoryKeyRing) -> Any:
    decoded = CODEC.decode(data, ring)
    return EVENT_TYPES[decoded.name].from_record(decoded.record)


def test_every_event_type_has_a_compiled_reader() -> None:
    for name in NAMES:
        reader, _ = CODEC._compiled(CODEC.schemas.current(name))
        assert reader is not None, name


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encoded())
def test_compiled_reader_equals_the_general_path(case: tuple[str, bytes, Any]) -> None:
    name, data, ring = case
    expected = general(data, ring)
    assert CODEC.read(data, ring) == expected
    assert type(CODEC.read(data, ring)).__name__ == name
    if CODEC.schemas.current(name).has_personal:
        assert CODEC.subject_of(data) == expected.subject_id


@settings(max_examples=100, deadline=None)
@given(encoded())
def test_an_erased_subject_reads_as_erased_on_both_paths(case: tuple[str, bytes, Any]) -> None:
    name, data, ring = case
    if not CODEC.schemas.current(name).has_personal:
        return
    ring.destroy(CODEC.subject_of(data))
    event = CODEC.read(data, ring)
    assert event == general(data, ring)
    if hasattr(event, "contact_address"):
        assert event.contact_address is ERASED


@settings(max_examples=300, deadline=None)
@given(encoded(), st.data())
def test_damaged_bytes_are_refused_or_read_alike(case: tuple[str, bytes, Any], data: Any) -> None:
    """Truncated, extended or flipped bytes: whatever the general path makes of them (an
    event, or DecodeError), the compiled reader makes the same."""
    _, raw, ring = case
    damage = data.draw(st.sampled_from(["truncate", "extend", "flip"]))
    body = bytearray(raw)
    if damage == "truncate":
        body = body[: data.draw(st.integers(10, len(body) - 1))] if len(body) > 10 else body
    elif damage == "extend":
        body += data.draw(st.binary(min_size=1, max_size=4))
    else:
        at = data.draw(st.integers(10, len(body) - 1)) if len(body) > 10 else None
        if at is not None:
            body[at] ^= data.draw(st.integers(1, 255))
    damaged = bytes(body)
    try:
        expected = general(damaged, ring)
    except DecodeError:
        with pytest.raises(DecodeError):
            CODEC.read(damaged, ring)
        return
    assert CODEC.read(damaged, ring) == expected


@settings(max_examples=50, deadline=None)
@given(encoded())
def test_a_body_with_a_byte_left_over_says_so(case: tuple[str, bytes, Any]) -> None:
    _, data, ring = case
    with pytest.raises(DecodeError, match="1 bytes left after the record"):
        CODEC.read(data + b"\x00", ring)


@given(st.integers(-(2**63), 2**63 - 1))
def test_read_long_reads_every_zigzag_long(n: int) -> None:
    zigzag = (n << 1) ^ (n >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    assert read_long(bytes(out), 0) == (n, len(out))
