"""The pure projection of the read model's `case_messages` rows (each case's timeline).

`message_row` makes a message's row (MessageReceived: in; MessageSent: out); a citizen's
message names no case, so the shell passes the contact's open case. `evolve_message` keeps
the furthest delivery status (sent < delivered < read; failed wins; never back). Personal
fields the key no longer opens (ERASED) are stored as NULL, and such a row is marked
redacted (`redacted_at`), so a rebuild or a late event after an erasure makes the same row
`acolhe erase` left (docs/privacy.md). Whole rows, fixed columns (`MESSAGE_COLUMNS`),
`version` = the event's offset, as in `streams.projections.rows`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from schemas.events import (
    Attachment,
    DeliveryStatusChanged,
    MessageReceived,
    MessageSent,
)
from schemas.personal import Erased
from streams.projections.rows import _only, is_newer, whole
from streams.projections.rows_cases import Row
from streams.projections.writer import Upsert

CASE_MESSAGES: Final = "case_messages"
MESSAGE_KEY: Final = ("message_id",)
MESSAGE_COLUMNS: Final = (
    "message_id",
    "event_id",
    "case_id",
    "contact_id",
    "subject_id",
    "direction",
    "sender_kind",
    "agent_id",
    "channel",
    "kind",
    "text",
    "email_subject",
    "attachments",
    "template_name",
    "provider_message_id",
    "reply_to_provider_message_id",
    "occurred_at",
    "delivery_status",
    "delivery_status_at",
    "delivery_error",
    "redacted_at",
    "version",
)
DELIVERY_RANK: Final[Mapping[str, int]] = {"sent": 0, "delivered": 1, "read": 2, "failed": 3}
"""How far a delivery got: a status never moves back; failed wins over everything."""


# -- case_messages ----------------------------------------------------------------------------


def _clear(value: str | Erased | None) -> str | None:
    """A personal field as stored: ERASED (the key is gone) is NULL."""
    return None if isinstance(value, Erased) else value


def is_erased(event: MessageReceived | MessageSent) -> bool:
    """Whether the message's subject was erased: its key opened none of its personal fields.

    Told by `contact_address`, the one personal field every message has: all of a message's
    fields are sealed with the same key, so it opens all of them or none."""
    return isinstance(event.contact_address, Erased)


def _attachments(attachments: tuple[Attachment, ...]) -> str:
    """The attachments as the jsonb text of an array (asyncpg sends jsonb as text)."""
    if not attachments:
        return "[]"  # most messages: no list to build, no encoder to call
    return orjson.dumps(
        [
            {
                "attachment_id": a.attachment_id,
                "media_type": a.media_type,
                "size_bytes": a.size_bytes,
                "sha256": a.sha256,
                "storage_ref": a.storage_ref,
                "file_name": _clear(a.file_name),
                "caption": _clear(a.caption),
            }
            for a in attachments
        ],
        option=orjson.OPT_SORT_KEYS,
    ).decode()


def message_row(
    event: MessageReceived | MessageSent, version: int, *, case_id: str | None = None
) -> Row:
    """A message's whole row: `in` for a citizen's `MessageReceived` (key: its event id; in
    the case `case_id`, the contact's open case, None outside any case), `out` for the
    office's `MessageSent` (key: its `message_id`; in the event's own case, else `case_id`).
    Delivery is unknown until a `DeliveryStatusChanged`.

    A message of an erased subject (`is_erased`) is redacted: its personal fields are NULL
    and `redacted_at` is the message's own time. The fold has no clock, and the row never
    held the fields; a rebuild makes the same row."""
    erased = is_erased(event)
    kind: str
    if isinstance(event, MessageReceived):
        message_id, direction, sender_kind, agent_id = event.event_id, "in", "citizen", None
        kind, template_name, provider_message_id = event.kind, None, event.provider_message_id
    else:
        message_id, direction, sender_kind = event.message_id, "out", event.sender_kind
        agent_id = event.agent_id if event.sender_kind == "agent" else None
        kind = "template" if event.template_name else "text"
        template_name, provider_message_id = event.template_name, None
        case_id = event.case_id if event.case_id is not None else case_id
    # Built in MESSAGE_COLUMNS' order: the writer and the rebuild's COPY take it as it is.
    return {
        "message_id": message_id,
        "event_id": event.event_id,
        "case_id": case_id,
        "contact_id": event.contact_id,
        "subject_id": event.subject_id,
        "direction": direction,
        "sender_kind": sender_kind,
        "agent_id": agent_id,
        "channel": event.channel,
        "kind": kind,
        "text": None if erased else _clear(event.text),
        "email_subject": None if erased else _clear(event.email_subject),
        "attachments": _attachments(event.attachments),
        "template_name": template_name,
        "provider_message_id": provider_message_id,
        "reply_to_provider_message_id": event.reply_to_provider_message_id,
        "occurred_at": event.occurred_at,
        "delivery_status": None,
        "delivery_status_at": None,
        "delivery_error": None,
        "redacted_at": event.occurred_at if erased else None,
        "version": version,
    }


def evolve_message(
    row: Mapping[str, Any] | None, event: DeliveryStatusChanged, version: int
) -> Row | None:
    """The message's row after a delivery report: the furthest status (sent < delivered <
    read; failed wins), its time, and for failed the first error (`code: title`); the
    provider's id once known. A report of a message not seen (None stays None), of an
    inbound message, a stale one, or one not further than the status held changes nothing:
    the row given is returned as it is (so a caller tells a change by identity)."""
    if row is None:
        return None
    if row["message_id"] != event.message_id:
        raise ValueError(f"status of message {event.message_id} applied to {row['message_id']}")
    if not is_newer(row, version) or row["direction"] != "out":
        return dict(row) if not isinstance(row, dict) else row
    changes: dict[str, Any] = {}
    if row["provider_message_id"] is None:
        changes["provider_message_id"] = event.provider_message_id
    rank = DELIVERY_RANK.get(event.status)
    held = DELIVERY_RANK.get(row["delivery_status"] or "", -1)
    if rank is not None and rank > held:
        first = event.errors[0] if event.errors else None
        changes["delivery_status"] = event.status
        changes["delivery_status_at"] = event.status_at
        changes["delivery_error"] = (
            f"{first.code}: {first.title}" if event.status == "failed" and first else None
        )
    if all(row[column] == value for column, value in changes.items()):
        return dict(row) if not isinstance(row, dict) else row
    new = _only(MESSAGE_COLUMNS, row)
    new.update(changes, version=version)
    return new


def upsert_message(row: Mapping[str, Any]) -> Upsert:
    """The writer's upsert of a message row."""
    return Upsert(CASE_MESSAGES, MESSAGE_KEY, whole(MESSAGE_COLUMNS, row))
