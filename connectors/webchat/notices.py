"""What a web chat process tells every other one when it records a message in a session, so
that a reply delivered by one replica reaches the visitor's sockets held by another; and
what the agents' gateway tells every web chat process when an agent starts or stops typing
in a session's case (`Typing`), so that whichever replica holds the visitor's sockets shows it.

`SessionStore.record` NOTIFYs, inside the transaction that numbers the message (sent at
commit, and only if it commits), on the store's `channel`; every process LISTENs there
(connectors.webchat.listener). The channel is named by a hash of the store's schema, so two
stores in different schemas never hear each other and any schema name fits Postgres'
63-byte limit on a channel name.

A notice is a hint, not data: NOTIFY is not access-controlled (any role connected to the
database may LISTEN), so the payload holds the session id (random, issued by the connector,
naming no one) and the message's number only (or, for typing, whether it is on). The
listener reads the message itself from the store; typing is ephemeral and stored nowhere.

Pure. Must not depend on aiohttp, asyncpg or Kafka.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

import orjson

PREFIX: Final = "acolhe_webchat_"
MAX_PAYLOAD_BYTES: Final = 1024
"""Far above a real notice (a session id is at most 128 characters); anything longer on the
channel is someone else's."""
_SHAPES: Final = ({"session_id", "seq"}, {"session_id", "typing"})


@dataclass(frozen=True, slots=True)
class Notice:
    """Message `seq` of session `session_id` is recorded (and every number below it)."""

    session_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class Typing:
    """The office is typing in session `session_id` (`active`), or stopped."""

    session_id: str
    active: bool


def channel(schema: str) -> str:
    """The NOTIFY channel of the session store in `schema`: `acolhe_webchat_` and 40 hex
    digits of SHA-256 of the schema's name."""
    return PREFIX + hashlib.sha256(schema.encode()).hexdigest()[:40]


def payload(notice: Notice | Typing) -> str:
    if isinstance(notice, Typing):
        return orjson.dumps({"session_id": notice.session_id, "typing": notice.active}).decode()
    return orjson.dumps({"session_id": notice.session_id, "seq": notice.seq}).decode()


def parse(text: str) -> Notice | Typing | None:
    """The notice in a payload; None when it is not one (someone else NOTIFYing)."""
    data = _object(text)
    if data is None or set(data) not in _SHAPES:
        return None
    session_id = data["session_id"]
    if not isinstance(session_id, str) or not session_id:
        return None
    if "typing" in data:
        active = data["typing"]
        return Typing(session_id, active) if isinstance(active, bool) else None
    seq = data["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        return None
    return Notice(session_id, seq)


def _object(text: str) -> dict[str, object] | None:
    if len(text) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
