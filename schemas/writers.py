"""Compiled writers: a record (the dict `to_record` gives) straight into Avro binary, for
the producers that write thousands of events a second (the connectors, the processors).

fastavro's writer walks the parsed schema for every record, resolving each union by
trying its branches: about 44 us for a MessageReceived (bench_codec, "avro only"), a tenth
of what a WhatsApp webhook costs the connector. For the current version of each schema
this module generates, once per process, a Python function that writes the body field by
field, personal fields sealed as they are written (`schemas.personal.Sealer`).

The compiled writer is strict: it writes only values of exactly the types the events
carry (str, int, bool, bytes, an aware datetime, a date, a dict for a record, a list or
tuple for an array, an enum's symbol). Anything else (a missing required field, a float,
a naive datetime, an int out of range) makes it give up on that record, and the general
path (fastavro) writes it, or refuses it with its usual `EncodeError`. So the bytes and
the errors are fastavro's; what is compiled is only the common case, fast. Equality of
the two paths, for every event type, is a property test (tests/unit/test_writers.py).

What it supports is what `schemas.readers` supports (records, `[null, T]` unions, enums,
arrays, the primitives, timestamp-micros and date); a schema outside that compiles to
None and all its records take the general path.

Must not import fastavro. Shares with `schemas.readers` what types it compiles (`resolve`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from schemas.personal import Sealer
from schemas.readers import Unsupported, resolve

Writer = Callable[[bytearray, Mapping[str, Any], Sealer | None], None]
"""`writer(out, record, sealer)` appends the record's Avro body to `out`, personal fields
sealed by `sealer`; raises (any exception) when the record is not of the common case."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS_SHIFT: Final = date(1970, 1, 1).toordinal()
_LONG_MIN: Final = -(1 << 63)
_LONG_MAX: Final = (1 << 63) - 1
_INT_MIN: Final = -(1 << 31)
_INT_MAX: Final = (1 << 31) - 1


class NotCommon(Exception):
    """This record is not of the common case: the general path writes it (or refuses it)."""


def varint(n: int) -> bytes:
    """The Avro zig-zag varint of a long (`NotCommon` out of the 64-bit range)."""
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise NotCommon("long out of range")
    n = (n << 1) ^ (n >> 63)
    if n >> 49 and not n >> 56:  # eight bytes: a timestamp of these decades, unrolled
        return bytes(
            (
                n & 0x7F | 0x80,
                n >> 7 & 0x7F | 0x80,
                n >> 14 & 0x7F | 0x80,
                n >> 21 & 0x7F | 0x80,
                n >> 28 & 0x7F | 0x80,
                n >> 35 & 0x7F | 0x80,
                n >> 42 & 0x7F | 0x80,
                n >> 49,
            )
        )
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _Compiler:
    """Emits the source of one schema's writer."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}
        self.env: dict[str, Any] = {
            "_varint": varint,
            "_NotCommon": NotCommon,
            "_EPOCH": _EPOCH,
            "_DAYS": _DAYS_SHIFT,
            "_datetime": datetime,
            "_date": date,
            "_str": str,
            "_int": int,
            "_bytes": bytes,
            "_dict": dict,
            "_list": list,
            "_tuple": tuple,
        }
        self.functions = 0
        self.temps = 0

    def temp(self, prefix: str = "v") -> str:
        self.temps += 1
        return f"{prefix}{self.temps}"

    def constant(self, value: Any, prefix: str) -> str:
        name = f"_{prefix}{len(self.env)}"
        self.env[name] = value
        return name

    def record_function(self, schema: Mapping[str, Any], path: str) -> str:
        """A function `(out, rec, sealer)` that writes one record at `path`."""
        self.names[str(schema["name"])] = schema
        self.functions += 1
        fn = f"_write{self.functions}"
        body: list[str] = []
        for field in schema["fields"]:
            fname = str(field["name"])
            target = self.temp()
            ftype = field["type"]
            if "default" in field:
                # The JSON default as the value, as fastavro takes it (one that is not of the
                # common case, bytes given as text say, sends the record to the general path).
                default = self.constant(field["default"], "d")
                body.append(f"    {target} = rec.get({fname!r}, {default})")
            elif isinstance(ftype, list) and "null" in ftype:
                body.append(f"    {target} = rec.get({fname!r})")
            else:
                body.append(f"    {target} = rec[{fname!r}]")
            personal = field.get("acolhe.personal") is True
            self.value(body, ftype, target, f"{path}.{fname}", personal=personal, depth=1)
        self.lines += [f"def {fn}(out, rec, sl):", *body, "    return None"]
        return fn

    def value(
        self, out: list[str], avro: Any, v: str, path: str, *, personal: bool, depth: int
    ) -> None:
        """Lines that write the value `v` of type `avro` to `out`."""
        pad = "    " * depth
        if isinstance(avro, list):
            self.union(out, avro, v, path, personal=personal, depth=depth)
            return
        avro, kind, logical = resolve(avro, self.names, path, personal=personal)
        if kind in ("null", "boolean", "int", "long"):
            self.scalar(out, kind, v, path, logical=logical, pad=pad)
        elif kind == "string":
            b = self.temp("b")
            out += [
                *_refuse(pad, f"{v}.__class__ is not _str", path),
                f"{pad}{b} = {v}.encode()",
            ]
            self.length_prefixed(out, b, pad)
        elif kind == "bytes":
            if personal:
                out.append(f"{pad}{v} = sl({path!r}, {v})")
            out += _refuse(pad, f"{v}.__class__ is not _bytes", path)
            self.length_prefixed(out, v, pad)
        elif kind == "enum":
            self.names[str(avro["name"])] = avro
            index = {s: i for i, s in enumerate(avro["symbols"])}
            if len(index) > 64:
                raise Unsupported(f"enum {avro['name']} of more than 64 symbols")
            table = self.constant({s: bytes([i << 1]) for s, i in index.items()}, "sym")
            out += [
                *_refuse(pad, f"{v}.__class__ is not _str or {v} not in {table}", path),
                f"{pad}out += {table}[{v}]",
            ]
        elif kind == "array":
            x = self.temp("x")
            out += [
                *_refuse(pad, f"{v}.__class__ is not _list and {v}.__class__ is not _tuple", path),
                f"{pad}if {v}:",
                f"{pad}    out += _varint(len({v}))",
                f"{pad}    for {x} in {v}:",
            ]
            self.value(out, avro["items"], x, path + "[]", personal=False, depth=depth + 2)
            out.append(f"{pad}out.append(0)")
        elif kind == "record":
            fn = self.record_function(avro, path)
            out += [
                *_refuse(pad, f"{v}.__class__ is not _dict", path),
                f"{pad}{fn}(out, {v}, sl)",
            ]
        else:
            raise Unsupported(f"type {kind}")

    def scalar(
        self, out: list[str], kind: str, v: str, path: str, *, logical: str | None, pad: str
    ) -> None:
        """Lines that write a null, a boolean, an int or a long (or a timestamp, a date)."""
        if kind == "null":
            out += _refuse(pad, f"{v} is not None", path)
        elif kind == "boolean":
            out += [
                f"{pad}if {v} is True:",
                f"{pad}    out.append(1)",
                f"{pad}elif {v} is False:",
                f"{pad}    out.append(0)",
                f"{pad}else:",
                f"{pad}    raise _NotCommon({path!r})",
            ]
        elif logical == "timestamp-micros":
            d = self.temp("d")
            out += [
                *_refuse(pad, f"{v}.__class__ is not _datetime or {v}.tzinfo is None", path),
                f"{pad}{d} = {v} - _EPOCH",
                f"{pad}out += _varint(({d}.days * 86400 + {d}.seconds) * 1000000"
                f" + {d}.microseconds)",
            ]
        elif logical == "date":
            days = self.temp("days")
            out += [
                *_refuse(pad, f"{v}.__class__ is not _date", path),
                f"{pad}{days} = {v}.toordinal() - _DAYS",
            ]
            self.small_long(out, days, pad, bound=(_INT_MIN, _INT_MAX))
        elif kind in ("int", "long"):
            out += _refuse(pad, f"{v}.__class__ is not _int", path)
            bound = (_INT_MIN, _INT_MAX) if kind == "int" else None
            self.small_long(out, v, pad, bound=bound)

    def small_long(
        self, out: list[str], v: str, pad: str, *, bound: tuple[int, int] | None
    ) -> None:
        """A varint, the one-byte case (-64..63) inline; `bound`: an int's 32-bit range."""
        if bound is not None:
            out += _refuse(pad, f"not {bound[0]} <= {v} <= {bound[1]}", "int out of range")
        out += [
            f"{pad}if -64 <= {v} < 64:",
            f"{pad}    out.append(({v} << 1) ^ ({v} >> 63))",
            f"{pad}else:",
            f"{pad}    out += _varint({v})",
        ]

    def length_prefixed(self, out: list[str], b: str, pad: str) -> None:
        n = self.temp("n")
        out += [
            f"{pad}{n} = len({b})",
            f"{pad}if {n} < 64:",
            f"{pad}    out.append({n} << 1)",
            f"{pad}else:",
            f"{pad}    out += _varint({n})",
            f"{pad}out += {b}",
        ]

    def union(
        self, out: list[str], branches: list[Any], v: str, path: str, *, personal: bool, depth: int
    ) -> None:
        pad = "    " * depth
        if len(branches) != 2 or "null" not in branches:
            raise Unsupported(f"union {branches}")
        null_index = branches.index("null")
        out += [f"{pad}if {v} is None:", f"{pad}    out.append({2 * null_index})", f"{pad}else:"]
        out.append(f"{pad}    out.append({2 * (1 - null_index)})")
        self.value(out, branches[1 - null_index], v, path, personal=personal, depth=depth + 1)


def _refuse(pad: str, condition: str, why: str) -> list[str]:
    """The lines that give up on a record off the common case: the general path takes it."""
    return [f"{pad}if {condition}:", f"{pad}    raise _NotCommon({why!r})"]


def compile_writer(raw: Mapping[str, Any]) -> Writer | None:
    """The compiled writer of the schema `raw` (its JSON); None when the schema needs the
    general path."""
    compiler = _Compiler()
    name = str(raw["name"])
    try:
        top = compiler.record_function(raw, name)
    except Unsupported:
        return None
    env = dict(compiler.env)
    exec(compile("\n".join(compiler.lines), f"<acolhe writer {name}>", "exec"), env)  # noqa: S102
    write: Writer = env[top]
    return write
