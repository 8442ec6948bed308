"""Generates `schemas/events.py`, the Python event types, from the Avro schemas.

The `.avsc` files are the contract; the Python types mirror them and must never drift, so
they are generated: `python -m schemas.typegen` rewrites events.py, `--check` exits 1 when
it is stale (the tests run that). Each record becomes a frozen, keyword-only dataclass
with `to_record()` (the plain dict the codec writes) and `from_record()`; each enum becomes
a `Literal`; personal fields are `str | Erased`; arrays become tuples.

Must not import fastavro (it reads the JSON itself).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

AVRO_DIR = Path(__file__).resolve().parent / "avro"
TARGET = Path(__file__).resolve().parent / "events.py"

_PRIMITIVES = {
    "string": "str",
    "bytes": "bytes",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "boolean": "bool",
    "null": "None",
}
_V = "@V@"  # where the converted value goes in a conversion expression
_LOGICAL = {"timestamp-micros": "datetime", "timestamp-millis": "datetime", "date": "date"}


@dataclass
class _Type:
    """How one Avro type looks in Python and how a value converts each way."""

    hint: str
    to_avro: str = _V  # expression converting a Python value (_V) to the record value
    from_avro: str = _V


@dataclass
class _Gen:
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    records: dict[str, list[tuple[str, _Type, bool, Any, str]]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    personal_bytes: set[str] = field(default_factory=set)

    def record(self, schema: Mapping[str, Any]) -> str:
        name = str(schema["name"])
        fields = []
        for f in schema["fields"]:
            t = self.type_of(f["type"], personal=bool(f.get("acolhe.personal")))
            fields.append((f["name"], t, "default" in f, f.get("default"), f.get("doc", "")))
        if name in self.records:
            if [(n, t.hint) for n, t, *_ in self.records[name]] != [
                (n, t.hint) for n, t, *_ in fields
            ]:
                raise SystemExit(f"record {name} is defined twice with different fields")
            return name
        self.records[name] = fields
        self.order.append(name)
        return name

    def type_of(self, avro: Any, *, personal: bool = False) -> _Type:  # noqa: PLR0911, PLR0912
        if personal:
            inner = self.type_of(avro)
            if inner.hint == "bytes":
                return _Type("str | Erased")
            if inner.hint == "bytes | None":
                return _Type("str | Erased | None")
            raise SystemExit(f"personal fields must be bytes, not {inner.hint}")
        if isinstance(avro, str):
            if avro in _PRIMITIVES:
                return _Type(_PRIMITIVES[avro])
            if avro in self.enums:
                return _Type(avro)
            if avro in self.records:
                return _Type(avro, f"{_V}.to_record()", f"{avro}.from_record({_V})")
            raise SystemExit(f"unknown type name {avro!r}")
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            if len(branches) != 1:
                raise SystemExit(f"only [null, T] unions are supported, got {avro}")
            inner = self.type_of(branches[0])
            if inner.to_avro == _V and inner.from_avro == _V:
                return _Type(f"{inner.hint} | None")
            return _Type(
                f"{inner.hint} | None",
                f"None if {_V} is None else {inner.to_avro}",
                f"None if {_V} is None else {inner.from_avro}",
            )
        kind = avro["type"]
        if avro.get("logicalType") in _LOGICAL:
            return _Type(_LOGICAL[avro["logicalType"]])
        if kind == "enum":
            name = str(avro["name"])
            symbols = tuple(avro["symbols"])
            if self.enums.setdefault(name, symbols) != symbols:
                raise SystemExit(f"enum {name} is defined twice with different symbols")
            return _Type(name)
        if kind == "record":
            return self.type_of(self.record(avro))
        if kind == "array":
            item = self.type_of(avro["items"])
            # an empty array (most are) skips the comprehension: it costs a call of its own
            to = (
                f"[{_sub(item.to_avro, 'x')} for x in {_V}] if {_V} else []"
                if item.to_avro != _V
                else f"list({_V})"
            )
            back = (
                f"tuple({_sub(item.from_avro, 'x')} for x in {_V})"
                if item.from_avro != _V
                else f"tuple({_V})"
            )
            return _Type(f"tuple[{item.hint}, ...]", to, back)
        if kind == "map":
            value = self.type_of(avro["values"])
            to = f"{{k: {_sub(value.to_avro, 'x')} for k, x in {_V}.items()}}"
            back = f"{{k: {_sub(value.from_avro, 'x')} for k, x in {_V}.items()}}"
            return _Type(f"dict[str, {value.hint}]", to, back)
        if kind in _PRIMITIVES:
            return _Type(_PRIMITIVES[kind])
        raise SystemExit(f"unsupported Avro type {avro!r}")


def _sub(expression: str, value: str) -> str:
    return expression.replace(_V, value)


def _q(text: str) -> str:
    return orjson.dumps(text).decode()


def render(avro_dir: Path = AVRO_DIR) -> str:
    gen = _Gen()
    for path in sorted(avro_dir.glob("*.avsc")):
        schema = orjson.loads(path.read_bytes())
        gen.events.append(gen.record(schema))
    out = [
        '"""The Python types of acolhe\'s events, generated from schemas/avro/*.avsc.',
        "",
        "Do not edit: run `python -m schemas.typegen` after changing a schema.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from dataclasses import dataclass",
        "from datetime import date, datetime",
        "from typing import Any, ClassVar, Literal",
        "",
        "from schemas.personal import Erased",
        "",
        "_ = (date, datetime, Erased)  # used in annotations only",
        "",
    ]
    for name, symbols in sorted(gen.enums.items()):
        out.append(f"{name} = Literal[{', '.join(_q(s) for s in symbols)}]")
    for name in gen.order:
        fields = gen.records[name]
        out += ["", "", "@dataclass(frozen=True, kw_only=True, slots=True)", f"class {name}:"]
        if name in gen.events:
            out.append(f"    NAME: ClassVar[str] = {_q(name)}")
        for fname, t, has_default, default, _doc in fields:
            suffix = f" = {_literal(default)}" if has_default else ""
            out.append(f"    {fname}: {t.hint}{suffix}")
        out += ["", "    def to_record(self) -> dict[str, Any]:", "        return {"]
        for fname, t, *_ in fields:
            out.append(f"            {_q(fname)}: {_sub(t.to_avro, 'self.' + fname)},")
        out += [
            "        }",
            "",
            "    @classmethod",
            f"    def from_record(cls, r: Mapping[str, Any]) -> {name}:",
        ]
        out.append("        return cls(")
        for fname, t, has_default, default, _doc in fields:
            getter = f"r[{_q(fname)}]"
            if has_default:
                getter = f"r.get({_q(fname)}, {_literal(default)})"
            out.append(f"            {fname}={_sub(t.from_avro, getter)},")
        out += ["        )"]
    out += [
        "",
        "",
        f"Event = {' | '.join(gen.events) if gen.events else 'Any'}",
        "",
        "EVENT_TYPES: dict[str, Any] = {",
        *[f"    {_q(n)}: {n}," for n in gen.events],
        "}",
        "",
        "# Every record type, the events and the records nested in them, by Avro name.",
        "RECORD_TYPES: dict[str, Any] = {",
        *[f"    {_q(n)}: {n}," for n in gen.order],
        "}",
        "",
    ]
    return "\n".join(out)


def _literal(default: Any) -> str:
    """A Python literal for an Avro default (immutable: lists become tuples)."""
    if default is None or isinstance(default, bool | int | float):
        return repr(default)
    if isinstance(default, str):
        return _q(default)
    if isinstance(default, list) and not default:
        return "()"
    raise SystemExit(f"unsupported default {default!r}: use null, a scalar or []")


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print("schemas/events.py is stale: run `python -m schemas.typegen`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
