"""Snapshots of processor state: frozen dataclasses to bytes and back, by their types, with
the citizens' personal values sealed.

A processor's state lives in memory and in a compacted changelog topic, kept for as long as
the key lives; restoring it must give back exactly the dataclasses the pure core works on.
This codec walks the type hints (dataclasses, tuples, lists, dicts, `immutables.Map`s,
frozensets, unions with None, Literals, datetimes, dates, timedeltas, primitives,
`Erased`), so no type needs hand-written (de)serialisation and nothing unsafe (no pickle)
ever reads the changelog.

Personal values. A value whose type admits `Erased` (`str | Erased`, as the event types
declare personal fields) is personal (`streams.shared.personal_values` finds them from the
type hints, once per type). Erasure destroys the citizen's data key
(crypto-shredding, docs/privacy.md), so snapshots seal those values with the key of the
state's subject (the citizen the core names, `Subjects.subject_of`), with the scheme the
events use (`schemas.personal.seal`, AES-256-GCM): once the key is gone they are
unreadable in every copy of the changelog, and a restore gives ERASED in their place. Two
formats, told apart by the first byte:

- plain (format 1): the state as JSON (orjson). Written for state types with no personal
  value (the router's, the SLA clocks', partitions' contexts); every snapshot written
  before sealing existed is in this format, personal values in clear, and is still read.
- sealed (format 2): `AC 02` | subject length (u16, big-endian) | sealed length (u32) |
  subject (UTF-8) | sealed | JSON. The JSON is the state with each personal value replaced
  by `{"$sealed": n}`; `sealed` is the JSON list of those values, sealed as one value
  under the subject's key at field path `snapshot` (one AES-GCM operation per snapshot).
  No value present: no sealed part, no subject. A value with no key to seal it (the
  subject was erased, or the state names none) is written as ERASED: never in clear.

Steps of `dump` for a state type with personal values, in order: the dataclasses on the
way to a personal value as dicts (`personal_values.plain_of`), each personal value present
moved out into a list and replaced by its number; that to JSON by orjson (the rest of the
state in C, as in the plain format); the list sealed; the header, the sealed list and the
JSON joined. Nothing is copied but those dicts. Steps of `load`: read the header; open the
sealed list with the subject's key (ERASED when the key is gone); put each value back at
its number; build the dataclasses. A caller loads (`KeySource.load`) or makes sure of
(`ensure`) the subjects' keys first.

Must not depend on Kafka or Postgres: keys come through the `KeyRing` protocol.
"""

from __future__ import annotations

import dataclasses
import struct
import types
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, Protocol, TypeVar, Union, get_args, get_origin

import orjson
from immutables import Map

from schemas.errors import DecodeError
from schemas.personal import ERASED, Erased, KeyRing, seal, unseal
from streams.shared.errors import BadInput
from streams.shared.personal_values import (
    ERASED_MARK,
    SEALED_KEY,
    hints,
    holds_personal,
    plain_of,
    plan_of,
    put_back,
)

T = TypeVar("T")
S_contra = TypeVar("S_contra", contravariant=True)
_OPTIONS = orjson.OPT_NON_STR_KEYS
__all__ = [
    "PLAIN",
    "SEALED",
    "SnapshotError",
    "Subjects",
    "dump",
    "format_of",
    "holds_personal",
    "load",
    "subject_of",
]

PLAIN: Final = 1
SEALED: Final = 2
SNAPSHOT_FIELD: Final = "snapshot"
"""The field path a snapshot's personal values are sealed at (bound into the ciphertext)."""
_MAGIC: Final = b"\xac"  # never the first byte of JSON, nor of UTF-8 text
_HEADER: Final = struct.Struct(">2sHI")
_SEALED_FORMAT: Final = _MAGIC + bytes([SEALED])


class SnapshotError(BadInput):
    """A snapshot that does not fit the state type it is read as."""


class Subjects(Protocol[S_contra]):
    """What a core whose state holds personal values provides: whose they are."""

    def subject_of(self, state: S_contra) -> str | None:
        """The subject (citizen) whose data key seals the state's personal values."""
        ...


# -- writing ---------------------------------------------------------------------------------


def dump(value: Any, keys: KeyRing | None = None, subject: str | None = None) -> bytes:
    """The snapshot of `value`: plain when its type holds no personal value, else sealed
    with `subject`'s key from `keys` (made sure of first: after `ensure`, a ring serves
    None only for an erased subject, whose values are then written ERASED)."""
    if plan_of(type(value)) is None:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    if keys is None:
        raise SnapshotError(
            f"{type(value).__name__} holds personal values: a key ring is needed to seal them"
        )
    return _dump_sealed(value, keys, subject)


def _dump_sealed(value: Any, keys: KeyRing, subject: str | None) -> bytes:
    key = keys.decryption_key(subject) if subject else None
    values: list[str] = []
    keep = key is not None

    def take(text: Any) -> Any:
        """A personal value's place in the JSON: its number once moved out (ERASED with
        no key to seal it); None and ERASED as they are."""
        if not isinstance(text, str):
            return text
        if not keep:
            return ERASED
        values.append(text)
        return {SEALED_KEY: len(values) - 1}

    plain = plain_of(value.__class__)(value, take)
    body = orjson.dumps(plain, default=_default, option=_OPTIONS)
    if not values:  # none present, or every one written ERASED
        return _HEADER.pack(_SEALED_FORMAT, 0, 0) + body
    assert key is not None  # values are kept only with a key
    assert subject is not None
    sealed = seal(key, SNAPSHOT_FIELD, orjson.dumps(values).decode())
    who = subject.encode()
    if len(who) > 0xFFFF:
        raise SnapshotError(f"subject id of {len(who)} bytes is too long for a snapshot")
    return b"".join((_HEADER.pack(_SEALED_FORMAT, len(who), len(sealed)), who, sealed, body))


def _default(value: Any) -> Any:
    """What orjson does not walk in C: the rest of the types `load` restores."""
    if isinstance(value, Erased):
        return ERASED_MARK
    if isinstance(value, timedelta):
        return {"$us": value // timedelta(microseconds=1)}
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Map):
        # A hash map's order differs between processes; sorted keys make the same state
        # the same bytes everywhere.
        return dict(sorted(value.items()))
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


# -- reading ---------------------------------------------------------------------------------


def format_of(data: bytes) -> int:
    """`PLAIN` (format 1, personal values as they were) or `SEALED` (format 2)."""
    return SEALED if data[:1] == _MAGIC else PLAIN


def subject_of(data: bytes) -> str | None:
    """The subject whose key a snapshot's sealed values need; None when nothing is sealed."""
    if data[:1] != _MAGIC:
        return None
    who, _, _ = _header(data)
    return who


def load(kind: type[T], data: bytes, keys: KeyRing | None = None) -> T:
    """The state in `data`, either format; sealed values opened with `keys` (their subjects
    loaded first), ERASED where the subject's key was destroyed."""
    if data[:1] == _MAGIC:
        return _load_sealed(kind, data, keys)
    try:
        plain = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot of {kind.__name__} is not JSON: {exc}") from exc
    result: T = _from_plain(kind, plain, kind.__name__)
    return result


def _header(data: bytes) -> tuple[str | None, int, int]:
    """Format 2's header: the subject, where the sealed part starts, where the JSON does."""
    if len(data) < _HEADER.size:
        raise SnapshotError(f"a snapshot of {len(data)} bytes is too short for its header")
    magic, who_len, sealed_len = _HEADER.unpack_from(data)
    if magic[1] != SEALED:
        raise SnapshotError(f"snapshot format {magic[1]} is unknown here: upgrade this reader")
    sealed_at = _HEADER.size + who_len
    body_at = sealed_at + sealed_len
    if body_at > len(data):
        raise SnapshotError("snapshot header declares more bytes than there are")
    try:
        who = data[_HEADER.size : sealed_at].decode() if who_len else None
    except UnicodeDecodeError as exc:
        raise SnapshotError("snapshot subject is not UTF-8") from exc
    return who, sealed_at, body_at


def _load_sealed(kind: type[T], data: bytes, keys: KeyRing | None) -> T:
    who, sealed_at, body_at = _header(data)
    try:
        plain = orjson.loads(data[body_at:])
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot of {kind.__name__} is not JSON: {exc}") from exc
    values = _opened(kind, data[sealed_at:body_at], who, keys)
    plan = plan_of(kind)
    if plan is not None:
        try:
            put_back(plan, plain, values)
        except ValueError as exc:
            raise SnapshotError(f"snapshot of {kind.__name__}: {exc}") from exc
    result: T = _from_plain(kind, plain, kind.__name__)
    return result


def _opened(kind: type, sealed: bytes, who: str | None, keys: KeyRing | None) -> list[Any] | None:
    """The sealed values in clear; None when they are erased (or there are none)."""
    if not sealed:
        return None
    if who is None:
        raise SnapshotError(f"snapshot of {kind.__name__} has sealed values and no subject")
    if keys is None:
        raise SnapshotError(
            f"snapshot of {kind.__name__} holds sealed personal values: a key ring is needed"
        )
    try:
        text = unseal(keys.decryption_key(who), SNAPSHOT_FIELD, sealed)
    except DecodeError as exc:
        raise SnapshotError(f"snapshot of {kind.__name__}: {exc}") from exc
    if isinstance(text, Erased):
        return None
    values = orjson.loads(text)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SnapshotError(f"snapshot of {kind.__name__}: its sealed values are not texts")
    return values


# -- restoring -------------------------------------------------------------------------------


def _from_plain(kind: Any, plain: Any, path: str) -> Any:  # noqa: PLR0911, PLR0912
    origin = get_origin(kind)
    if kind is Any:
        return plain
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if plain is None and type(None) in options:
            return None
        if plain == ERASED_MARK and Erased in options:
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
        types_of = hints(kind)
        values = {}
        for f in dataclasses.fields(kind):
            if f.name in plain:
                values[f.name] = _from_plain(types_of[f.name], plain[f.name], f"{path}.{f.name}")
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
