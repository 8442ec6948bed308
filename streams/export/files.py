"""The files of an export: per event type, one Avro container, one Parquet, one CSV file.

Rows are streamed out in chunks (`chunk_rows` rows: a Parquet row group, a CSV flush; the
Avro file writes a compressed block every 256 KiB), so an export of any size holds at
most a chunk per event type in memory. Each file is written as `<name>.partial` and
renamed when complete: a file under its final name is whole; an export that fails
removes its partial files.

Must not depend on Kafka or Postgres; Avro goes through `schemas.container`.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from schemas.container import ContainerWriter
from streams.export.plan import Format
from streams.export.privacy import Redaction
from streams.export.rows import Column, Kind, columns_of, csv_cell, flatten
from streams.shared.errors import BadInput

MANIFEST: Final = "manifest.json"
SUFFIX: Final[Mapping[Format, str]] = {"avro": ".avro", "parquet": ".parquet", "csv": ".csv"}
_PARTIAL: Final = ".partial"
_ARROW: Final[Mapping[Kind, Any]] = {
    "string": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "boolean": pa.bool_(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "json": pa.string(),
}


def prepare_out_dir(path: Path, *, force: bool) -> None:
    """Make sure `path` is a folder the export may write into; BadInput says why not."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise BadInput(
            f"{path} is not empty: choose a new or empty folder, or pass --force to write "
            "there anyway (files of the same names are replaced, others left alone)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise BadInput(f"cannot write into {path}: {exc.strerror or exc}") from exc


def file_metadata(redaction: Redaction) -> dict[str, str]:
    """What every file of an event type says about itself."""
    return {
        "acolhe.event": redaction.name,
        "acolhe.version": str(redaction.schema.get("acolhe.version", 1)),
        "acolhe.personal": redaction.policy,
    }


class TypeFiles:
    """The files of one event type, opened on the first record (or empty at the end)."""

    def __init__(
        self,
        out_dir: Path,
        redaction: Redaction,
        formats: Sequence[Format],
        *,
        chunk_rows: int,
    ) -> None:
        self.redaction = redaction
        self.formats = tuple(formats)
        self.paths = {f: out_dir / f"{redaction.name}{SUFFIX[f]}" for f in self.formats}
        self.columns: tuple[Column, ...] = columns_of(redaction.schema)
        self.events = 0
        self._chunk_rows = chunk_rows
        self._rows: list[tuple[Any, ...]] = []
        self._handles: list[IO[Any]] = []
        self._avro: ContainerWriter | None = None
        self._parquet: Any = None
        self._csv: Any = None
        self._csv_file: IO[str] | None = None
        self._open = False

    def add(self, record: dict[str, Any]) -> None:
        """Write one exported record (to Avro now, to Parquet and CSV by the chunk)."""
        if not self._open:
            self._start()
        self.events += 1
        if self._avro is not None:
            self._avro.write((record,))
        if self._parquet is not None or self._csv is not None:
            self._rows.append(flatten(record, self.columns))
            if len(self._rows) >= self._chunk_rows:
                self._flush_rows()

    def close(self) -> tuple[Path, ...]:
        """Finish every file and give it its final name; returns the paths written."""
        if not self._open:
            self._start()
        self._flush_rows()
        if self._avro is not None:
            self._avro.close()
        if self._parquet is not None:
            self._parquet.close()
        for handle in self._handles:
            handle.close()
        for path in self.paths.values():
            os.replace(_partial(path), path)
        return tuple(self.paths.values())

    def abort(self) -> None:
        """Close and remove the partial files (after a failure)."""
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
        for handle in self._handles:
            with contextlib.suppress(OSError):
                handle.close()
        for path in self.paths.values():
            with contextlib.suppress(FileNotFoundError):
                _partial(path).unlink()

    def _start(self) -> None:
        self._open = True
        metadata = file_metadata(self.redaction)
        if "avro" in self.paths:
            out = _partial(self.paths["avro"]).open("wb")
            self._handles.append(out)
            self._avro = ContainerWriter(out, self.redaction.schema, metadata=metadata)
        if "parquet" in self.paths:
            schema = pa.schema(
                [
                    pa.field(
                        c.name,
                        _ARROW[c.kind],
                        metadata={"doc": c.doc, **({"format": "json"} if c.kind == "json" else {})},
                    )
                    for c in self.columns
                ],
                metadata=metadata,
            )
            self._parquet = pq.ParquetWriter(
                str(_partial(self.paths["parquet"])), schema, compression="zstd"
            )
        if "csv" in self.paths:
            self._csv_file = _partial(self.paths["csv"]).open("w", newline="", encoding="utf-8")
            self._handles.append(self._csv_file)
            self._csv = csv.writer(self._csv_file, lineterminator="\r\n")
            self._csv.writerow([c.name for c in self.columns])

    def _flush_rows(self) -> None:
        if not self._rows:
            return
        if self._parquet is not None:
            arrays = [
                pa.array([row[i] for row in self._rows], type=_ARROW[c.kind])
                for i, c in enumerate(self.columns)
            ]
            self._parquet.write_table(pa.Table.from_arrays(arrays, schema=self._parquet.schema))
        if self._csv is not None and self._csv_file is not None:
            self._csv.writerows([csv_cell(v) for v in row] for row in self._rows)
            self._csv_file.flush()
        self._rows.clear()


def write_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> Path:
    """`manifest.json`: what the export holds and how it was made."""
    path = out_dir / MANIFEST
    partial = _partial(path)
    partial.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    os.replace(partial, path)
    return path


def _partial(path: Path) -> Path:
    return path.with_name(path.name + _PARTIAL)
