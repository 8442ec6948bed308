"""Checkers for a flow file's JSON: each returns the value with its type, or raises
FlowError naming the path of the bad part (`$.questions[2].choices[0].id`).

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NoReturn, TypeVar

from streams.shared.errors import BadInput
from streams.triage.model import Phrase
from streams.triage.text import compile_phrase

_ID = re.compile(r"^[a-z0-9_]+$")
_RULE_ID = re.compile(r"^[a-z0-9_.]+$")
_T = TypeVar("_T")


class FlowError(BadInput):
    """A flow file that cannot be used; `path` names the bad part, e.g. `$.questions[1].id`."""

    def __init__(self, path: str, problem: str, *, source: str = "flow") -> None:
        super().__init__(f"{source}: {path}: {problem}")
        self.path = path
        self.problem = problem


def fail(path: str, problem: str) -> NoReturn:
    raise FlowError(path, problem)


def expect_object(
    value: object, path: str, required: Iterable[str], *, optional: Iterable[str] = ()
) -> dict[str, object]:
    if not isinstance(value, dict):
        fail(path, "expected an object")
    required = tuple(required)
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed and not key.startswith("_"):
            fail(f"{path}.{key}", "unknown key (keys starting with _ are comments)")
    for key in required:
        if key not in value:
            fail(f"{path}.{key}", "missing")
    return value


def expect_list(value: object, path: str, *, nonempty: bool = False) -> list[object]:
    if not isinstance(value, list):
        fail(path, "expected a list")
    if nonempty and not value:
        fail(path, "must not be empty")
    return value


def expect_text(obj: Mapping[str, object], key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        fail(f"{path}.{key}", "expected a non-empty string")
    return value


def expect_id(obj: Mapping[str, object], key: str, path: str) -> str:
    value = expect_text(obj, key, path)
    if not _ID.match(value):
        fail(f"{path}.{key}", f"{value!r} is not an id (lowercase letters, digits, _)")
    return value


def expect_rule_id(obj: Mapping[str, object], key: str, path: str) -> str:
    value = expect_text(obj, key, path)
    if not _RULE_ID.match(value):
        fail(f"{path}.{key}", f"{value!r} is not a rule id (lowercase letters, digits, _ .)")
    return value


def expect_int(obj: Mapping[str, object], key: str, path: str, *, minimum: int) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        fail(f"{path}.{key}", f"expected a whole number of at least {minimum}")
    return value


def expect_number(
    obj: Mapping[str, object], key: str, path: str, *, positive: bool = False
) -> Decimal:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        fail(f"{path}.{key}", "expected a number")
    number = Decimal(value)
    if number < 0 or (positive and number == 0):
        fail(f"{path}.{key}", "expected a positive number" if positive else "must not be negative")
    return number


def expect_bool(obj: Mapping[str, object], key: str, path: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        fail(f"{path}.{key}", "expected true or false")
    return value


def expect_one_of(value: object, path: str, options: tuple[_T, ...]) -> _T:
    for option in options:
        if value == option:
            return option
    fail(path, f"{value!r} is not one of {', '.join(map(str, options))}")


def expect_phrases(obj: Mapping[str, object], key: str, path: str) -> tuple[Phrase, ...]:
    out: list[Phrase] = []
    for i, item in enumerate(expect_list(obj.get(key), f"{path}.{key}", nonempty=True)):
        pattern = compile_phrase(item) if isinstance(item, str) else None
        if not isinstance(item, str) or pattern is None:
            fail(f"{path}.{key}[{i}]", "expected a phrase with at least one letter or digit")
        out.append(Phrase(item, pattern))
    return tuple(out)


def expect_unique(items: Iterable[tuple[str, str]], what: str) -> None:
    seen: set[str] = set()
    for value, path in items:
        if value in seen:
            fail(path, f"{what} {value!r} is used twice")
        seen.add(value)
