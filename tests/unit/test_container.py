"""Avro container files as `acolhe export` writes them (`schemas.container`): records
written by the compiled writers inside our own block framing read back, with fastavro,
exactly as the same records written by fastavro's own container writer; a record that does
not fit the schema is refused with EncodeError and leaves the file whole."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.container import ContainerWriter, read_container
from schemas.errors import EncodeError
from streams.export.privacy import redaction_for
from tests.unit.test_readers import CODEC, NAMES, values

POLICIES = ("omit", "pseudonymize", "clear")


def exported_schema(name: str, policy: str) -> dict[str, Any]:
    return dict(redaction_for(CODEC.schemas.current(name).raw, policy).schema)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_records_read_back_as_from_fastavros_own_container_writer(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(NAMES))
    schema = exported_schema(name, data.draw(st.sampled_from(POLICIES)))
    records = data.draw(st.lists(values(schema, {}), min_size=1, max_size=6))
    ours = io.BytesIO()
    with ContainerWriter(ours, schema, metadata={"acolhe.run": "t"}, block_bytes=200) as w:
        w.write(records)
    theirs = io.BytesIO()
    fastavro.writer(theirs, fastavro.parse_schema(dict(schema)), records, codec="deflate")
    ours.seek(0)
    theirs.seek(0)
    got = read_container(ours)
    assert list(got.records) == list(fastavro.reader(theirs))
    assert got.metadata["acolhe.run"] == "t"
    assert got.metadata["avro.codec"] == "deflate"
    assert got.schema["name"].rsplit(".", 1)[-1] == name
    assert w.records == len(records)


AT = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


GOOD: dict[str, Any] = {
    "event_id": "e-1",
    "occurred_at": AT,
    "correlation_id": "c",
    "agent_id": "agent-7",
    "capacity": 3,
    "changed_at": AT,
}


def test_many_blocks_and_the_general_path_in_one_file() -> None:
    schema = exported_schema("AgentCapacityChanged", "omit")
    off_common = GOOD | {"capacity": True}  # a bool for an int: fastavro writes it as 1
    out = io.BytesIO()
    with ContainerWriter(out, schema, block_bytes=64) as w:
        w.write([GOOD, off_common] * 50)
    out.seek(0)
    back = list(read_container(out).records)
    assert len(back) == 100
    assert [r["capacity"] for r in back[:2]] == [3, 1]


def test_a_record_that_does_not_fit_is_refused_and_the_file_stays_whole() -> None:
    schema = exported_schema("AgentCapacityChanged", "omit")
    out = io.BytesIO()
    with ContainerWriter(out, schema) as w:
        w.write([GOOD])
        with pytest.raises(EncodeError, match="does not fit"):
            w.write([GOOD | {"capacity": "three"}])
        w.write([GOOD | {"event_id": "e-2"}])
    out.seek(0)
    assert [r["event_id"] for r in read_container(out).records] == ["e-1", "e-2"]
