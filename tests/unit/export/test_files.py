"""The files of an event type: streamed in chunks, whole under their final names, readable
by pandas and DuckDB; a folder in use is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from bench.samples import routing_decided
from schemas.container import read_container
from streams.export.files import TypeFiles, prepare_out_dir, write_manifest
from streams.export.privacy import redaction_for
from streams.shared.errors import BadInput
from tests.unit.export.builders import codec


def decisions(n: int) -> list[dict[str, Any]]:
    return [routing_decided(i) for i in range(n)]


def files(out: Path, **kwargs: Any) -> TypeFiles:
    redaction = redaction_for(codec().schemas.current("RoutingDecided").raw, "pseudonymize")
    return TypeFiles(out, redaction, ("avro", "parquet", "csv"), **kwargs)


def test_rows_are_streamed_in_chunks_and_read_back_by_pandas_duckdb_and_avro(
    tmp_path: Path,
) -> None:
    written = files(tmp_path, chunk_rows=2)
    for record in decisions(5):
        written.add(record)

    paths = written.close()

    assert [p.name for p in paths] == [
        "RoutingDecided.avro",
        "RoutingDecided.parquet",
        "RoutingDecided.csv",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert pq.ParquetFile(tmp_path / "RoutingDecided.parquet").num_row_groups == 3
    frame = pd.read_parquet(tmp_path / "RoutingDecided.parquet")
    assert list(frame["case_id"]) == [f"case-{i}" for i in range(5)]
    assert str(frame["occurred_at"].dt.tz) == "UTC"
    assert len(pd.read_csv(tmp_path / "RoutingDecided.csv")) == 5
    db = duckdb.connect()
    waited = db.execute(
        f"SELECT sum(waited_ms) FROM read_csv('{tmp_path}/RoutingDecided.csv')"
    ).fetchone()
    assert waited == (5 * 4_210,)
    eligible = db.execute(
        "SELECT count(*) FROM ("
        f" SELECT unnest(from_json(candidates, '[\"json\"]')) AS c"
        f" FROM '{tmp_path}/RoutingDecided.parquet')"
        " WHERE c->>'eligible' = 'true'"
    ).fetchone()
    assert eligible is not None
    assert eligible[0] > 0
    with (tmp_path / "RoutingDecided.avro").open("rb") as f:
        container = read_container(f)
        assert [r["case_id"] for r in container.records] == [f"case-{i}" for i in range(5)]
    assert container.metadata["acolhe.event"] == "RoutingDecided"
    assert container.metadata["acolhe.personal"] == "pseudonymize"
    assert container.schema["name"].endswith("RoutingDecided")


def test_the_csv_is_rfc_4180_with_a_header(tmp_path: Path) -> None:
    redaction = redaction_for(codec().schemas.current("CommandRefused").raw, "omit")
    written = TypeFiles(tmp_path, redaction, ("csv",), chunk_rows=10)
    written.add(
        {
            "event_id": "r-1",
            "occurred_at": routing_decided(0)["occurred_at"],
            "correlation_id": "r-1",
            "causation_id": None,
            "command_id": "c-1",
            "command": "SendReply",
            "agent_id": "agent-1",
            "case_id": None,
            "reason": "not_your_case",
            "detail": 'the case is held by "agent-2", not you',
        }
    )

    (path,) = written.close()

    raw = path.read_bytes()
    assert raw.startswith(b"event_id,occurred_at,correlation_id,causation_id,command_id,")
    assert b'"the case is held by ""agent-2"", not you"\r\n' in raw
    assert b",2026-11-28T12:00:00.000000Z," in raw


def test_an_event_type_with_no_event_gets_readable_empty_files(tmp_path: Path) -> None:
    paths = files(tmp_path, chunk_rows=10).close()

    assert len(pd.read_parquet(paths[1])) == 0
    assert list(pd.read_csv(paths[2]).columns)[:2] == ["event_id", "occurred_at"]
    with paths[0].open("rb") as f:
        assert list(read_container(f).records) == []


def test_a_failed_export_leaves_no_partial_file(tmp_path: Path) -> None:
    written = files(tmp_path, chunk_rows=1)
    written.add(decisions(1)[0])

    written.abort()

    assert list(tmp_path.iterdir()) == []


def test_a_folder_in_use_is_refused_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    with pytest.raises(BadInput, match="not empty"):
        prepare_out_dir(tmp_path, force=False)
    prepare_out_dir(tmp_path, force=True)
    prepare_out_dir(tmp_path / "new" / "folder", force=False)

    assert (tmp_path / "new" / "folder").is_dir()
    with pytest.raises(BadInput, match="not a folder"):
        prepare_out_dir(tmp_path / "notes.txt", force=True)
    with pytest.raises(BadInput, match="cannot write into"):
        prepare_out_dir(tmp_path / "notes.txt" / "below", force=False)


def test_the_manifest_is_json(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"events": {"CaseOpened": 3}})

    assert pd.read_json(path, typ="series")["events"] == {"CaseOpened": 3}
