"""Exported records as flat rows: the columns of the Parquet and CSV files.

One column per field of the exported record, in schema order, named as the field. A
nested record (a shared location) becomes one column per field of it, named
`<field>_<subfield>`. An array (attachments, triage answers, urgency flags, candidates)
becomes one column of JSON text: an array of objects or strings, times in RFC 3339.
Enums are their symbol as text; timestamps are UTC instants (Parquet
timestamp[us, tz=UTC]; CSV ISO-8601 with a `Z`); dates are dates.

Pure: no Kafka, Postgres or files.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

import orjson

Kind = Literal["string", "int", "long", "boolean", "double", "bytes", "timestamp", "date", "json"]

_PRIMITIVE: Final[Mapping[str, Kind]] = {
    "string": "string",
    "int": "int",
    "long": "long",
    "boolean": "boolean",
    "float": "double",
    "double": "double",
    "bytes": "bytes",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    path: tuple[str, ...]  # the fields leading to the value in the record
    doc: str = ""


def columns_of(schema: Mapping[str, Any]) -> tuple[Column, ...]:
    """The columns of records of this (exported) Avro schema."""
    named: dict[str, Any] = {}
    out = tuple(_columns(schema, (), named))
    seen: set[str] = set()
    for column in out:
        if column.name in seen:
            raise ValueError(f"{schema.get('name')}: two columns named {column.name}")
        seen.add(column.name)
    return out


def flatten(record: Mapping[str, Any], columns: Sequence[Column]) -> tuple[Any, ...]:
    """The row of one exported record: a value per column, arrays as JSON text."""
    row = []
    for column in columns:
        value: Any = record
        for step in column.path:
            value = value.get(step) if isinstance(value, Mapping) else None
        if column.kind == "json" and value is not None:
            value = orjson.dumps(value, default=_json_default).decode()
        row.append(value)
    return tuple(row)


def csv_cell(value: Any) -> str:
    """A row value as CSV text: empty for null, true/false, ISO-8601 UTC instants."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def _columns(
    record: Mapping[str, Any], prefix: tuple[str, ...], named: dict[str, Any]
) -> list[Column]:
    _remember(record, named)
    out: list[Column] = []
    for field in record["fields"]:
        path = (*prefix, field["name"])
        avro_type = _resolve(_without_null(field["type"]), named)
        _remember(avro_type, named)
        if isinstance(avro_type, dict) and avro_type.get("type") == "record":
            out.extend(_columns(avro_type, path, named))
        else:
            out.append(Column("_".join(path), _kind(avro_type, named), path, field.get("doc", "")))
    return out


_LOGICAL: Final[Mapping[tuple[str, str], Kind]] = {
    ("long", "timestamp-micros"): "timestamp",
    ("long", "timestamp-millis"): "timestamp",
    ("int", "date"): "date",
}


def _kind(avro_type: Any, named: dict[str, Any]) -> Kind:
    if isinstance(avro_type, list):
        return "json"  # a union of several non-null types: none in acolhe's schemas
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        logical = (str(kind), str(avro_type.get("logicalType")))
        if logical in _LOGICAL:
            return _LOGICAL[logical]
        if kind == "enum":
            return "string"
        if kind in ("array", "map"):
            _remember_all(avro_type, named)
            return "json"
        avro_type = kind
    if isinstance(avro_type, str) and avro_type in _PRIMITIVE:
        return _PRIMITIVE[avro_type]
    raise ValueError(f"unsupported Avro type {avro_type!r}")


def _without_null(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        return branches[0] if len(branches) == 1 else branches
    return avro_type


def _resolve(avro_type: Any, named: dict[str, Any]) -> Any:
    if isinstance(avro_type, str) and avro_type in named:
        return named[avro_type]
    return avro_type


def _remember(avro_type: Any, named: dict[str, Any]) -> None:
    """Record a named type (enum, record) so a later reference by name resolves."""
    if isinstance(avro_type, dict) and avro_type.get("type") in ("record", "enum", "fixed"):
        name = str(avro_type["name"])
        named[name] = avro_type
        namespace = avro_type.get("namespace")
        if namespace:
            named[f"{namespace}.{name}"] = avro_type


def _remember_all(avro_type: Any, named: dict[str, Any]) -> None:
    if isinstance(avro_type, list):
        for branch in avro_type:
            _remember_all(branch, named)
    elif isinstance(avro_type, dict):
        _remember(avro_type, named)
        for key in ("items", "values"):
            if key in avro_type:
                _remember_all(avro_type[key], named)
        for field in avro_type.get("fields", ()):
            _remember_all(field["type"], named)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")
