"""Compiled readers: Avro binary straight into the event types, for consumers that read
millions of records (a projection's rebuild, the live projectors).

The general path decodes with fastavro into a dict, opens the personal fields in the dict,
then builds the event with `from_record`: three passes and a dict per record, about 40% of
a replay's time (measured with py-spy on `acolhe projections rebuild`). For the current
version of each schema this module generates, once per process, a Python function that
reads the body field by field and builds the event itself: nested records, tuples,
enums, datetimes, personal fields opened with the subject's key as they are read.

What it supports is what `schemas.typegen` supports (records, `[null, T]` unions, enums,
arrays, the primitives, the logical types timestamp-micros and date). A schema outside
that, or whose personal fields come before `subject_id`, compiles to None and its records
take the general path; so do records written with an older version (schema resolution
is fastavro's job). Equality with the general path, for every schema, is a property test
(tests/unit/test_readers.py).

Errors: a body that is truncated, has bytes left over, or holds an impossible value (an
enum or union index out of range, a negative length, text that is not UTF-8, a boolean
byte other than 0 or 1) raises `DecodeError`, as the general path does; a personal field
that fails authentication raises the `DecodeError` of `schemas.personal.unseal`.

Must not import fastavro: it reads the schema's JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from types import MemberDescriptorType
from typing import Any, Final

from schemas.errors import DecodeError
from schemas.personal import KeyRing, unseal

Reader = Callable[[bytes, int, KeyRing], Any]
"""`reader(data, start, keyring)` -> the event whose body starts at `data[start]` and runs
to the end of `data`, its personal fields opened with the subject's key from the ring
(ERASED when the key is destroyed; `KeyNotLoaded` when the ring has not loaded it)."""

SubjectPeek = Callable[[bytes, int], str]
"""`peek(data, start)` -> the record's subject_id, reading only the fields before it."""

_PRIMITIVES: Final = frozenset({"null", "boolean", "int", "long", "bytes", "string"})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE: Final = date(1970, 1, 1)


class Unsupported(Exception):
    """The schema uses something the compiler does not: its records take the general path."""


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """An Avro zig-zag varint long at `pos`, and the position after it (at most 10 bytes).
    A timestamp's eight bytes are read as one little-endian word, without the loop."""
    b = data[pos]
    n = b & 0x7F
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), pos + 1
    w = int.from_bytes(data[pos : pos + 8], "little")
    if w & 0x8080808080808080 == 0x0080808080808080:
        # Eight bytes (a timestamp of these decades): the 7-bit groups gathered at once.
        n = (
            (w & 0x7F)
            | (w >> 1 & 0x3F80)
            | (w >> 2 & 0x1FC000)
            | (w >> 3 & 0xFE00000)
            | (w >> 4 & 0x7F0000000)
            | (w >> 5 & 0x3F800000000)
            | (w >> 6 & 0x1FC0000000000)
            | (w >> 7 & 0xFE000000000000)
        )
        if pos + 8 > len(data):
            raise IndexError("varint runs past the end")
        return (n >> 1) ^ -(n & 1), pos + 8
    for shift, at in _VARINT_STEPS:
        b = data[pos + at]
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return (n >> 1) ^ -(n & 1), pos + at + 1
    raise ValueError("varint longer than 10 bytes")


_VARINT_STEPS: Final = tuple((7 * i, i) for i in range(1, 10))


class _Compiler:
    """Emits the source of one schema's reader (and its subject peek)."""

    def __init__(self, classes: Mapping[str, Any]) -> None:
        self.classes = classes
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}  # named types seen so far (records and enums)
        self.env: dict[str, Any] = {
            "_long": read_long,
            "_unseal": unseal,
            "_EPOCH": _EPOCH,
            "_EPOCH_DATE": _EPOCH_DATE,
            "_td": timedelta,
            "_new": object.__new__,
        }
        self.functions = 0
        self.temps = 0

    # -- names --------------------------------------------------------------------------

    def temp(self, prefix: str = "v") -> str:
        self.temps += 1
        return f"{prefix}{self.temps}"

    def constant(self, value: Any, prefix: str) -> str:
        name = f"_{prefix}{len(self.env)}"
        self.env[name] = value
        return name

    # -- records ------------------------------------------------------------------------

    def record_function(self, schema: Mapping[str, Any], path: str, *, top: bool) -> str:
        """A function `(data, pos, ring_or_key) -> (object, pos)` for one record at `path`;
        the top one takes the key ring and asks it for the subject's key."""
        name = str(schema["name"])
        if name not in self.classes:
            raise Unsupported(f"no Python type for record {name}")
        self.names[name] = schema
        cls = self.constant(self.classes[name], "cls")
        self.functions += 1
        fn = f"_read{self.functions}"
        body: list[str] = []
        fields: list[tuple[str, str]] = []
        key_known = not top or not _has_personal(schema, {})
        opens = top and not key_known
        for field in schema["fields"]:
            fname = str(field["name"])
            target = self.temp()
            personal = field.get("acolhe.personal") is True
            if (personal or _has_personal(field["type"], self.names)) and not key_known:
                raise Unsupported(f"{name}.{fname} is personal and comes before subject_id")
            self.value(body, field["type"], target, f"{path}.{fname}", personal=personal, depth=1)
            fields.append((fname, target))
            if opens and fname == "subject_id":
                if field["type"] != "string":
                    raise Unsupported("subject_id is not a plain string")
                body.append(f"    key = ring.decryption_key({target})")
                key_known = True
        head = f"def {fn}(data, pos, ring):" if top else f"def {fn}(data, pos, key):"
        self.lines += [head, *(["    key = None"] if top else []), *body]
        self.lines += self.construct(self.classes[name], cls, fields)
        return fn

    def construct(self, klass: Any, cls: str, fields: list[tuple[str, str]]) -> list[str]:
        """The lines that build the record's object. A frozen slotted dataclass is built by
        setting its slots directly (the values are already of their types): a third of
        what its keyword `__init__` costs, which was a tenth of a replay's time."""
        slots = [klass.__dict__.get(f) for f, _ in fields]
        if not all(isinstance(slot, MemberDescriptorType) for slot in slots) or set(
            getattr(klass, "__slots__", ())
        ) != {f for f, _ in fields}:
            args = ", ".join(f"{f}={t}" for f, t in fields)
            return [f"    return {cls}({args}), pos"]
        lines = [f"    obj = _new({cls})"]
        for (fname, target), slot in zip(fields, slots, strict=True):
            setter = self.constant(slot.__set__, f"set_{fname}_")
            lines.append(f"    {setter}(obj, {target})")
        return [*lines, "    return obj, pos"]

    # -- values -------------------------------------------------------------------------

    def value(  # noqa: PLR0912
        self, out: list[str], avro: Any, target: str, path: str, *, personal: bool, depth: int
    ) -> None:
        """Lines that read one value of type `avro` at `pos` into `target`."""
        pad = "    " * depth
        if isinstance(avro, list):
            self.union(out, avro, target, path, personal=personal, depth=depth)
            return
        avro, kind, logical = resolve(avro, self.names, path, personal=personal)
        if kind == "null":
            out.append(f"{pad}{target} = None")
        elif kind == "boolean":
            out += [
                f"{pad}{target} = data[pos]",
                f"{pad}pos += 1",
                f"{pad}if {target} > 1:",
                f"{pad}    raise ValueError('boolean byte ' + str({target}))",
                f"{pad}{target} = {target} == 1",
            ]
        elif kind in ("int", "long"):
            if logical == "timestamp-micros":  # eight bytes or so: no one-byte case
                out.append(f"{pad}{target}, pos = _long(data, pos)")
                out.append(f"{pad}{target} = _EPOCH + _td(microseconds={target})")
            else:
                self.long(out, target, pad)
            if logical == "date":
                out.append(f"{pad}{target} = _EPOCH_DATE + _td(days={target})")
        elif kind in ("string", "bytes"):
            n = self.temp("n")
            out += [
                f"{pad}{n} = data[pos]",
                f"{pad}if {n} < 0x80 and not {n} & 1:",  # a length under 64: one even byte
                f"{pad}    {n} >>= 1",
                f"{pad}    pos += 1",
                f"{pad}else:",
                f"{pad}    {n}, pos = _long(data, pos)",
                f"{pad}    if {n} < 0:",
                f"{pad}        raise ValueError('negative length ' + str({n}))",
                f"{pad}{target} = data[pos:pos + {n}]",
                f"{pad}pos += {n}",
            ]
            if kind == "string":
                out.append(f"{pad}{target} = {target}.decode()")
            elif personal:
                out.append(f"{pad}{target} = _unseal(key, {path!r}, bytes({target}))")
        elif kind == "enum":
            self.names[str(avro["name"])] = avro
            symbols = self.constant(tuple(avro["symbols"]), "sym")
            i = self.temp("i")
            self.long(out, i, pad)
            out += [
                f"{pad}if {i} < 0:",
                f"{pad}    raise ValueError('enum index ' + str({i}))",
                f"{pad}{target} = {symbols}[{i}]",
            ]
        elif kind == "array":
            self.array(out, avro["items"], target, path, depth)
        elif kind == "record":
            fn = self.record_function(avro, path, top=False)
            out.append(f"{pad}{target}, pos = {fn}(data, pos, key)")
        else:
            raise Unsupported(f"type {kind}")

    def long(self, out: list[str], target: str, pad: str) -> None:
        """A varint, with the one-byte case (small numbers, short lengths) inline."""
        out += [
            f"{pad}{target} = data[pos]",
            f"{pad}if {target} < 0x80:",
            f"{pad}    {target} = ({target} >> 1) ^ -({target} & 1)",
            f"{pad}    pos += 1",
            f"{pad}else:",
            f"{pad}    {target}, pos = _long(data, pos)",
        ]

    def union(
        self,
        out: list[str],
        branches: list[Any],
        target: str,
        path: str,
        *,
        personal: bool,
        depth: int,
    ) -> None:
        pad = "    " * depth
        if len(branches) != 2 or "null" not in branches:
            raise Unsupported(f"union {branches}")
        null_index = branches.index("null")
        other = branches[1 - null_index]
        index = self.temp("u")
        out += [f"{pad}{index} = data[pos]", f"{pad}pos += 1"]
        out += [f"{pad}if {index} == {2 * null_index}:", f"{pad}    {target} = None"]
        out.append(f"{pad}elif {index} == {2 * (1 - null_index)}:")
        self.value(out, other, target, path, personal=personal, depth=depth + 1)
        out += [f"{pad}else:", f"{pad}    raise ValueError('union index byte ' + str({index}))"]

    def array(self, out: list[str], items: Any, target: str, path: str, depth: int) -> None:
        pad = "    " * depth
        n, item, acc, skip = self.temp("n"), self.temp("x"), self.temp("acc"), self.temp("s")
        out += [
            f"{pad}if data[pos] == 0:",
            f"{pad}    pos += 1",
            f"{pad}    {target} = ()",
            f"{pad}else:",
            f"{pad}    {acc} = []",
            f"{pad}    while True:",
        ]
        inner = "    " * (depth + 2)
        self.long(out, n, inner)
        out += [
            f"{inner}if {n} == 0:",
            f"{inner}    break",
            f"{inner}if {n} < 0:",
            f"{inner}    {n} = -{n}",
            f"{inner}    {skip}, pos = _long(data, pos)",
            f"{inner}for _ in range({n}):",
        ]
        self.value(out, items, item, path + "[]", personal=False, depth=depth + 3)
        out += [f"{inner}    {acc}.append({item})", f"{pad}    {target} = tuple({acc})"]


def resolve(
    avro: Any, names: Mapping[str, Any], path: str, *, personal: bool
) -> tuple[Any, str, str | None]:
    """A non-union type as (its definition, its kind, its logical type), a named type looked
    up in `names`; `Unsupported` for what neither the compiled readers nor the compiled
    writers (`schemas.writers`) handle."""
    if isinstance(avro, str) and avro not in _PRIMITIVES:
        if avro not in names:
            raise Unsupported(f"unknown named type {avro}")
        avro = names[avro]
    kind = avro if isinstance(avro, str) else avro["type"]
    logical = avro.get("logicalType") if isinstance(avro, dict) else None
    if personal and kind != "bytes":
        raise Unsupported(f"personal field {path} is not bytes")
    if logical is not None and (kind, logical) not in {
        ("long", "timestamp-micros"),
        ("int", "date"),
    }:
        raise Unsupported(f"logical type {logical} on {kind}")
    return avro, kind, logical


def _has_personal(avro: Any, names: Mapping[str, Any]) -> bool:
    if isinstance(avro, list):
        return any(_has_personal(b, names) for b in avro)
    if isinstance(avro, str):
        return avro in names and _has_personal(names[avro], names)
    if avro.get("type") == "record":
        return any(
            f.get("acolhe.personal") is True or _has_personal(f["type"], names)
            for f in avro["fields"]
        )
    if avro.get("type") == "array":
        return _has_personal(avro["items"], names)
    return False


def compile_reader(raw: Mapping[str, Any], classes: Mapping[str, Any]) -> Reader | None:
    """The compiled reader of the schema `raw` (its JSON), building the types `classes`
    names (record name -> class); None when the schema needs the general path."""
    compiler = _Compiler(classes)
    name = str(raw["name"])
    try:
        top = compiler.record_function(raw, name, top=True)
    except Unsupported:
        return None
    source = "\n".join(compiler.lines)
    env = dict(compiler.env)
    exec(compile(source, f"<acolhe reader {name}>", "exec"), env)  # noqa: S102
    read_top = env[top]
    label = f"{name} v{raw.get('acolhe.version', 1)}"

    def read(data: bytes, start: int, ring: KeyRing) -> Any:
        try:
            event, end = read_top(data, start, ring)
        except DecodeError:
            raise
        except (IndexError, ValueError, UnicodeDecodeError, TypeError) as exc:
            raise DecodeError(f"{label} body is not valid: {exc!r}"[:500]) from exc
        if end != len(data):
            raise DecodeError(
                f"{label}: {len(data) - end} bytes left after the record; truncated or corrupted"
                if end < len(data)
                else f"{label}: body truncated ({end - len(data)} bytes missing)"
            )
        return event

    return read


def compile_subject_peek(raw: Mapping[str, Any]) -> SubjectPeek | None:
    """Reads a record's `subject_id` by skipping the fields before it; None when it has no
    plain-string subject_id or a field before it needs the general path."""
    compiler = _Compiler({})
    lines = ["def _peek(data, pos):"]
    for field in raw["fields"]:
        target = compiler.temp()
        try:
            if field.get("acolhe.personal") is True or _has_personal(field["type"], {}):
                return None
            if field["name"] == "subject_id":
                if field["type"] != "string":
                    return None
                compiler.value(lines, "string", target, "", personal=False, depth=1)
                lines.append(f"    return {target}")
                break
            if _named_record_or_array(field["type"]):
                return None  # a record or an array before subject_id: not worth skipping
            compiler.value(lines, field["type"], target, "", personal=False, depth=1)
        except Unsupported:
            return None
    else:
        return None
    env = dict(compiler.env)
    exec(compile("\n".join(lines), f"<acolhe subject peek {raw['name']}>", "exec"), env)  # noqa: S102
    peek: Callable[[bytes, int], str] = env["_peek"]

    def subject_of(data: bytes, start: int) -> str:
        try:
            return peek(data, start)
        except (IndexError, ValueError, UnicodeDecodeError) as exc:
            raise DecodeError(f"{raw['name']}: subject_id unreadable: {exc!r}"[:500]) from exc

    return subject_of


def _named_record_or_array(avro: Any) -> bool:
    if isinstance(avro, list):
        return any(_named_record_or_array(b) for b in avro)
    if isinstance(avro, dict):
        return avro.get("type") in ("record", "array", "map")
    return avro not in _PRIMITIVES
