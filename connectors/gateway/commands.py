"""Agents' HTTP requests -> the contract's command events, validated strictly.

One action per endpoint: `reply` -> SendReply (text and files the agent uploaded:
connectors.gateway.files; or a WhatsApp template alone: connectors.gateway.template),
`transfer` -> TransferCase, `hold` ->
PutCaseOnHold, `resume` -> ResumeCase, `close` -> CloseCase, `claim` -> ClaimCase,
`presence` -> ChangePresence, `capacity` -> ChangeCapacity. The shell publishes the command
where schemas.catalog says (SendReply, PutCaseOnHold, ResumeCase, CloseCase on
acolhe.conversations keyed by contact_id, decided by streams.cases; the others on
acolhe.routing, decided by streams.routing) and answers 202: a processor may still refuse it
later with CommandRefused, which names the command's event_id.

Steps of `command_from_request`, in order:
1. the Idempotency-Key header: required, 16 to 128 characters (a fresh UUID per request);
2. the body: at most MAX_BODY_BYTES of UTF-8 JSON holding one object;
3. its fields: no unknown field (and never `agent_id`: the acting agent is the token's),
   every required field present, each value of its type and form; every problem is
   reported at once, each with its field;
4. the command: event_id = derive_event_id("connectors.gateway", agent_id, command name,
   idempotency key), so a retried request is recorded once; occurred_at = the gateway's
   receipt time; correlation_id = the body's, else the event id; causation_id null.

A client that reuses a key for a different request would have the second one dropped as a
duplicate; `fingerprint` lets the shell remember what a key was used for and answer 422.

Pure: time and the agent are arguments. Must not depend on aiohttp, Kafka or Postgres.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, TypeVar, get_args

import orjson

from connectors.gateway.auth import AgentClaims
from connectors.gateway.files import read_attachments
from connectors.gateway.template import Template, read_template
from connectors.webchat.signing import is_valid_id
from schemas.envelope import derive_event_id
from schemas.events import (
    Attachment,
    ChangeCapacity,
    ChangePresence,
    ClaimCase,
    CloseCase,
    CloseReason,
    HoldReason,
    Presence,
    PutCaseOnHold,
    ResumeCase,
    SendReply,
    TransferCase,
)
from streams.cases.commands import AGENT_CLOSE_REASONS as CASES_CLOSE_REASONS
from streams.routing.commands import MAX_CAPACITY

SOURCE: Final = "connectors.gateway"
MAX_BODY_BYTES: Final = 64 * 1024
MAX_REPLY_CHARS: Final = 4096  # WhatsApp's limit for a text message, the tightest channel
MAX_NOTE_CHARS: Final = 2000
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:~+/=-]{16,128}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Action = Literal["reply", "transfer", "hold", "resume", "close", "claim", "presence", "capacity"]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
GatewayCommand = (
    SendReply
    | TransferCase
    | PutCaseOnHold
    | ResumeCase
    | CloseCase
    | ClaimCase
    | ChangePresence
    | ChangeCapacity
)
AGENT_HOLD_REASONS: Final[dict[str, HoldReason]] = {
    r: r for r in get_args(HoldReason) if r != "unknown"
}
"""Every hold reason but unknown, which streams.cases refuses."""
AGENT_PRESENCES: Final[dict[str, Presence]] = {p: p for p in get_args(Presence) if p != "unknown"}
AGENT_CLOSE_REASONS: Final[dict[str, CloseReason]] = {
    r: r for r in get_args(CloseReason) if r in CASES_CLOSE_REASONS
}
"""What streams.cases lets an agent close a case for."""
_T = TypeVar("_T", bound=str)


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    """A body field, `body` for the body as a whole, or `Idempotency-Key`."""
    reason: str


@dataclass(frozen=True, slots=True)
class InvalidRequest:
    """The request cannot become a command (HTTP 400); the problems say why, field by field."""

    problems: tuple[Problem, ...]

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "error": "invalid_request",
                "problems": [{"field": p.field, "reason": p.reason} for p in self.problems],
            }
        )


@dataclass(frozen=True, slots=True)
class _Envelope:
    event_id: str
    occurred_at: datetime
    correlation_id: str
    agent_id: str


class _Body:
    """A request body's fields, read once each, collecting every problem."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.problems: list[Problem] = []

    def check_fields(self, allowed: Collection[str]) -> None:
        for name in self._data:
            if name == "agent_id":
                self._fail(name, "the acting agent is the token's: remove agent_id")
            elif name not in allowed:
                self._fail(name, "unknown field")

    def id(self, name: str) -> str:
        value = self._data.get(name)
        if value is None:
            self._fail(name, "required")
        elif not is_valid_id(value):
            self._fail(name, "an id: 1 to 128 of A-Z a-z 0-9 . _ : @ -")
        else:
            return str(value)
        return ""

    def has(self, name: str) -> bool:
        return self._data.get(name) is not None

    def template(self, name: str) -> Template | None:
        """connectors.gateway.template's checks, its problems added to the body's."""
        if not self.has(name):
            return None
        found = read_template(self._data[name], name)
        if isinstance(found, Template):
            return found
        self.problems.extend(Problem(field, reason) for field, reason in found)
        return None

    def attachments(self, name: str, case_id: str) -> tuple[Attachment, ...]:
        """connectors.gateway.files' checks (none when the case id is already wrong)."""
        if not self.has(name) or not case_id:
            return ()
        found = read_attachments(self._data[name], name, case_id=case_id)
        if isinstance(found, tuple):
            return found
        self.problems.extend(Problem(field, reason) for field, reason in found)
        return ()

    def optional_id(self, name: str) -> str | None:
        return self.id(name) if self._data.get(name) is not None else None

    def text(self, name: str, max_chars: int, *, required: bool) -> str | None:
        value = self._data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self._fail(name, "required, and not blank")
            return None
        if not isinstance(value, str):
            self._fail(name, "a string")
        elif len(value) > max_chars:
            self._fail(name, f"at most {max_chars} characters")
        elif _CONTROL.search(value):
            self._fail(name, "no control characters but tab and newline")
        else:
            return value
        return None

    def choice(self, name: str, allowed: Mapping[str, _T]) -> _T | None:
        value = self._data.get(name)
        if value is None:
            self._fail(name, "required")
        elif not isinstance(value, str) or value not in allowed:
            self._fail(name, f"one of: {', '.join(sorted(allowed))}")
        else:
            return allowed[value]
        return None

    def integer(self, name: str, low: int, high: int) -> int:
        value = self._data.get(name)
        if value is None:
            self._fail(name, "required")
        elif not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self._fail(name, f"an integer from {low} to {high}")
        else:
            return value
        return 0

    def _fail(self, name: str, reason: str) -> None:
        self.problems.append(Problem(name, reason))


_CASE = ("case_id", "contact_id", "correlation_id")
_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "reply": (*_CASE, "subject_id", "text", "template", "attachments"),
    "transfer": (*_CASE, "subject_id", "to_queue_id", "to_agent_id", "note"),
    "hold": (*_CASE, "reason"),
    "resume": (*_CASE,),
    "close": (*_CASE, "reason", "duplicate_of_case_id"),
    "claim": (*_CASE,),
    "presence": ("presence", "correlation_id"),
    "capacity": ("capacity", "correlation_id"),
}


def command_event_id(agent_id: str, command_name: str, idempotency_key: str) -> str:
    """The event id of the command an agent's request with this key asks for."""
    return derive_event_id(SOURCE, agent_id, command_name, idempotency_key)


def command_from_request(
    action: str,
    body: bytes,
    *,
    agent: AgentClaims,
    idempotency_key: str | None,
    received_at: datetime,
) -> GatewayCommand | InvalidRequest:
    """The command an authenticated agent's request asks for, or every problem with it."""
    if action not in _COMMANDS:
        return InvalidRequest((Problem("action", f"one of: {', '.join(ACTIONS)}"),))
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    problems: list[Problem] = []
    key = _idempotency_key(idempotency_key, problems)
    data = json_object(body, problems)
    if data is None:
        return InvalidRequest(tuple(problems))
    fields = _Body(data)
    fields.check_fields(_FIELDS[action])
    correlation = fields.optional_id("correlation_id")
    name, build = _COMMANDS[action]
    # the event id is only known once the key is: an invalid key leaves a placeholder
    event_id = command_event_id(agent.agent_id, name, key) if key else "invalid"
    envelope = _Envelope(event_id, received_at, correlation or event_id, agent.agent_id)
    command = build(fields, envelope)
    problems.extend(fields.problems)
    return InvalidRequest(tuple(problems)) if problems else command


def fingerprint(command: GatewayCommand) -> str:
    """What a request asked for, apart from its ids and time: two requests with one
    Idempotency-Key and different fingerprints are a client's mistake (HTTP 422)."""
    record = command.to_record()
    for name in ("event_id", "occurred_at", "correlation_id"):
        record.pop(name, None)
    digest = hashlib.sha256(
        command.NAME.encode() + orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    )
    return digest.hexdigest()


def normalized_idempotency_key(header: str | None) -> str:
    """The Idempotency-Key header as the gateway keys requests by: trimmed, unquoted (the
    draft standard quotes it); "" when there is none."""
    key = (header or "").strip()
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _idempotency_key(header: str | None, problems: list[Problem]) -> str | None:
    field = "Idempotency-Key"
    if header is None or not header.strip():
        problems.append(Problem(field, "required: a fresh UUID per request, reused on retries"))
        return None
    key = normalized_idempotency_key(header)
    if _IDEMPOTENCY_KEY.fullmatch(key) is None:
        problems.append(Problem(field, "16 to 128 of A-Z a-z 0-9 . _ : ~ + / = -, e.g. a UUID"))
        return None
    return key


def json_object(body: bytes, problems: list[Problem]) -> dict[str, Any] | None:
    if len(body) > MAX_BODY_BYTES:
        problems.append(Problem("body", f"at most {MAX_BODY_BYTES} bytes"))
        return None
    try:
        body.decode("utf-8")
        data = orjson.loads(body)
    except UnicodeDecodeError:
        problems.append(Problem("body", "not UTF-8"))
        return None
    except orjson.JSONDecodeError:
        problems.append(Problem("body", "not JSON"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem("body", "a JSON object"))
        return None
    return data


def _send_reply(body: _Body, env: _Envelope) -> SendReply:
    """Text, files, or both; or a WhatsApp template (the one way past the 24-hour window)
    alone: WhatsApp sends an approved template as it was approved, without files."""
    has_template, has_files = body.has("template"), body.has("attachments")
    if has_template and body.has("text"):
        body.problems.append(Problem("template", "either text or a template, not both"))
    if has_template and has_files:
        body.problems.append(Problem("attachments", "a template goes alone: no files with it"))
    template = body.template("template")
    case_id = body.id("case_id")
    return SendReply(
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        agent_id=env.agent_id,
        case_id=case_id,
        contact_id=body.id("contact_id"),
        subject_id=body.id("subject_id"),
        text=body.text("text", MAX_REPLY_CHARS, required=not (has_template or has_files)),
        attachments=body.attachments("attachments", case_id),
        template_name=template.name if template else None,
        template_language=template.language if template else None,
        template_parameters=template.parameters_json() if template else None,
    )


def _transfer_case(body: _Body, env: _Envelope) -> TransferCase:
    to_agent_id = body.optional_id("to_agent_id")
    if to_agent_id == env.agent_id:
        body.problems.append(Problem("to_agent_id", "you already hold the case"))
    return TransferCase(
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        agent_id=env.agent_id,
        case_id=body.id("case_id"),
        contact_id=body.id("contact_id"),
        subject_id=body.id("subject_id"),
        to_queue_id=body.id("to_queue_id"),
        to_agent_id=to_agent_id,
        note=body.text("note", MAX_NOTE_CHARS, required=False),
    )


def _put_case_on_hold(body: _Body, env: _Envelope) -> PutCaseOnHold:
    return PutCaseOnHold(
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        agent_id=env.agent_id,
        case_id=body.id("case_id"),
        contact_id=body.id("contact_id"),
        reason=body.choice("reason", AGENT_HOLD_REASONS) or "unknown",
    )


def _resume_case(body: _Body, env: _Envelope) -> ResumeCase:
    return ResumeCase(
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        agent_id=env.agent_id,
        case_id=body.id("case_id"),
        contact_id=body.id("contact_id"),
    )


def _close_case(body: _Body, env: _Envelope) -> CloseCase:
    case_id = body.id("case_id")
    reason = body.choice("reason", AGENT_CLOSE_REASONS)
    duplicate_of = body.optional_id("duplicate_of_case_id")
    if reason == "duplicate" and duplicate_of is None:
        body.problems.append(Problem("duplicate_of_case_id", "required with reason duplicate"))
    elif reason is not None and reason != "duplicate" and duplicate_of is not None:
        body.problems.append(Problem("duplicate_of_case_id", "only with reason duplicate"))
    elif duplicate_of is not None and duplicate_of == case_id:
        body.problems.append(Problem("duplicate_of_case_id", "a case cannot duplicate itself"))
    return CloseCase(
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        agent_id=env.agent_id,
        case_id=case_id,
        contact_id=body.id("contact_id"),
        reason=reason or "unknown",
        duplicate_of_case_id=duplicate_of,
    )


def _claim_case(body: _Body, env: _Envelope) -> ClaimCase:
    return ClaimCase(
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        agent_id=env.agent_id,
        case_id=body.id("case_id"),
        contact_id=body.optional_id("contact_id"),
    )


def _change_presence(body: _Body, env: _Envelope) -> ChangePresence:
    return ChangePresence(
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        agent_id=env.agent_id,
        presence=body.choice("presence", AGENT_PRESENCES) or "unknown",
    )


def _change_capacity(body: _Body, env: _Envelope) -> ChangeCapacity:
    return ChangeCapacity(
        event_id=env.event_id,
        occurred_at=env.occurred_at,
        correlation_id=env.correlation_id,
        agent_id=env.agent_id,
        capacity=body.integer("capacity", 0, MAX_CAPACITY),
    )


_Builder = Callable[[_Body, _Envelope], GatewayCommand]
_COMMANDS: Final[dict[str, tuple[str, _Builder]]] = {
    "reply": (SendReply.NAME, _send_reply),
    "transfer": (TransferCase.NAME, _transfer_case),
    "hold": (PutCaseOnHold.NAME, _put_case_on_hold),
    "resume": (ResumeCase.NAME, _resume_case),
    "close": (CloseCase.NAME, _close_case),
    "claim": (ClaimCase.NAME, _claim_case),
    "presence": (ChangePresence.NAME, _change_presence),
    "capacity": (ChangeCapacity.NAME, _change_capacity),
}
