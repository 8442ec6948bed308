"""Snapshots of processor state: frozen dataclasses to JSON bytes and back, by their types.

A processor's state lives in memory and in a compacted changelog topic; restoring it must
give back exactly the dataclasses the pure core works on. This codec walks the type hints
(dataclasses, tuples, lists, dicts, `immutables.Map`s, frozensets, unions with None,
Literals, datetimes, dates, timedeltas, primitives, `Erased`), so no type needs
hand-written (de)serialisation
and nothing unsafe (no pickle) ever reads the changelog. Personal values held in state
(a contact address, say) are stored as they are: state topics and tables are internal and
must be protected like the database.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import orjson
from immutables import Map

from schemas.personal import ERASED, Erased
from streams.shared.errors import BadInput

T = TypeVar("T")
_ERASED_MARK = {"$erased": True}


class SnapshotError(BadInput):
    """A snapshot that does not fit the state type it is read as."""


def dump(value: Any) -> bytes:
    """orjson walks dataclasses, datetimes, tuples and dicts in C; `_default` takes the rest."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def _default(value: Any) -> Any:
    if isinstance(value, Erased):
        return _ERASED_MARK
    if isinstance(value, timedelta):
        return {"$us": value // timedelta(microseconds=1)}
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Map):
        # A hash map's order differs between processes; sorted keys make the same state
        # the same bytes everywhere.
        return dict(sorted(value.items()))
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


def load(kind: type[T], data: bytes) -> T:
    try:
        plain = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot of {kind.__name__} is not JSON: {exc}") from exc
    result: T = _from_plain(kind, plain, kind.__name__)
    return result


@cache
def _hints(kind: type) -> dict[str, Any]:
    return get_type_hints(kind)


def _from_plain(kind: Any, plain: Any, path: str) -> Any:  # noqa: PLR0911, PLR0912
    origin = get_origin(kind)
    if kind is Any:
        return plain
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if plain is None and type(None) in options:
            return None
        if plain == _ERASED_MARK and Erased in options:
            return ERASED
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _from_plain(option, plain, path)
            except SnapshotError as exc:
                errors.append(str(exc))
        raise SnapshotError(f"{path}: fits none of {kind}: {'; '.join(errors)}")
    if origin is Literal:
        if plain not in get_args(kind):
            raise SnapshotError(f"{path}: {plain!r} is not one of {get_args(kind)}")
        return plain
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(plain, dict):
            raise SnapshotError(f"{path}: expected an object for {kind.__name__}")
        hints = _hints(kind)
        values = {}
        for f in dataclasses.fields(kind):
            if f.name in plain:
                values[f.name] = _from_plain(hints[f.name], plain[f.name], f"{path}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SnapshotError(f"{path}.{f.name} is missing")
        return kind(**values)
    if origin in (tuple, list, frozenset, set):
        if not isinstance(plain, list):
            raise SnapshotError(f"{path}: expected a list")
        args = get_args(kind)
        if origin is tuple and args and args[-1] is not Ellipsis:
            items = [
                _from_plain(a, v, f"{path}[{i}]")
                for i, (a, v) in enumerate(zip(args, plain, strict=True))
            ]
        else:
            item = args[0] if args else Any
            items = [_from_plain(item, v, f"{path}[{i}]") for i, v in enumerate(plain)]
        return origin(items)
    if origin in (dict, Mapping, Map) or kind in (dict, Map):
        if not isinstance(plain, dict):
            raise SnapshotError(f"{path}: expected an object")
        key_t, value_t = get_args(kind) or (str, Any)
        entries = {
            _key(key_t, k, path): _from_plain(value_t, v, f"{path}[{k}]") for k, v in plain.items()
        }
        return Map(entries) if Map in (origin, kind) else entries
    if kind is datetime:
        return datetime.fromisoformat(_str(plain, path))
    if kind is date:
        return date.fromisoformat(_str(plain, path))
    if kind is timedelta:
        if not isinstance(plain, dict) or "$us" not in plain:
            raise SnapshotError(f"{path}: expected a duration")
        return timedelta(microseconds=plain["$us"])
    if kind in (str, int, float, bool):
        if kind is float and isinstance(plain, int) and not isinstance(plain, bool):
            return float(plain)
        if not isinstance(plain, kind) or (kind is int and isinstance(plain, bool)):
            raise SnapshotError(f"{path}: expected {kind.__name__}, got {type(plain).__name__}")
        return plain
    raise SnapshotError(f"{path}: cannot restore values of type {kind!r}")


def _key(key_t: Any, raw: str, path: str) -> Any:
    if key_t is int:
        return int(raw)
    if key_t is str or get_origin(key_t) is Literal:
        return _from_plain(key_t, raw, path)
    raise SnapshotError(f"{path}: dict keys of type {key_t!r} are not supported")


def _str(plain: Any, path: str) -> str:
    if not isinstance(plain, str):
        raise SnapshotError(f"{path}: expected a string")
    return plain
