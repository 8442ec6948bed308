"""What a web chat process tells every other one when it records a message in a session, so
that a reply delivered by one replica reaches the visitor's sockets held by another.

`SessionStore.record` NOTIFYs, inside the transaction that numbers the message (sent at
commit, and only if it commits), on the store's `channel`; every process LISTENs there
(connectors.webchat.listener). The channel is named by a hash of the store's schema, so two
stores in different schemas never hear each other and any schema name fits Postgres'
63-byte limit on a channel name.

A notice is a hint, not data: NOTIFY is not access-controlled (any role connected to the
database may LISTEN), so the payload holds the session id (random, issued by the connector,
naming no one) and the message's number only. The listener reads the message itself from
the store.

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


@dataclass(frozen=True, slots=True)
class Notice:
    """Message `seq` of session `session_id` is recorded (and every number below it)."""

    session_id: str
    seq: int


def channel(schema: str) -> str:
    """The NOTIFY channel of the session store in `schema`: `acolhe_webchat_` and 40 hex
    digits of SHA-256 of the schema's name."""
    return PREFIX + hashlib.sha256(schema.encode()).hexdigest()[:40]


def payload(notice: Notice) -> str:
    return orjson.dumps({"session_id": notice.session_id, "seq": notice.seq}).decode()


def parse(text: str) -> Notice | None:
    """The notice in a payload; None when it is not one (someone else NOTIFYing)."""
    if len(text) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or set(data) != {"session_id", "seq"}:
        return None
    session_id, seq = data["session_id"], data["seq"]
    if not isinstance(session_id, str) or not session_id:
        return None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        return None
    return Notice(session_id, seq)
