"""Avro object container files: records written with their schema in the file's header.

What `acolhe export` writes: a container file names its own schema, so any Avro reader
(fastavro, Apache Avro, DuckDB's avro extension, Spark) reads it without acolhe's schema
files. Blocks are compressed with deflate (in every Avro implementation); the header's
metadata carries what the exporter says about the file (keys not starting `avro.`).

`ContainerWriter` appends records in blocks (memory bounded by the block size, not by the
file); `read_container` reads a file back (tests, tools). Like every module in `schemas/`
and only those, this one imports fastavro.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Final

import fastavro
from fastavro.write import Writer

from schemas.errors import DecodeError, EncodeError

CODEC: Final = "deflate"
BLOCK_BYTES: Final = 256 * 1024  # uncompressed bytes per block: deflate compresses them well


class ContainerWriter:
    """Records of one schema into an open binary file, block by block."""

    def __init__(
        self,
        out: IO[bytes],
        schema: Mapping[str, Any],
        *,
        metadata: Mapping[str, str] | None = None,
        block_bytes: int = BLOCK_BYTES,
    ) -> None:
        try:
            parsed = fastavro.parse_schema(dict(schema))
        except Exception as exc:
            raise EncodeError(f"not a valid Avro schema: {exc!r}"[:500]) from exc
        self._out = out
        self._writer = Writer(
            out,
            parsed,
            codec=CODEC,
            sync_interval=block_bytes,
            metadata=dict(metadata or {}),
        )
        self.records = 0

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            try:
                self._writer.write(record)
            except Exception as exc:
                raise EncodeError(f"record does not fit the file's schema: {exc!r}"[:500]) from exc
            self.records += 1

    def close(self) -> None:
        """Write the last block and flush the file (the caller closes it)."""
        self._writer.flush()

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()


@dataclass(frozen=True)
class Container:
    """A container file as read: its writer schema, its metadata and its records."""

    schema: dict[str, Any]
    metadata: dict[str, str]
    records: Iterator[dict[str, Any]]


def read_container(source: IO[bytes]) -> Container:
    """Read a container file with the schema it names (the records are read lazily)."""
    try:
        reader = fastavro.reader(source)
    except Exception as exc:
        raise DecodeError(f"not an Avro container file: {exc!r}"[:500]) from exc
    schema = reader.writer_schema
    if not isinstance(schema, dict):
        raise DecodeError("the container's schema is not a record")
    return Container(schema, {str(k): str(v) for k, v in reader.metadata.items()}, _records(reader))


def _records(reader: Any) -> Iterator[dict[str, Any]]:
    for record in reader:
        if not isinstance(record, dict):
            raise DecodeError("a container record is not a record")
        yield record
