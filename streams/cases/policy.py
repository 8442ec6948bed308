"""The case lifecycle's configurable rules: reopening and the inactivity ladders.

An office configures, per case situation, an explicit ladder of steps measured from the
start of an inactivity period (the last activity on the case): remind the citizen, put the
case on hold, close it. Nothing happens to a case that no ladder names: inactivity is never
handled silently.

Ladder keys are the open case statuses, with `on_hold` split by hold reason (a case waiting
on a court must not be closed like one waiting on documents): `in_triage`, `queued`,
`assigned`, `waiting_on_citizen`, `on_hold:<HoldReason>`. The `in_triage` ladder runs only
until the case is triaged (after that the move is the office's, and the SLA watches it).

Durations in the JSON file are written like `90m`, `24h`, `7d` or `1d12h`.

Plain data and file reading only: must not import Kafka, faust, Postgres, logging or a clock.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, TypeVar, get_args

from schemas.events import CloseReason, HoldReason
from streams.shared.errors import BadInput

Action = Literal["remind", "hold", "close"]
ACTIONS: Final[tuple[Action, ...]] = ("remind", "hold", "close")
_T = TypeVar("_T", bound=str)

DEFAULT_POLICY_PATH: Final = Path(__file__).with_name("policy.default.json")

_OPEN_KEYS: Final = ("in_triage", "queued", "assigned", "waiting_on_citizen")
LADDER_KEYS: Final[frozenset[str]] = frozenset(
    (*_OPEN_KEYS, *(f"on_hold:{reason}" for reason in get_args(HoldReason)))
)
"""Every key an `inactivity` section may use; anything else is a typo and is refused."""

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class PolicyError(BadInput):
    """A lifecycle policy file cannot be used; the message names the file and the field."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        super().__init__(f"lifecycle policy {source}: at {where or 'top level'}: {problem}")


@dataclass(frozen=True, kw_only=True, slots=True)
class WhatsAppTemplate:
    """An approved WhatsApp template, needed more than 24 hours after the citizen last wrote."""

    name: str
    language: str


@dataclass(frozen=True, kw_only=True, slots=True)
class InactivityStep:
    """One step of a ladder: `after` this long without activity, do `action`.

    `text` is the message sent to the citizen: required for a reminder, optional for a hold
    or a close (a notice sent just before it).
    """

    after: timedelta
    action: Action
    text: str | None = None
    whatsapp_template: WhatsAppTemplate | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class LifecyclePolicy:
    """What an office decided about reopening and inactivity. All durations are timedeltas."""

    version: str
    reopen_window: timedelta
    reopenable_reasons: frozenset[CloseReason]
    resume_on_reply: frozenset[HoldReason]
    inactivity: Mapping[str, tuple[InactivityStep, ...]] = field(default_factory=dict)

    def steps_for(self, ladder: str | None) -> tuple[InactivityStep, ...]:
        """The ladder's steps in order; none for an unnamed ladder."""
        return self.inactivity.get(ladder, ()) if ladder else ()


def parse_duration(text: str) -> timedelta:
    """`'1d12h'` -> 36 hours. Raises ValueError for anything else (or for zero)."""
    match = _DURATION.fullmatch(text.strip()) if text.strip() else None
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like '90m', '24h', '7d' or '1d12h'")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    return value


def load_policy(path: Path | str) -> LifecyclePolicy:
    """The policy in a JSON file. Raises PolicyError naming the file and the faulty field."""
    source = str(path)
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(source, "", f"cannot be read ({exc.strerror}); check the path") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PolicyError(source, "", f"not JSON: {exc.msg} at line {exc.lineno}") from exc
    return parse_policy(data, source=source)


def default_policy() -> LifecyclePolicy:
    """The policy shipped with acolhe (streams/cases/policy.default.json)."""
    return load_policy(DEFAULT_POLICY_PATH)


def parse_policy(data: object, *, source: str = "<data>") -> LifecyclePolicy:
    """A policy from decoded JSON. Raises PolicyError naming `source` and the faulty field."""
    top = _object(data, source, "")
    allowed = {"version", "reopen_window", "reopenable_reasons", "resume_on_reply", "inactivity"}
    _only(top, allowed, source, "")
    ladders = _object(top.get("inactivity", {}), source, "inactivity")
    inactivity: dict[str, tuple[InactivityStep, ...]] = {}
    for key, steps in ladders.items():
        if key not in LADDER_KEYS:
            known = sorted(LADDER_KEYS)
            raise PolicyError(source, "inactivity", f"unknown ladder {key!r}; use one of {known}")
        inactivity[key] = _ladder(steps, source, f"inactivity.{key}")
    return LifecyclePolicy(
        version=_string(top.get("version"), source, "version"),
        reopen_window=_duration(top.get("reopen_window"), source, "reopen_window"),
        reopenable_reasons=_choices(
            top.get("reopenable_reasons"), get_args(CloseReason), source, "reopenable_reasons"
        ),
        resume_on_reply=_choices(
            top.get("resume_on_reply"), get_args(HoldReason), source, "resume_on_reply"
        ),
        inactivity=MappingProxyType(inactivity),
    )


def _ladder(data: object, source: str, where: str) -> tuple[InactivityStep, ...]:
    if not isinstance(data, list):
        raise PolicyError(source, where, "must be a list of steps")
    steps = tuple(_step(item, source, f"{where}[{i}]") for i, item in enumerate(data))
    for i, (before, after) in enumerate(itertools.pairwise(steps)):
        if after.after <= before.after:
            problem = "steps must be in strictly increasing order of 'after'"
            raise PolicyError(source, f"{where}[{i + 1}].after", problem)
        if before.action == "close":
            raise PolicyError(source, f"{where}[{i + 1}]", "no step can follow a close")
    holds = [i for i, s in enumerate(steps) if s.action == "hold"]
    if holds and where.startswith("inactivity.on_hold:"):
        raise PolicyError(source, f"{where}[{holds[0]}]", "a case on hold cannot be put on hold")
    if len(holds) > 1:
        raise PolicyError(source, f"{where}[{holds[1]}]", "a ladder puts a case on hold once")
    return steps


def _step(data: object, source: str, where: str) -> InactivityStep:
    item = _object(data, source, where)
    _only(item, {"after", "action", "text", "whatsapp_template"}, source, where)
    action = next((a for a in ACTIONS if a == item.get("action")), None)
    if action is None:
        raise PolicyError(source, f"{where}.action", f"must be one of {list(ACTIONS)}")
    text = item.get("text")
    if text is not None:
        text = _string(text, source, f"{where}.text")
    elif action == "remind":
        raise PolicyError(source, f"{where}.text", "a reminder needs the text to send")
    template = item.get("whatsapp_template")
    return InactivityStep(
        after=_duration(item.get("after"), source, f"{where}.after"),
        action=action,
        text=text,
        whatsapp_template=None
        if template is None
        else _template(template, source, f"{where}.whatsapp_template"),
    )


def _template(data: object, source: str, where: str) -> WhatsAppTemplate:
    item = _object(data, source, where)
    _only(item, {"name", "language"}, source, where)
    return WhatsAppTemplate(
        name=_string(item.get("name"), source, f"{where}.name"),
        language=_string(item.get("language"), source, f"{where}.language"),
    )


def _object(data: object, source: str, where: str) -> dict[str, object]:
    if not isinstance(data, dict):
        raise PolicyError(source, where, "must be a JSON object")
    return data


def _only(item: Mapping[str, object], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise PolicyError(source, where, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")


def _string(value: object, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(source, where, "must be a non-empty string")
    return value


def _duration(value: object, source: str, where: str) -> timedelta:
    try:
        return parse_duration(_string(value, source, where))
    except ValueError as exc:
        raise PolicyError(source, where, str(exc)) from exc


def _choices(value: object, allowed: tuple[_T, ...], source: str, where: str) -> frozenset[_T]:
    if not isinstance(value, list):
        raise PolicyError(source, where, f"must be a list drawn from {list(allowed)}")
    chosen: set[_T] = set()
    for item in value:
        if not isinstance(item, str) or item not in allowed:
            raise PolicyError(source, where, f"{item!r} is not one of {list(allowed)}")
        chosen.add(item)
    return frozenset(chosen)
