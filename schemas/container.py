"""Avro object container files: records written with their schema in the file's header.

What `acolhe export` writes: a container file names its own schema, so any Avro reader
(fastavro, Apache Avro, DuckDB's avro extension, Spark) reads it without acolhe's schema
files. Blocks are compressed with deflate (in every Avro implementation); the header's
metadata carries what the exporter says about the file (keys not starting `avro.`).

`ContainerWriter` appends records in blocks (memory bounded by the block size, not by the
file); `read_container` reads a file back (tests, tools). Like every module in `schemas/`
and only those, this one imports fastavro.

The records are written by the schema's compiled writer (`schemas.writers`), as the
producers write events; a record off its common case is written by fastavro's
`schemaless_writer` into the same block, which also refuses what does not fit the schema
(`EncodeError`). The file's framing (Avro 1.11 specification, "Object Container Files") is
written here: the header (magic, metadata map with `avro.schema` and `avro.codec`, a random
16-byte sync marker), then blocks of (record count, byte count, raw deflate data, sync).
fastavro's own container writer walked the schema for every record: a fifth of
`acolhe export`'s time (py-spy on `python -m bench.bench_export`).
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Final

import fastavro
import orjson

from schemas.errors import DecodeError, EncodeError
from schemas.writers import compile_writer, varint

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
            self._parsed = fastavro.parse_schema(dict(schema))
        except Exception as exc:
            raise EncodeError(f"not a valid Avro schema: {exc!r}"[:500]) from exc
        self._compiled = compile_writer(schema)
        self._out = out
        self._block_bytes = block_bytes
        self._block = bytearray()
        self._in_block = 0
        self._sync = os.urandom(16)
        meta = {str(k): str(v).encode() for k, v in (metadata or {}).items()}
        meta["avro.schema"] = orjson.dumps(dict(schema))
        meta["avro.codec"] = CODEC.encode()
        out.write(_header(meta, self._sync))
        self.records = 0

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        compiled, block = self._compiled, self._block
        for record in records:
            mark = len(block)
            written = False
            if compiled is not None:
                try:
                    compiled(block, record, None)
                    written = True
                except Exception:
                    del block[mark:]  # off the common case: the general path decides
            if not written:
                block += self._general(record)
            self.records += 1
            self._in_block += 1
            if len(block) >= self._block_bytes:
                self._flush_block()

    def _general(self, record: Mapping[str, Any]) -> bytes:
        buffer = io.BytesIO()
        try:
            fastavro.schemaless_writer(buffer, self._parsed, record)
        except Exception as exc:
            raise EncodeError(f"record does not fit the file's schema: {exc!r}"[:500]) from exc
        return buffer.getvalue()

    def _flush_block(self) -> None:
        if not self._in_block:
            return
        packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        data = packer.compress(self._block) + packer.flush()
        self._out.write(varint(self._in_block) + varint(len(data)) + data + self._sync)
        self._block.clear()
        self._in_block = 0

    def close(self) -> None:
        """Write the last block and flush the file (the caller closes it)."""
        self._flush_block()
        self._out.flush()

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


def _header(meta: Mapping[str, bytes], sync: bytes) -> bytes:
    """Magic, the metadata as an Avro map of bytes (one block, then the end), the sync."""
    out = bytearray(b"Obj\x01")
    out += varint(len(meta))
    for key, value in meta.items():
        name = key.encode()
        out += varint(len(name)) + name + varint(len(value)) + value
    out += b"\x00" + sync
    return bytes(out)


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
