"""The web chat's sessions in PostgreSQL: every message of a session, both directions,
numbered, so that a widget reconnecting (to this process or to one started after a crash)
resumes exactly after the last number it saw.

Why a table and not the log: a reconnect must be answered in milliseconds, and the log
would have to be read from the start of the contact's partition of acolhe.conversations
(shared with every other contact on it) to number the session's messages again. The table
holds, per session, the messages the widget was shown, in order; the log stays the source
of truth for everything else (cases, SLA, exports).

Personal text is SEALED (schemas.personal.seal, AES-256-GCM) with the citizen's data key
from the key store (`contract.keys`), bound to the session and message id; nothing else
in the table names a person (contact and subject ids are opaque, the visitor id is not kept).
Erasing the citizen (destroying the key) shreds their chat here as everywhere else: a
message whose key is gone unseals as ERASED and is left out of what the widget gets. Rows of
sessions idle longer than the retention are deleted (`forget_idle`).

A message's files (`files`, one row per file) are kept by reference: the media store's
`storage_ref`, the subject whose key sealed the file there, checksum, size and type, and the
file's name sealed as the text is. They are what `GET /webchat/files/{attachment_id}` may
serve a visitor (`file_of`): only a file of a message of one of the visitor's own sessions.
The `files` table's reads and writes are in connectors.webchat.session_files; the table is
created here with the others, and its rows written in `record`'s transaction.

Numbering (`record`), in one transaction per message:
1. lock the session's row (`FOR UPDATE`): messages of one session are numbered one at a time,
   across processes too;
2. a message id already recorded keeps its number (a resent frame, a redelivered reply);
3. otherwise it gets `latest_seq + 1`, and the session's `latest_seq` moves on;
4. NOTIFY the store's channel with the session id and the number (connectors.webchat.notices):
   Postgres sends it at commit, and only if the transaction commits, so every web chat
   process hears of the message once it is readable, and never of one rolled back.
So when number n is visible, every number below it is too, and every process is told.

Must not depend on aiohttp or Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, cast

from connectors.webchat.notices import Notice, channel, payload
from connectors.webchat.protocol import Sender, ServerMessage
from connectors.webchat.session_files import (
    KeptFile,
    attachments_of,
    file_of,
    file_rows,
    insert_files,
    seal_names,
    unseal_names,
)
from schemas.personal import Erased, seal, unseal
from streams.shared.events import KeySource

DEFAULT_SCHEMA: Final = "acolhe_webchat"
PAGE: Final = 200
"""Messages read per query when a widget resumes (it gets them all, page after page)."""

DDL: Final = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.sessions (
    session_id   text PRIMARY KEY,
    site_id      text NOT NULL,
    contact_id   text NOT NULL,
    subject_id   text NOT NULL,
    latest_seq   bigint NOT NULL DEFAULT 0,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    active_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sessions_contact_idx ON {schema}.sessions (contact_id, active_at);
CREATE INDEX IF NOT EXISTS sessions_active_idx ON {schema}.sessions (active_at);
CREATE TABLE IF NOT EXISTS {schema}.messages (
    session_id         text NOT NULL REFERENCES {schema}.sessions ON DELETE CASCADE,
    seq                bigint NOT NULL,
    message_id         text NOT NULL,
    sender             text NOT NULL CHECK (sender IN ('visitor', 'agent', 'bot', 'system')),
    client_message_id  text,
    text_sealed        bytea NOT NULL,
    sent_at            timestamptz NOT NULL,
    event_id           text,
    correlation_id     text,
    case_id            text,
    read_reported      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (session_id, seq),
    UNIQUE (session_id, message_id)
);
CREATE TABLE IF NOT EXISTS {schema}.files (
    session_id        text NOT NULL,
    message_id        text NOT NULL,
    position          smallint NOT NULL,
    attachment_id     text NOT NULL,
    media_type        text NOT NULL,
    size_bytes        bigint NOT NULL,
    sha256            text NOT NULL,
    storage_ref       text NOT NULL,
    media_subject_id  text NOT NULL,
    file_name_sealed  bytea NOT NULL,
    PRIMARY KEY (session_id, message_id, position),
    FOREIGN KEY (session_id, message_id)
        REFERENCES {schema}.messages (session_id, message_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS files_attachment_idx ON {schema}.files (attachment_id);
"""


@dataclass(frozen=True)
class SessionRef:
    """A chat session and who it belongs to (opaque ids only)."""

    session_id: str
    site_id: str
    contact_id: str
    subject_id: str


@dataclass(frozen=True)
class OfficeMessage:
    """What a read receipt (DeliveryStatusChanged) names of an office message."""

    message_id: str
    event_id: str
    correlation_id: str
    case_id: str | None


@dataclass(frozen=True)
class Cause:
    """The MessageSent an office message came from."""

    event_id: str
    correlation_id: str
    case_id: str | None


class SessionStore:
    """The session tables over an asyncpg pool; text sealed with `keys`."""

    def __init__(self, pool: Any, keys: KeySource, *, schema: str = DEFAULT_SCHEMA) -> None:
        self._pool = pool
        self._keys = keys
        self.schema = f'"{schema}"'
        self.channel = channel(schema)
        """Where `record` NOTIFYs each message it numbers."""

    async def create_tables(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # concurrent CREATE ... IF NOT EXISTS can still collide: one creator at a time
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", DEFAULT_SCHEMA)
            await conn.execute(DDL.format(schema=self.schema))

    async def open(self, ref: SessionRef) -> SessionRef:
        """The session, created on first use; an existing session keeps its owner (the
        session id comes from a signed token, so only its own visitor names it)."""
        row = await self._pool.fetchrow(
            f"INSERT INTO {self.schema}.sessions (session_id, site_id, contact_id, subject_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO UPDATE SET active_at = now()"
            " RETURNING session_id, site_id, contact_id, subject_id",
            ref.session_id,
            ref.site_id,
            ref.contact_id,
            ref.subject_id,
        )
        return SessionRef(**dict(row))

    async def session(self, session_id: str) -> SessionRef | None:
        row = await self._pool.fetchrow(
            f"SELECT session_id, site_id, contact_id, subject_id FROM {self.schema}.sessions"
            " WHERE session_id = $1",
            session_id,
        )
        return SessionRef(**dict(row)) if row else None

    async def latest_session(self, contact_id: str) -> SessionRef | None:
        """The contact's most recently active session."""
        row = await self._pool.fetchrow(
            f"SELECT session_id, site_id, contact_id, subject_id FROM {self.schema}.sessions"
            " WHERE contact_id = $1 ORDER BY active_at DESC LIMIT 1",
            contact_id,
        )
        return SessionRef(**dict(row)) if row else None

    async def latest_seq(self, session_id: str) -> int:
        found = await self._pool.fetchval(
            f"SELECT latest_seq FROM {self.schema}.sessions WHERE session_id = $1", session_id
        )
        return int(found) if found is not None else 0

    async def latest_seqs(self, session_ids: Sequence[str]) -> dict[str, int]:
        """The latest number of each of these sessions that exists, in one query."""
        rows = await self._pool.fetch(
            f"SELECT session_id, latest_seq FROM {self.schema}.sessions"
            " WHERE session_id = ANY($1::text[])",
            list(session_ids),
        )
        return {r["session_id"]: int(r["latest_seq"]) for r in rows}

    async def record(
        self,
        session: SessionRef,
        shown: ServerMessage,
        *,
        cause: Cause | None = None,
        media_subject_id: str | None = None,
    ) -> ServerMessage:
        """`shown` numbered into the session (its `seq` is ignored), with its files: steps
        1-4 of the module's docstring. A message id recorded before comes back with its first
        number (and is not notified again). `media_subject_id`: whose key sealed the files in
        the media store (the session's subject unless said)."""
        await self._keys.ensure([session.subject_id])
        key = self._keys.encryption_key(session.subject_id)
        sealed = seal(key, _field(session.session_id, shown.message_id), shown.text)
        names = seal_names(key, session.session_id, shown)
        async with self._pool.acquire() as conn, conn.transaction():
            latest = await conn.fetchval(
                f"SELECT latest_seq FROM {self.schema}.sessions WHERE session_id = $1 FOR UPDATE",
                session.session_id,
            )
            if latest is None:
                raise LookupError(f"web chat session {session.session_id!r} is not open")
            known = await conn.fetchval(
                f"SELECT seq FROM {self.schema}.messages WHERE session_id = $1 AND message_id = $2",
                session.session_id,
                shown.message_id,
            )
            if known is not None:
                return _numbered(shown, int(known))
            seq = int(latest) + 1
            await conn.execute(
                f"INSERT INTO {self.schema}.messages (session_id, seq, message_id, sender,"
                " client_message_id, text_sealed, sent_at, event_id, correlation_id, case_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                session.session_id,
                seq,
                shown.message_id,
                shown.sender,
                shown.client_message_id,
                sealed,
                shown.sent_at,
                cause.event_id if cause else None,
                cause.correlation_id if cause else None,
                cause.case_id if cause else None,
            )
            if shown.attachments:
                await insert_files(
                    conn,
                    self.schema,
                    session.session_id,
                    shown,
                    names,
                    media_subject_id=media_subject_id or session.subject_id,
                )
            await conn.execute(
                f"UPDATE {self.schema}.sessions SET latest_seq = $2, active_at = now()"
                " WHERE session_id = $1",
                session.session_id,
                seq,
            )
            await conn.execute(
                "SELECT pg_notify($1, $2)",
                self.channel,
                payload(Notice(session.session_id, seq)),
            )
        return _numbered(shown, seq)

    async def find(self, session: SessionRef, message_id: str) -> ServerMessage | None:
        """The recorded message with this id (text unsealed), or None (also when erased)."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM {self.schema}.messages"
            " WHERE session_id = $1 AND message_id = $2",
            session.session_id,
            message_id,
        )
        found = await self._open(session, rows)
        return found[0] if found else None

    async def after(
        self, session: SessionRef, last_seen_seq: int, *, up_to: int | None = None
    ) -> list[ServerMessage]:
        """The messages numbered above `last_seen_seq` (and at most `up_to`), in order,
        every page of them; messages whose text was erased are left out."""
        out: list[ServerMessage] = []
        cursor = last_seen_seq
        while True:
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM {self.schema}.messages"
                " WHERE session_id = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq <= $3)"
                " ORDER BY seq LIMIT $4",
                session.session_id,
                cursor,
                up_to,
                PAGE,
            )
            out += await self._open(session, rows)
            if len(rows) < PAGE:
                return out
            cursor = int(rows[-1]["seq"])

    async def unread_office_messages(
        self, session: SessionRef, up_to_message_id: str
    ) -> list[OfficeMessage]:
        """The office's messages up to and with `up_to_message_id` not yet reported read;
        empty when that id is not an office message of this session."""
        rows = await self._pool.fetch(
            f"SELECT m.message_id, m.event_id, m.correlation_id, m.case_id"
            f" FROM {self.schema}.messages m JOIN {self.schema}.messages upto"
            "   ON upto.session_id = m.session_id AND upto.message_id = $2"
            "  AND upto.sender <> 'visitor'"
            " WHERE m.session_id = $1 AND m.seq <= upto.seq AND m.sender <> 'visitor'"
            "   AND NOT m.read_reported AND m.event_id IS NOT NULL ORDER BY m.seq",
            session.session_id,
            up_to_message_id,
        )
        return [OfficeMessage(**dict(r)) for r in rows]

    async def mark_read(self, session: SessionRef, message_ids: Sequence[str]) -> None:
        await self._pool.execute(
            f"UPDATE {self.schema}.messages SET read_reported = true"
            " WHERE session_id = $1 AND message_id = ANY($2::text[])",
            session.session_id,
            list(message_ids),
        )

    async def file_of(self, contact_id: str, attachment_id: str) -> KeptFile | None:
        """The file with this id of a message in one of this contact's sessions (its name
        unsealed), or None: none such, or its name erased with its citizen
        (connectors.webchat.session_files)."""
        return await file_of(self._pool, self._keys, self.schema, contact_id, attachment_id)

    async def forget_idle(self, before: datetime) -> int:
        """Delete the sessions (and their messages) not active since `before`."""
        status = await self._pool.execute(
            f"DELETE FROM {self.schema}.sessions WHERE active_at < $1", before
        )
        return int(str(status).rsplit(" ", 1)[-1])

    async def _open(self, session: SessionRef, rows: Sequence[Any]) -> list[ServerMessage]:
        if not rows:
            return []
        await self._keys.load([session.subject_id])
        key = self._keys.decryption_key(session.subject_id)
        files = await file_rows(
            self._pool, self.schema, session.session_id, [r["message_id"] for r in rows]
        )
        out = []
        for r in rows:
            text = unseal(key, _field(session.session_id, r["message_id"]), r["text_sealed"])
            kept = files.get(r["message_id"], [])
            names = unseal_names(key, session.session_id, r["message_id"], kept)
            if isinstance(text, Erased) or any(isinstance(n, Erased) for n in names):
                continue
            attachments = attachments_of(kept, names)
            out.append(
                ServerMessage(
                    seq=int(r["seq"]),
                    message_id=r["message_id"],
                    sender=cast(Sender, r["sender"]),
                    text=text,
                    sent_at=r["sent_at"],
                    client_message_id=r["client_message_id"],
                    attachments=tuple(attachments),
                )
            )
        return out


_COLUMNS: Final = "seq, message_id, sender, client_message_id, text_sealed, sent_at"


def _field(session_id: str, message_id: str) -> str:
    """What a sealed text is bound to: it cannot be moved to another message unnoticed."""
    return f"webchat/{session_id}/{message_id}"


def _numbered(shown: ServerMessage, seq: int) -> ServerMessage:
    return replace(shown, seq=seq)
