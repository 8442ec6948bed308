"""The compiled writers (`schemas.writers`, behind `Codec.encode`) write exactly the bytes
fastavro writes, for every event type, on any valid record; and on a record that does not
fit (a value of another type, a missing field, an int out of range), `Codec.encode` gives
what the general path gives: the same bytes when fastavro takes it, the same EncodeError
when it does not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import personal
from schemas.errors import EncodeError
from schemas.personal import ERASED, InMemoryKeyRing, Sealer
from schemas.readers import read_long
from schemas.writers import NotCommon, varint
from tests.unit.test_readers import CODEC, NAMES, values


@contextmanager
def fixed_nonces() -> Iterator[None]:
    """Sealing draws a random nonce; for byte-for-byte comparison both paths get the same."""
    with mock.patch.object(personal, "_nonce", return_value=b"\x07" * 12):
        yield


def both(name: str, record: dict[str, Any], ring: InMemoryKeyRing) -> tuple[Any, Any]:
    """(compiled, general): the bytes or the EncodeError of each path alone."""
    schema = CODEC.schemas.current(name)
    frame = CODEC._frame(schema)
    results: list[Any] = []
    for write in (CODEC._write_compiled, CODEC._write_general):
        sealer = Sealer(ring, record["subject_id"]) if schema.has_personal else None
        try:
            with fixed_nonces():
                results.append(write(schema, frame, record, sealer))
        except EncodeError as exc:
            results.append(exc)
    return results[0], results[1]


@st.composite
def records(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(NAMES))
    return name, draw(values(dict(CODEC.schemas.current(name).raw), {}))


def test_every_event_type_has_a_compiled_writer() -> None:
    for name in NAMES:
        assert CODEC._writer(CODEC.schemas.current(name)) is not None, name


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_compiled_writer_writes_the_bytes_fastavro_writes(case: tuple[str, dict[str, Any]]) -> None:
    name, record = case
    ring = InMemoryKeyRing()
    compiled, general = both(name, record, ring)
    assert isinstance(general, bytes)
    assert compiled == general
    with fixed_nonces():
        assert CODEC.encode(name, record, ring) == general


ODD_VALUES = [
    1.5,
    b"bytes",
    "text",
    None,
    True,
    7,
    2**40,
    2**70,
    -(2**31) - 1,
    datetime(2026, 1, 1, 12, 0),  # naive
    date(2026, 1, 1),
    [],
    ("a",),
    {},
    ERASED,
    type("Sub", (str,), {})("a str subclass"),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), st.data())
def test_a_record_off_the_common_case_gets_the_general_paths_answer(
    case: tuple[str, dict[str, Any]], data: Any
) -> None:
    name, record = case
    field = data.draw(st.sampled_from(sorted(record)))
    if field == "subject_id":
        return  # checked before either path: encode refuses a subject that is not text
    odd = dict(record)
    if data.draw(st.booleans()):
        del odd[field]
    else:
        odd[field] = data.draw(st.sampled_from(ODD_VALUES))
    ring = InMemoryKeyRing()
    compiled, general = both(name, odd, ring)
    if compiled is not None:  # the compiled writer took it: fastavro writes the same
        assert compiled == general
    with fixed_nonces():
        if isinstance(general, EncodeError):
            with pytest.raises(EncodeError) as raised:
                CODEC.encode(name, odd, ring)
            assert str(raised.value) == str(general)
        else:
            assert CODEC.encode(name, odd, ring) == general


@settings(max_examples=50, deadline=None)
@given(values(dict(CODEC.schemas.current("MessageReceived").raw), {}))
def test_an_erased_value_is_written_erased_by_both_paths(record: dict[str, Any]) -> None:
    record["text"] = ERASED
    ring = InMemoryKeyRing()
    compiled, general = both("MessageReceived", record, ring)
    assert compiled == general
    assert CODEC.decode(compiled, ring).record["text"] is ERASED


@given(st.integers(-(2**63), 2**63 - 1))
def test_varint_writes_what_read_long_reads(n: int) -> None:
    written = varint(n)
    assert read_long(written, 0) == (n, len(written))


@pytest.mark.parametrize("n", [2**63, -(2**63) - 1, 2**100])
def test_a_long_out_of_range_is_not_the_common_case(n: int) -> None:
    with pytest.raises(NotCommon):
        varint(n)
