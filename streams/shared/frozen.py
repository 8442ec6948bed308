"""`replace` for the frozen dataclasses the pure cores keep their state in, at half the cost.

The cores update immutable state on every event, several times per event; the standard
`dataclasses.replace` walks `fields()` and builds keyword arguments each time, which made
it the single hottest function of the conversation processor (python -m bench.bench_cores
--profile). This one compiles, once per class, a function that copies every field
straight into a new instance. Same result, same errors for unknown fields; classes with
`__post_init__` or fields outside `__init__` fall back to `dataclasses.replace`.

Pure: standard library only, safe to import from a core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Copier = Callable[[Any, dict[str, Any]], Any]
_copiers: dict[type, tuple[_Copier, frozenset[str]]] = {}


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the frozen dataclass `obj` with `changes` applied."""
    cls = type(obj)
    found = _copiers.get(cls)
    if found is None:
        found = _copiers[cls] = _compile(cls)
    copier, names = found
    if not names.issuperset(changes):
        unknown = ", ".join(sorted(set(changes) - names))
        raise TypeError(f"{cls.__name__} has no field {unknown}")
    result: T = copier(obj, changes)
    return result


def _compile(cls: type) -> tuple[_Copier, frozenset[str]]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"replace() needs a dataclass instance, not {cls.__name__}")
    fields = dataclasses.fields(cls)
    names = frozenset(f.name for f in fields)
    if hasattr(cls, "__post_init__") or any(not f.init for f in fields):
        return (lambda obj, changes: dataclasses.replace(obj, **changes)), names
    lines = ["def copy(obj, changes, _new=object.__new__, _set=object.__setattr__):"]
    lines.append("    new = _new(cls)")
    for f in fields:
        if not f.name.isidentifier():  # never true for a dataclass; keeps exec safe
            raise TypeError(f"field name {f.name!r} is not an identifier")
        lines.append(
            f"    _set(new, {f.name!r}, changes[{f.name!r}] if {f.name!r} in changes"
            f" else obj.{f.name})"
        )
    lines.append("    return new")
    namespace: dict[str, Any] = {"cls": cls}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built from field names only
    copier: _Copier = namespace["copy"]
    return copier, names
