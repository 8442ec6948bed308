"""Where a state type keeps the citizens' personal values, and how they leave and re-enter
the JSON of a snapshot (`streams.shared.snapshots` seals them apart).

A value whose type admits `Erased` (`str | Erased`, as the event types declare personal
fields) is personal. A type's plan, found once from its type hints, says where such values
can be: in which fields of which dataclasses, in the items of which lists and tuples, in the
values of which dicts and `immutables.Map`s. A type that would keep one where its place
cannot be told apart (in a set, as a dict key, in a fixed-length tuple) is refused with a
TypeError when the processor is built, rather than written in clear.

Moving out (`plain_of`): a function compiled once per dataclass gives its fields as a dict,
each personal value through the caller's `take` (which numbers it), for orjson to write.
Only the dataclasses on the way to a personal value become dicts; the rest (a case, the
messages seen) stay objects that orjson writes in C.
Moving back (`put_back`): each `{"$sealed": n}` in the parsed JSON becomes the n-th value,
or the ERASED mark when the values are gone.

Pure: no keys, no I/O.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Final, Union, get_args, get_origin, get_type_hints

from immutables import Map

from schemas.personal import Erased

ERASED_MARK: Final = {"$erased": True}
"""How ERASED is written in a snapshot's JSON."""
SEALED_KEY: Final = "$sealed"
"""`{"$sealed": n}`: the place of the n-th sealed value in a snapshot's JSON."""

# A plan: (_LEAF, None) a personal value; (_FIELDS, ((name, plan), ...)) a dataclass's
# fields that hold some; (_ITEMS, plan) each item of a list or tuple; (_VALUES, plan) each
# value of a dict or Map.
_LEAF, _FIELDS, _ITEMS, _VALUES = 0, 1, 2, 3
Plan = tuple[int, Any]
Take = Callable[[Any], Any]
ToPlain = Callable[[Any, Take], dict[str, Any]]


@cache
def hints(kind: type) -> dict[str, Any]:
    """A dataclass's resolved field types."""
    return get_type_hints(kind)


def holds_personal(kind: Any) -> bool:
    """Whether values of this type can hold personal values (their snapshots are sealed)."""
    return plan_of(kind) is not None


def plan_of(kind: Any) -> Plan | None:
    """Where the personal values of a type are; None: it holds none. Found once per type."""
    try:
        return _plans[kind]
    except KeyError:
        plan = _plans[kind] = _plan(kind, set())
        return plan


_plans: dict[Any, Plan | None] = {}


def _plan(kind: Any, seen: set[Any]) -> Plan | None:  # noqa: PLR0911, PLR0912
    origin = get_origin(kind)
    if kind is Erased:
        return (_LEAF, None)
    if origin in (Union, types.UnionType):
        options = [o for o in get_args(kind) if o is not type(None)]
        if Erased in options:
            if any(o not in (str, Erased) for o in options):
                raise TypeError(f"a personal value must be `str | Erased`, not {kind}")
            return (_LEAF, None)
        plans = [p for p in (_plan(o, seen) for o in options) if p is not None]
        if len(plans) > 1:
            raise TypeError(f"{kind}: personal values in more than one branch of a union")
        return plans[0] if plans else None
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if kind in seen:
            raise TypeError(f"{kind.__name__} contains itself: snapshots need finite types")
        seen.add(kind)
        found = hints(kind)
        fields = tuple(
            (f.name, p)
            for f in dataclasses.fields(kind)
            if (p := _plan(found[f.name], seen)) is not None
        )
        seen.discard(kind)
        return (_FIELDS, fields) if fields else None
    args = get_args(kind)
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            if any(_plan(a, seen) is not None for a in args):
                raise TypeError(f"{kind}: personal values in a fixed-length tuple")
            return None
        item = _plan(args[0], seen) if args else None
        return (_ITEMS, item) if item is not None else None
    if origin in (frozenset, set):
        if args and _plan(args[0], seen) is not None:
            raise TypeError(f"{kind}: personal values in a set (its order is not fixed)")
        return None
    if origin in (dict, Mapping, Map):
        if args and _plan(args[0], seen) is not None:
            raise TypeError(f"{kind}: personal values as dict keys")
        value = _plan(args[1], seen) if args else None
        return (_VALUES, value) if value is not None else None
    return None


# -- moving out ------------------------------------------------------------------------------


def plain_of(cls: type) -> ToPlain:
    """The function giving a dataclass's fields as a dict, each personal value through
    `take`, the dataclasses that hold some as dicts too, the rest as they are: compiled
    once per class, like `streams.shared.frozen.replace`. Fields whose names start with `_`
    are left out, as orjson leaves them."""
    found = _compiled.get(cls)
    if found is None:
        found = _compiled[cls] = _compile(cls)
    return found


_compiled: dict[type, ToPlain] = {}


def _compile(cls: type) -> ToPlain:
    plan = plan_of(cls)
    inner = dict(plan[1]) if plan is not None and plan[0] == _FIELDS else {}
    namespace: dict[str, Any] = {}
    parts = []
    for f in dataclasses.fields(cls):
        if not f.name.isidentifier():  # never true for a dataclass; keeps exec safe
            raise TypeError(f"field name {f.name!r} is not an identifier")
        if f.name.startswith("_"):
            continue
        convert = _field(inner.get(f.name))
        if convert is None:
            parts.append(f"{f.name!r}: obj.{f.name}")
        else:
            namespace[f"_{f.name}"] = convert
            parts.append(f"{f.name!r}: _{f.name}(obj.{f.name}, take)")
    source = f"def plain(obj, take):\n    return {{{', '.join(parts)}}}"
    exec(source, namespace)  # noqa: S102 - source built from field names only
    plain: ToPlain = namespace["plain"]
    return plain


def _field(plan: Plan | None) -> Callable[[Any, Take], Any] | None:
    """How one field's value reaches the JSON; None: as it is (no personal value in it)."""
    if plan is None:
        return None
    if plan[0] == _LEAF:
        return lambda value, take: take(value)
    if plan[0] == _FIELDS:
        return lambda value, take: None if value is None else plain_of(value.__class__)(value, take)
    each = _field(plan[1])
    assert each is not None  # an _ITEMS or _VALUES plan always has an inner one
    if plan[0] == _ITEMS:
        return lambda value, take: None if value is None else [each(item, take) for item in value]
    return lambda value, take: (
        None if value is None else {k: each(v, take) for k, v in sorted(value.items(), key=_first)}
    )


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]


# -- moving back -----------------------------------------------------------------------------


def put_back(plan: Plan, plain: Any, values: list[Any] | None) -> None:
    """Put each sealed value back at its number in parsed JSON (the ERASED mark when
    `values` is None). Parts not of the shape the plan says are left as they are, for the
    reader to report where; a number with no value is a ValueError."""
    kind, sub = plan
    if kind == _FIELDS:
        if isinstance(plain, dict):
            for name, inner in sub:
                _put_one(inner, plain, name, values)
    elif kind == _ITEMS and isinstance(plain, list):
        for at in range(len(plain)):
            _put_one(sub, plain, at, values)
    elif kind == _VALUES and isinstance(plain, dict):
        for at in list(plain):
            _put_one(sub, plain, at, values)


def _put_one(plan: Plan, parent: Any, at: Any, values: list[Any] | None) -> None:
    value = parent.get(at) if isinstance(parent, dict) else parent[at]
    if plan[0] != _LEAF:
        if value is not None:
            put_back(plan, value, values)
    elif isinstance(value, dict) and SEALED_KEY in value:
        parent[at] = _value(value, values)


def _value(placeholder: dict[str, Any], values: list[Any] | None) -> Any:
    if values is None:
        return ERASED_MARK
    n = placeholder[SEALED_KEY]
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < len(values):
        raise ValueError(f"snapshot refers to sealed value {n!r} of {len(values)}")
    return values[n]
