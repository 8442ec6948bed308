"""The files of the web chat's session messages in PostgreSQL (`files`, one row per file),
read and written for the session store (connectors.webchat.sessions, which creates the table
with the others and calls these inside its own transactions).

A file is kept by reference: the media store's `storage_ref`, the subject whose key sealed
the file there, checksum, size and type, and the file's name SEALED (schemas.personal.seal)
with the session's citizen's data key, bound to its session, message and file, as the
message text is. They are what `GET /webchat/files/{attachment_id}` may serve a visitor
(`file_of`): only a file of a message of one of the visitor's own sessions. A name whose key
is gone unseals as ERASED: the file is then as absent as one that never was.

Must not depend on aiohttp or Kafka, nor on connectors.webchat.sessions (which imports it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.webchat.protocol import ServerMessage
from schemas.events import Attachment
from schemas.personal import DataKey, Erased, seal, unseal
from streams.shared.events import KeySource


@dataclass(frozen=True)
class KeptFile:
    """A file of a message of a session: where the media store keeps it, under whose key."""

    attachment: Attachment
    media_subject_id: str


def seal_names(key: DataKey, session_id: str, shown: ServerMessage) -> list[bytes]:
    """The names of `shown`'s files, sealed, in the order of its attachments."""
    return [
        seal(
            key,
            _name_field(session_id, shown.message_id, a.attachment_id),
            a.file_name if isinstance(a.file_name, str) else "arquivo",
        )
        for a in shown.attachments
    ]


async def insert_files(
    conn: Any,
    schema: str,
    session_id: str,
    shown: ServerMessage,
    names: Sequence[bytes],
    *,
    media_subject_id: str,
) -> None:
    """One row per file of `shown`, on `conn` (inside the caller's transaction)."""
    await conn.executemany(
        f"INSERT INTO {schema}.files (session_id, message_id, position,"
        " attachment_id, media_type, size_bytes, sha256, storage_ref,"
        " media_subject_id, file_name_sealed)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            (
                session_id,
                shown.message_id,
                n,
                a.attachment_id,
                a.media_type,
                a.size_bytes,
                a.sha256,
                a.storage_ref,
                media_subject_id,
                names[n],
            )
            for n, a in enumerate(shown.attachments)
        ],
    )


async def file_rows(
    pool: Any, schema: str, session_id: str, message_ids: list[str]
) -> dict[str, list[Any]]:
    """The file rows of these messages, by message id, in their order."""
    rows = await pool.fetch(
        f"SELECT * FROM {schema}.files WHERE session_id = $1"
        " AND message_id = ANY($2::text[]) ORDER BY message_id, position",
        session_id,
        message_ids,
    )
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row["message_id"], []).append(row)
    return out


def unseal_names(
    key: DataKey | None, session_id: str, message_id: str, kept: Sequence[Any]
) -> list[str | Erased]:
    """The names of a message's file rows, unsealed (ERASED where the key is gone)."""
    return [
        unseal(key, _name_field(session_id, message_id, f["attachment_id"]), f["file_name_sealed"])
        for f in kept
    ]


def attachments_of(kept: Sequence[Any], names: Sequence[str | Erased]) -> list[Attachment]:
    """A message's file rows as its attachments, with their unsealed names."""
    return [_attachment(f, str(n)) for f, n in zip(kept, names, strict=True)]


async def file_of(
    pool: Any, keys: KeySource, schema: str, contact_id: str, attachment_id: str
) -> KeptFile | None:
    """The file with this id of a message in one of this contact's sessions (its name
    unsealed), or None: none such, or its name erased with its citizen."""
    row = await pool.fetchrow(
        f"SELECT f.*, s.subject_id FROM {schema}.files f"
        f" JOIN {schema}.sessions s ON s.session_id = f.session_id"
        " WHERE s.contact_id = $1 AND f.attachment_id = $2"
        " ORDER BY s.active_at DESC, f.position LIMIT 1",
        contact_id,
        attachment_id,
    )
    if row is None:
        return None
    await keys.load([row["subject_id"]])
    key = keys.decryption_key(row["subject_id"])
    at = _name_field(row["session_id"], row["message_id"], row["attachment_id"])
    name = unseal(key, at, row["file_name_sealed"])
    if isinstance(name, Erased):
        return None
    return KeptFile(_attachment(row, name), row["media_subject_id"])


def _name_field(session_id: str, message_id: str, attachment_id: str) -> str:
    """What a sealed file name is bound to: its message and its file."""
    return f"webchat/{session_id}/{message_id}/{attachment_id}"


def _attachment(row: Any, file_name: str) -> Attachment:
    return Attachment(
        attachment_id=row["attachment_id"],
        media_type=row["media_type"],
        size_bytes=int(row["size_bytes"]),
        sha256=row["sha256"],
        storage_ref=row["storage_ref"],
        file_name=file_name,
    )
