"""Avro object container files (schemas.container): self-describing, deflated, readable by
the Apache Avro reference implementation too."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import avro.datafile
import avro.io
import pytest

from schemas.container import ContainerWriter, read_container
from schemas.errors import DecodeError, EncodeError

SCHEMA = {
    "type": "record",
    "name": "CaseOpened",
    "namespace": "acolhe.events",
    "doc": "A case began.",
    "fields": [
        {"name": "case_id", "type": "string", "doc": "The case."},
        {"name": "occurred_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "note", "type": ["null", "string"], "default": None, "acolhe.export": "clear"},
    ],
}
AT = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


def written(records: int, *, block_bytes: int = 64) -> bytes:
    out = io.BytesIO()
    writer = ContainerWriter(
        out, SCHEMA, metadata={"acolhe.event": "CaseOpened"}, block_bytes=block_bytes
    )
    writer.write({"case_id": f"case-{i}", "occurred_at": AT, "note": None} for i in range(records))
    writer.close()
    assert writer.records == records
    return out.getvalue()


def test_records_read_back_with_the_schema_the_file_names() -> None:
    container = read_container(io.BytesIO(written(100)))

    records = list(container.records)
    assert [r["case_id"] for r in records] == [f"case-{i}" for i in range(100)]
    assert records[0]["occurred_at"] == AT
    assert container.metadata["avro.codec"] == "deflate"
    assert container.metadata["acolhe.event"] == "CaseOpened"
    assert container.schema["fields"][0]["doc"] == "The case."
    assert container.schema["fields"][2]["acolhe.export"] == "clear"


def test_the_apache_avro_reader_reads_it() -> None:
    reader = avro.datafile.DataFileReader(io.BytesIO(written(3)), avro.io.DatumReader())

    records: list[Any] = list(reader)
    assert [r["case_id"] for r in records] == ["case-0", "case-1", "case-2"]


def test_a_record_that_does_not_fit_is_an_encode_error() -> None:
    writer = ContainerWriter(io.BytesIO(), SCHEMA)

    with pytest.raises(EncodeError, match="does not fit"):
        writer.write([{"case_id": 42, "occurred_at": AT}])


def test_a_bad_schema_and_a_non_container_are_refused() -> None:
    with pytest.raises(EncodeError, match="not a valid Avro schema"):
        ContainerWriter(io.BytesIO(), {"type": "record", "name": "X", "fields": [{"x": 1}]})
    with pytest.raises(DecodeError, match="not an Avro container"):
        read_container(io.BytesIO(b"C\x03garbage"))
