"""The web chat widget's wire protocol: JSON frames over the WebSocket (and the same bodies
over HTTP), parsed strictly into typed frames, and serialized with orjson.

Client -> server (`type` names the frame; any other key is refused):
- `{"type": "message", "client_message_id": "c-1", "text": "..."}`: the widget's id for the
  message, unique in its session (a resend after a lost ack repeats it); with
  `"attachments": [descriptor, ...]` (1 to 5 files as `POST /webchat/files` answered them,
  connectors.webchat.files) the text is optional;
- `{"type": "typing", "active": true}`;
- `{"type": "read", "up_to_message_id": "..."}`: the visitor has read this server message
  and those before it;
- `{"type": "resume", "last_seen_seq": 41}`: after reconnecting, send me what came after 41
  (0: nothing seen yet).

Server -> client:
- `message` (`seq`, `message_id`, `sender`, `text` (empty for files alone), `sent_at`, and
  `client_message_id` for the visitor's own messages, which come back on resume so every tab
  shows the whole talk; `attachments`, when it has files: `attachment_id`, `file_name`,
  `media_type`, `size_bytes` each, downloaded from `GET /webchat/files/{attachment_id}`);
- `ack` (`client_message_id`, `message_id`, `seq`): the visitor's message is recorded;
- `typing` (`active`), `read` (`up_to_message_id`): the agent's;
- `error` (`code`, `reason`, and `field` or `retry_after` when they apply).

Sequence numbers: every message of a session, both directions, gets the next number, from 1
(connectors.webchat.resume keeps them and answers a `resume`).

Parsing never raises on any input: bad bytes, bad JSON, a wrong shape, all come back as an
`error` frame to send. Pure; serialization with orjson. Must not depend on aiohttp, Kafka or
Postgres.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson

from connectors.common.files import descriptor
from connectors.webchat.files import MAX_ATTACHMENTS, read_descriptor
from connectors.webchat.limits import DEFAULT_MAX_MESSAGE_BYTES, check_message_text
from schemas.events import Attachment

FILES_ROOM: Final = MAX_ATTACHMENTS * 2048
"""Room in a frame for its file descriptors (a name of 255 characters, escaped, and the rest)."""
DEFAULT_MAX_FRAME_BYTES: Final = 4 * DEFAULT_MAX_MESSAGE_BYTES + FILES_ROOM
"""Room for the longest text even when JSON escapes much of it, and for five files."""
MAX_SEQ: Final = 2**53 - 1  # the largest integer a JavaScript number holds exactly
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Sender = Literal["visitor", "agent", "bot", "system"]
ErrorCode = Literal[
    "malformed_json",
    "invalid_utf8",
    "oversized",
    "unknown_type",
    "missing_field",
    "invalid_field",
    "rate_limited",
    "resume_gap",
    "unauthorized",
]


# client -> server


@dataclass(frozen=True, slots=True)
class ClientMessage:
    client_message_id: str
    text: str | None
    """None only for files alone."""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientTyping:
    active: bool


@dataclass(frozen=True, slots=True)
class ClientRead:
    up_to_message_id: str


@dataclass(frozen=True, slots=True)
class ClientResume:
    last_seen_seq: int


ClientFrame = ClientMessage | ClientTyping | ClientRead | ClientResume


# server -> client


@dataclass(frozen=True, slots=True)
class ServerMessage:
    seq: int
    message_id: str
    sender: Sender
    text: str
    sent_at: datetime
    client_message_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    """The message's files; the widget is told their id, name, type and size only."""


@dataclass(frozen=True, slots=True)
class ServerAck:
    client_message_id: str
    message_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class ServerTyping:
    active: bool


@dataclass(frozen=True, slots=True)
class ServerRead:
    up_to_message_id: str


@dataclass(frozen=True, slots=True)
class ServerError:
    code: ErrorCode
    reason: str
    field: str | None = None
    retry_after: float | None = None


ServerFrame = ServerMessage | ServerAck | ServerTyping | ServerRead | ServerError


def is_message_id(value: object) -> bool:
    """Whether `value` may be a message id on the wire: 1 to 64 of A-Z a-z 0-9 . _ : -."""
    return isinstance(value, str) and _MESSAGE_ID.fullmatch(value) is not None


def is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEQ


# parsing

_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "message": ("client_message_id", "text", "attachments"),
    "typing": ("active",),
    "read": ("up_to_message_id",),
    "resume": ("last_seen_seq",),
}


def parse_client_frame(
    raw: bytes | str,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    max_text_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> ClientFrame | ServerError:
    """The frame `raw` holds, or the error frame that says what is wrong with it. Steps:
    size (before anything reads it), UTF-8, JSON, an object with a known `type`, exactly that
    type's fields, each field's value."""
    data = _json_object(raw, max_frame_bytes)
    if isinstance(data, ServerError):
        return data
    kind = data.get("type")
    if kind is None:
        return ServerError("missing_field", "a frame needs a type", field="type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        return ServerError("unknown_type", f"type is one of: {', '.join(_FIELDS)}", field="type")
    wrong = _field_error(kind, data)
    if wrong is not None:
        return wrong
    if kind == "message":
        return _message(data, max_text_bytes)
    return _SIGNALS[kind](data)


_OPTIONAL: Final = frozenset({"text", "attachments"})
"""A message's fields of which one may be left out (but not both: `_message`)."""


def _field_error(kind: str, data: dict[str, Any]) -> ServerError | None:
    expected = _FIELDS[kind]
    for name in data:
        if name != "type" and name not in expected:
            return ServerError("invalid_field", f"a {kind} frame has no such field", field=name)
    for name in expected:
        if name not in data and not (kind == "message" and name in _OPTIONAL):
            return ServerError("missing_field", f"a {kind} frame needs {name}", field=name)
    return None


def _json_object(raw: bytes | str, max_frame_bytes: int) -> dict[str, Any] | ServerError:
    data = _bounded_bytes(raw, max_frame_bytes)
    if isinstance(data, ServerError):
        return data
    try:
        data.decode("utf-8")
        value = orjson.loads(data)
    except UnicodeDecodeError as exc:
        return ServerError("invalid_utf8", f"the frame is not UTF-8 (byte {exc.start})")
    except orjson.JSONDecodeError:
        return ServerError("malformed_json", "the frame is not JSON")
    if not isinstance(value, dict):
        return ServerError("malformed_json", "a frame is a JSON object")
    return value


def _bounded_bytes(raw: bytes | str, max_frame_bytes: int) -> bytes | ServerError:
    oversized = ServerError("oversized", f"a frame holds at most {max_frame_bytes} bytes")
    if isinstance(raw, str):
        if len(raw) > max_frame_bytes:  # a character is at least one byte: no need to encode
            return oversized
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError:
            return ServerError("invalid_utf8", "the frame has no UTF-8 form")
    return oversized if len(raw) > max_frame_bytes else raw


def _message(data: dict[str, Any], max_text_bytes: int) -> ClientMessage | ServerError:
    client_message_id = data["client_message_id"]
    if not is_message_id(client_message_id):
        return _invalid("client_message_id", "1 to 64 of A-Z a-z 0-9 . _ : -")
    attachments = _attachments(data["attachments"]) if "attachments" in data else ()
    if isinstance(attachments, ServerError):
        return attachments
    if "text" not in data:
        if not attachments:
            return ServerError("missing_field", "a message frame needs text", field="text")
        return ClientMessage(client_message_id, None, attachments)
    text = _text(data["text"], max_text_bytes)
    if isinstance(text, ServerError):
        return text
    return ClientMessage(client_message_id=client_message_id, text=text, attachments=attachments)


def _attachments(value: object) -> tuple[Attachment, ...] | ServerError:
    """A message's files, each descriptor checked (connectors.webchat.files)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ATTACHMENTS:
        return _invalid("attachments", f"a list of 1 to {MAX_ATTACHMENTS} file descriptors")
    found: list[Attachment] = []
    for n, item in enumerate(value):
        read = read_descriptor(item, f"attachments[{n}]")
        if not isinstance(read, Attachment):
            return ServerError("invalid_field", f"{read[0]}: {read[1]}", field=read[0])
        found.append(read)
    if len({a.attachment_id for a in found}) != len(found):
        return _invalid("attachments", "the same file twice")
    return tuple(found)


def _text(text: object, max_text_bytes: int) -> str | ServerError:
    if not isinstance(text, str):
        return _invalid("text", "text is a string")
    refused = check_message_text(text, max_text_bytes)
    if refused is not None:
        code: ErrorCode = "oversized" if refused.reason == "too_large" else "invalid_utf8"
        return ServerError(code, f"text: {refused.detail}", field="text")
    if not text.strip():
        return _invalid("text", "text is not blank")
    if _CONTROL.search(text):
        return _invalid("text", "text holds no control characters but tab and newline")
    return text


def _typing(data: dict[str, Any]) -> ClientTyping | ServerError:
    active = data["active"]
    if not isinstance(active, bool):
        return _invalid("active", "active is true or false")
    return ClientTyping(active=active)


def _read(data: dict[str, Any]) -> ClientRead | ServerError:
    up_to = data["up_to_message_id"]
    if not is_message_id(up_to):
        return _invalid("up_to_message_id", "1 to 64 of A-Z a-z 0-9 . _ : -")
    return ClientRead(up_to_message_id=up_to)


def _resume(data: dict[str, Any]) -> ClientResume | ServerError:
    last_seen = data["last_seen_seq"]
    if not is_seq(last_seen):
        return _invalid("last_seen_seq", f"an integer from 0 to {MAX_SEQ}")
    return ClientResume(last_seen_seq=last_seen)


_SIGNALS: Final[dict[str, Callable[[dict[str, Any]], ClientFrame | ServerError]]] = {
    "typing": _typing,
    "read": _read,
    "resume": _resume,
}


def _invalid(field: str, rule: str) -> ServerError:
    return ServerError("invalid_field", f"{field}: {rule}", field=field)


# serialization


def serialize_server_frame(frame: ServerFrame) -> bytes:
    """The JSON bytes of a frame for the widget."""
    return orjson.dumps(_server_dict(frame))


def _server_dict(frame: ServerFrame) -> dict[str, object]:
    if isinstance(frame, ServerMessage):
        out: dict[str, object] = {
            "type": "message",
            "seq": frame.seq,
            "message_id": frame.message_id,
            "sender": frame.sender,
            "text": frame.text,
            "sent_at": _rfc3339(frame.sent_at),
        }
        if frame.client_message_id is not None:
            out["client_message_id"] = frame.client_message_id
        if frame.attachments:
            out["attachments"] = [_shown_file(a) for a in frame.attachments]
        return out
    if isinstance(frame, ServerAck):
        return {
            "type": "ack",
            "client_message_id": frame.client_message_id,
            "message_id": frame.message_id,
            "seq": frame.seq,
        }
    if isinstance(frame, ServerTyping):
        return {"type": "typing", "active": frame.active}
    if isinstance(frame, ServerRead):
        return {"type": "read", "up_to_message_id": frame.up_to_message_id}
    out = {"type": "error", "code": frame.code, "reason": frame.reason}
    if frame.field is not None:
        out["field"] = frame.field
    if frame.retry_after is not None:
        out["retry_after"] = round(frame.retry_after, 3)
    return out


def _shown_file(attachment: Attachment) -> dict[str, object]:
    """What the widget is told of a file: enough to name and fetch it, not where it is."""
    name = attachment.file_name
    return {
        "attachment_id": attachment.attachment_id,
        "file_name": name if isinstance(name, str) else "arquivo",
        "media_type": attachment.media_type,
        "size_bytes": attachment.size_bytes,
    }


def serialize_client_frame(frame: ClientFrame) -> bytes:
    """The JSON bytes the widget sends for `frame` (for tests and tools: the widget is JS)."""
    if isinstance(frame, ClientMessage):
        body: dict[str, object] = {"type": "message", "client_message_id": frame.client_message_id}
        if frame.text is not None:
            body["text"] = frame.text
        if frame.attachments:
            body["attachments"] = [descriptor(a) for a in frame.attachments]
    elif isinstance(frame, ClientTyping):
        body = {"type": "typing", "active": frame.active}
    elif isinstance(frame, ClientRead):
        body = {"type": "read", "up_to_message_id": frame.up_to_message_id}
    else:
        body = {"type": "resume", "last_seen_seq": frame.last_seen_seq}
    return orjson.dumps(body)


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rate_limited_error(retry_after: float) -> ServerError:
    """The error frame for a message refused by the rate limit (limits.RateLimited)."""
    return ServerError(
        "rate_limited", "too many messages: wait before sending again", retry_after=retry_after
    )
