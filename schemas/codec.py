"""Encoding and decoding acolhe events with fastavro.

Two framings, chosen by the `ACOLHE_AVRO_FRAMING` setting:
- `single-object` (default, needs no server): Avro single-object encoding, the marker
  C3 01, the 8-byte little-endian CRC-64-AVRO (Rabin) fingerprint of the writer schema's
  Parsing Canonical Form, then the Avro binary body;
- `confluent`: magic byte 0, the 4-byte big-endian schema id a schema registry gave,
  then the body (see `schemas.registry`).

Steps of `encode`, in order: look up the current schema of the event; seal the personal
fields with the subject's data key (an ERASED value is written as `SEALED_ERASED`, and
needs no key); write the body (schemas parsed once, cached); frame it.
Steps of `decode`: check the size; read the frame; find the writer schema by fingerprint or
id (any released version); read the body, resolving to the current schema; require every
byte consumed; open the personal fields when a key ring is given.

Every failure on bad bytes is a `DecodeError` (or `UnknownEvent`) with the reason, in time
and memory bounded by the input size (`max_bytes` caps it). This module and the others in
`schemas/` are the only ones that import fastavro.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import fastavro
import orjson
from fastavro.schema import fingerprint as _fingerprint
from fastavro.schema import to_parsing_canonical_form
from fastavro.validation import ValidationError, validate

from schemas.errors import DecodeError, EncodeError, UnknownEvent
from schemas.events import EVENT_TYPES, RECORD_TYPES
from schemas.personal import ERASED, Erased, KeyRing, Sealer, unseal
from schemas.readers import Reader, SubjectPeek, compile_reader, compile_subject_peek
from schemas.writers import Writer, compile_writer

SINGLE_OBJECT_MARKER: Final = b"\xc3\x01"
CONFLUENT_MAGIC: Final = 0
DEFAULT_MAX_BYTES: Final = 8 * 1024 * 1024
AVRO_DIR: Final = Path(__file__).resolve().parent / "avro"
RELEASES_DIR: Final = Path(__file__).resolve().parent / "releases"
Framing = Literal["single-object", "confluent"]

# A plan says where the personal fields of a record are: (field, kind, path, sub-plan); the
# path ("MessageReceived.attachments[].caption") is what a sealed value is bound to.
_LEAF, _RECORD, _ARRAY = 0, 1, 2
Plan = tuple[tuple[str, int, str, "Plan"], ...]


@dataclass(frozen=True)
class EventSchema:
    """One version of one event's schema, parsed once."""

    name: str
    version: int
    raw: Mapping[str, Any]
    parsed: Any
    fingerprint: bytes
    personal: Plan
    has_envelope: bool = False

    @property
    def has_personal(self) -> bool:
        return bool(self.personal)


@dataclass(frozen=True)
class Peeked:
    """What the first bytes of an event tell without decoding its body."""

    name: str
    version: int
    event_id: str
    occurred_at_us: int  # microseconds since the Unix epoch, UTC


@dataclass(frozen=True)
class Decoded:
    name: str
    version: int
    record: dict[str, Any]


def load_schema(raw: Mapping[str, Any]) -> EventSchema:
    # Parsed once with fastavro's hint, so the writer and reader never parse it again.
    parsed = fastavro.parse_schema(dict(raw))
    canonical = to_parsing_canonical_form(fastavro.parse_schema(dict(raw), _write_hint=False))
    # fastavro's hex is already the little-endian byte order the single-object frame uses
    # (the spec's fingerprint of "null", 0x63dd24e7cc258f8a, comes out as 8a8f25cc...).
    fp = bytes.fromhex(_fingerprint(canonical, "CRC-64-AVRO"))
    return EventSchema(
        name=str(raw["name"]),
        version=int(raw.get("acolhe.version", 1)),
        raw=raw,
        parsed=parsed,
        fingerprint=fp,
        personal=_plan(raw, str(raw["name"])),
        has_envelope=_starts_with_envelope(raw),
    )


class SchemaSet:
    """Every event's current schema, and every released version by fingerprint."""

    def __init__(
        self, current: Iterable[EventSchema], released: Iterable[EventSchema] = ()
    ) -> None:
        self._current = {s.name: s for s in current}
        self._by_fingerprint = {s.fingerprint: s for s in released}
        self._by_fingerprint.update({s.fingerprint: s for s in self._current.values()})

    @classmethod
    def from_dirs(cls, avro_dir: Path = AVRO_DIR, releases_dir: Path = RELEASES_DIR) -> SchemaSet:
        current = [
            load_schema(orjson.loads(p.read_bytes())) for p in sorted(avro_dir.glob("*.avsc"))
        ]
        released = (
            [
                load_schema(orjson.loads(p.read_bytes()))
                for p in sorted(releases_dir.glob("*/v*.avsc"))
            ]
            if releases_dir.exists()
            else []
        )
        return cls(current, released)

    def names(self) -> list[str]:
        return sorted(self._current)

    def current(self, name: str) -> EventSchema:
        try:
            return self._current[name]
        except KeyError:
            raise UnknownEvent(f"no schema for event {name!r}") from None

    def by_fingerprint(self, fp: bytes) -> EventSchema | None:
        return self._by_fingerprint.get(fp)

    def versions(self) -> list[EventSchema]:
        return list(self._by_fingerprint.values())


class Codec:
    def __init__(
        self,
        schemas: SchemaSet,
        *,
        framing: Framing = "single-object",
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.schemas = schemas
        self.framing = framing
        self.max_bytes = max_bytes
        self._ids: dict[str, int] = {}  # event name -> registry id of its current schema
        self._by_id: dict[int, EventSchema] = {}
        self._readers: dict[bytes, tuple[Reader | None, SubjectPeek | None]] = {}
        self._writers: dict[str, Writer | None] = {}
        # Where the Avro body starts: after the marker and fingerprint, or magic byte and id.
        self._body_start = 10 if framing == "single-object" else 5

    @property
    def content_type(self) -> str:
        return f"application/avro; framing={self.framing}"

    # -- registry ids (confluent framing) ---------------------------------------------------

    def learn_id(self, schema_id: int, schema: EventSchema) -> None:
        """Record that the registry knows `schema` as `schema_id`."""
        self._by_id[schema_id] = schema
        if self.schemas.current(schema.name).fingerprint == schema.fingerprint:
            self._ids[schema.name] = schema_id

    def knows_id(self, schema_id: int) -> bool:
        return schema_id in self._by_id

    # -- encode -----------------------------------------------------------------------------

    def encode(self, name: str, record: Mapping[str, Any], keyring: KeyRing | None = None) -> bytes:
        """The framed Avro bytes of `record` as the current version of event `name`."""
        schema = self.schemas.current(name)
        sealer = None
        if schema.has_personal:
            if keyring is None:
                raise EncodeError(f"{name} has personal fields: a key ring is needed to encode it")
            subject = record.get("subject_id")
            if not isinstance(subject, str) or not subject:
                raise EncodeError(f"{name}.subject_id is required to seal its personal fields")
            sealer = Sealer(keyring, subject)
        frame = self._frame(schema)
        written = self._write_compiled(schema, frame, record, sealer)
        return (
            written if written is not None else self._write_general(schema, frame, record, sealer)
        )

    def _write_compiled(
        self, schema: EventSchema, frame: bytes, record: Mapping[str, Any], sealer: Sealer | None
    ) -> bytes | None:
        """The bytes by the schema's compiled writer; None when the record is not of the
        common case (or the schema has no compiled writer): the general path decides."""
        writer = self._writer(schema)
        if writer is None:
            return None
        out = bytearray(frame)
        try:
            writer(out, record, sealer)
        except Exception:
            return None
        return bytes(out)

    def _write_general(
        self, schema: EventSchema, frame: bytes, record: Mapping[str, Any], sealer: Sealer | None
    ) -> bytes:
        """The bytes by fastavro, personal fields sealed first; EncodeError with what does
        not fit."""
        if sealer is not None:
            record = _transform(record, schema.personal, sealer)
        buffer = io.BytesIO()
        buffer.write(frame)
        try:
            fastavro.schemaless_writer(buffer, schema.parsed, record)
        except Exception as exc:
            raise EncodeError(
                f"{schema.name} does not fit its schema: {_why_invalid(schema, record, exc)}"
            ) from exc
        return buffer.getvalue()

    def _writer(self, schema: EventSchema) -> Writer | None:
        """The compiled writer of a current schema (`schemas.writers`), made on first use."""
        try:
            return self._writers[schema.name]
        except KeyError:
            found = self._writers[schema.name] = compile_writer(schema.raw)
            return found

    def erase(self, name: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `record` with every personal field present set to ERASED (encoded as
        `SEALED_ERASED`, with no key): for an output whose citizen was erased since the
        values were read."""
        return _transform(record, self.schemas.current(name).personal, _erased)

    def _frame(self, schema: EventSchema) -> bytes:
        if self.framing == "single-object":
            return SINGLE_OBJECT_MARKER + schema.fingerprint
        schema_id = self._ids.get(schema.name)
        if schema_id is None:
            raise UnknownEvent(
                f"{schema.name} has no schema registry id yet: register the schemas first"
            )
        return struct.pack(">bI", CONFLUENT_MAGIC, schema_id)

    # -- decode -----------------------------------------------------------------------------

    def writer_of(self, data: bytes) -> EventSchema:
        """The schema that wrote `data`, read from its frame."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"expected bytes, got {type(data).__name__}")
        if len(data) > self.max_bytes:
            raise DecodeError(f"event of {len(data)} bytes exceeds the {self.max_bytes}-byte limit")
        if self.framing == "single-object":
            if len(data) < 10:
                raise DecodeError(f"{len(data)} bytes is too short for a single-object frame")
            if bytes(data[:2]) != SINGLE_OBJECT_MARKER:
                raise DecodeError(
                    f"not Avro single-object encoding (starts {bytes(data[:2]).hex()})"
                )
            fp = bytes(data[2:10])
            schema = self.schemas.by_fingerprint(fp)
            if schema is None:
                number = int.from_bytes(fp, "little")
                raise UnknownEvent(f"unknown schema fingerprint {number:#018x}")
            return schema
        if len(data) < 5:
            raise DecodeError(f"{len(data)} bytes is too short for a schema-registry frame")
        magic, schema_id = struct.unpack(">bI", bytes(data[:5]))
        if magic != CONFLUENT_MAGIC:
            raise DecodeError(f"wrong magic byte {magic} for the schema-registry wire format")
        found = self._by_id.get(schema_id)
        if found is None:
            raise UnknownEvent(f"unknown schema id {schema_id}")
        return found

    def peek(self, data: bytes, writer: EventSchema | None = None) -> Peeked:
        """The event's type, id and time, read from the frame and the envelope's first two
        fields (every acolhe event starts with `event_id` and `occurred_at`); the rest of
        the body is not read. Far cheaper than `decode` for a processor that only needs to
        route, count or time an event. `writer`: `writer_of(data)`, when the caller has it."""
        writer = writer or self.writer_of(data)
        if not writer.has_envelope:
            raise DecodeError(f"{writer.name} does not start with the acolhe envelope")
        view = memoryview(data)
        pos = self._body_start
        length, pos = _read_long(view, pos)
        end = pos + length
        if length < 0 or end > len(view):
            raise DecodeError(f"{writer.name}: event_id length {length} runs past the end")
        try:
            event_id = str(view[pos:end], "utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{writer.name}: event_id is not UTF-8") from exc
        occurred_at, _ = _read_long(view, end)
        return Peeked(writer.name, writer.version, event_id, occurred_at)

    def decode(
        self,
        data: bytes,
        keyring: KeyRing | None = None,
        *,
        expect: Container[str] | None = None,
        writer: EventSchema | None = None,
    ) -> Decoded:
        """The event in `data`, as its current schema; personal fields opened with `keyring`.

        Without a key ring, personal fields stay sealed (bytes). With `expect`, an event of
        any other type is refused (a record of the wrong type on a topic). `writer`:
        `writer_of(data)`, when the caller has it already.
        """
        writer = writer or self.writer_of(data)
        if expect is not None and writer.name not in expect:
            raise DecodeError(f"unexpected event type {writer.name} here")
        reader = self.schemas.current(writer.name)
        body = io.BytesIO(data)
        body.seek(self._body_start)
        try:
            record = fastavro.schemaless_reader(
                body, writer.parsed, reader.parsed if reader is not writer else None
            )
        except Exception as exc:
            raise DecodeError(
                f"{writer.name} v{writer.version} body is not valid: {exc!r}"[:500]
            ) from exc
        if body.tell() != len(data):
            raise DecodeError(
                f"{writer.name}: {len(data) - body.tell()} bytes left after the record; "
                "truncated or corrupted"
            )
        if not isinstance(record, dict):
            raise DecodeError(f"{writer.name} body is not a record")
        if keyring is not None and reader.has_personal:
            record = self.open(reader, record, keyring, in_place=True)
        return Decoded(reader.name, writer.version, record)

    def read(self, data: bytes, keyring: KeyRing, writer: EventSchema | None = None) -> Any:
        """The event in `data` as its Python type (`schemas.events`), personal fields opened
        with `keyring`: the same event `decode` + `from_record` give, at about half the cost
        for the current schema versions (`schemas.readers`). `writer`: `writer_of(data)`,
        when the caller has it already."""
        writer = writer or self.writer_of(data)
        reader, _ = self._compiled(writer)
        if reader is None:
            decoded = self.decode(data, keyring)
            return EVENT_TYPES[decoded.name].from_record(decoded.record)
        return reader(data, self._body_start, keyring)

    def subject_of(self, data: bytes, writer: EventSchema | None = None) -> str | None:
        """The subject whose key opens the personal fields of the event in `data`, None when
        it has none: what a consumer loads into its key ring before `read`."""
        writer = writer or self.writer_of(data)
        if not self.schemas.current(writer.name).has_personal:
            return None
        _, peek = self._compiled(writer)
        if peek is None:
            return str(self.decode(data).record["subject_id"])
        return peek(data, self._body_start)

    def _compiled(self, writer: EventSchema) -> tuple[Reader | None, SubjectPeek | None]:
        found = self._readers.get(writer.fingerprint)
        if found is None:
            current = self.schemas.current(writer.name)
            found = (
                (compile_reader(writer.raw, RECORD_TYPES), compile_subject_peek(writer.raw))
                if current is writer
                else (None, None)  # an older version: schema resolution is fastavro's
            )
            self._readers[writer.fingerprint] = found
        return found

    def open(
        self,
        schema: EventSchema,
        record: dict[str, Any],
        keyring: KeyRing,
        *,
        in_place: bool = False,
    ) -> dict[str, Any]:
        """Decrypt the personal fields of a decoded record (ERASED where the key is gone)."""
        subject = record.get("subject_id")
        if not isinstance(subject, str):
            raise DecodeError(f"{schema.name} has personal fields but no subject_id")
        key = keyring.decryption_key(subject)

        def open_one(path: str, value: Any) -> Any:
            if not isinstance(value, bytes):
                raise DecodeError(f"personal field {path} is not sealed bytes")
            return unseal(key, path, value)

        return _transform(record, schema.personal, open_one, copy=not in_place)


def _starts_with_envelope(raw: Mapping[str, Any]) -> bool:
    fields = raw.get("fields", [])
    if len(fields) < 2:
        return False
    first, second = fields[0], fields[1]
    return bool(
        first["name"] == "event_id"
        and first["type"] == "string"
        and second["name"] == "occurred_at"
        and isinstance(second["type"], dict)
        and second["type"].get("type") == "long"
        and second["type"].get("logicalType") == "timestamp-micros"
    )


def _read_long(view: memoryview, pos: int) -> tuple[int, int]:
    """An Avro zig-zag varint long at `pos`; returns it and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(view):
            raise DecodeError("truncated varint in the envelope")
        byte = view[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise DecodeError("varint longer than 10 bytes in the envelope")
    return (result >> 1) ^ -(result & 1), pos


def _plan(raw: Mapping[str, Any], prefix: str) -> Plan:
    steps: list[tuple[str, int, str, Plan]] = []
    for field in raw.get("fields", []):
        name = field["name"]
        path = f"{prefix}.{name}"
        if field.get("acolhe.personal") is True:
            steps.append((name, _LEAF, path, ()))
            continue
        record, kind = _nested_record(field["type"])
        if record is not None:
            sub = _plan(record, path + "[]" if kind == _ARRAY else path)
            if sub:
                steps.append((name, kind, path, sub))
    return tuple(steps)


def _nested_record(avro_type: Any) -> tuple[Mapping[str, Any] | None, int]:
    if isinstance(avro_type, list):  # a union: look through ["null", T]
        for branch in avro_type:
            found, kind = _nested_record(branch)
            if found is not None:
                return found, kind
        return None, _RECORD
    if isinstance(avro_type, dict):
        if avro_type.get("type") == "record":
            return avro_type, _RECORD
        if avro_type.get("type") == "array":
            found, _ = _nested_record(avro_type["items"])
            return (found, _ARRAY) if found is not None else (None, _ARRAY)
    return None, _RECORD


def _transform(
    record: Mapping[str, Any], plan: Plan, fn: Callable[[str, Any], Any], *, copy: bool = True
) -> dict[str, Any]:
    """`record` with `fn(path, value)` applied to each personal field present: a copy, or
    the record itself changed in place when it is ours (freshly decoded)."""
    out = dict(record) if copy or not isinstance(record, dict) else record
    for name, kind, path, sub in plan:
        value = out.get(name)
        if value is None:
            continue
        if kind == _LEAF:
            out[name] = fn(path, value)
        elif kind == _RECORD:
            out[name] = _transform(_mapping(path, value), sub, fn, copy=copy)
        elif isinstance(value, list | tuple):
            out[name] = [_transform(_mapping(path, item), sub, fn, copy=copy) for item in value]
        else:
            raise EncodeError(f"{path} must be a list of records, got {type(value).__name__}")
    return out


def _mapping(path: str, value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise EncodeError(f"{path} must be a record (a mapping), got {type(value).__name__}")


def _erased(path: str, value: Any) -> Erased:
    return ERASED


def _why_invalid(schema: EventSchema, record: Mapping[str, Any], exc: Exception) -> str:
    try:
        validate(record, schema.parsed, raise_errors=True)
    except ValidationError as detail:
        return "; ".join(str(e) for e in detail.errors)[:500]
    except Exception as detail:
        return repr(detail)[:500]
    return repr(exc)[:500]
