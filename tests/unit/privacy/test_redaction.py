"""What erasure redacts in the read model covers every column the migrations mark PERSONAL,
and a message projected after its citizen's key is gone is already redacted."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from schemas.events import Attachment, MessageReceived, MessageSent
from schemas.personal import ERASED
from streams.privacy import redaction
from streams.projections.migrations import load_migrations
from streams.projections.rows_messages import message_row
from streams.projections.sqltext import InvalidSchemaName

AT = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
COMMENT = re.compile(
    r"COMMENT ON COLUMN \{schema\}\.(\w+)\.(\w+) IS\s*((?:'(?:[^']|'')*'\s*)+);", re.S
)


def personal_columns_in_migrations() -> set[tuple[str, str]]:
    found = set()
    for migration in load_migrations():
        for table, column, text in COMMENT.findall(migration.sql):
            if "PERSONAL" in text:
                found.add((table, column))
    return found


def test_every_column_the_migrations_mark_personal_is_redacted() -> None:
    marked = personal_columns_in_migrations()
    redacted = {(t, c) for t, columns in redaction.PERSONAL_COLUMNS.items() for c in columns}

    assert ("case_messages", "text") in marked  # the scan sees the comments
    assert marked <= redacted


def test_the_redaction_clears_each_personal_column_and_attachment_key() -> None:
    sql = redaction.redact_sql("acolhe_read")

    assert sql.startswith('\nUPDATE "acolhe_read".case_messages')
    for column in ("text", "email_subject"):
        assert f"{column} = NULL" in sql
    for key in redaction.PERSONAL_ATTACHMENT_KEYS:
        assert f'"{key}": null' in sql
    assert "redacted_at = coalesce(m.redacted_at, now())" in sql


def test_a_schema_name_is_checked_before_it_reaches_sql() -> None:
    with pytest.raises(InvalidSchemaName):
        redaction.redact_sql('acolhe"; DROP TABLE cases; --')


def erased_message() -> MessageReceived:
    return MessageReceived(
        event_id="in-1",
        occurred_at=AT,
        correlation_id="in-1",
        subject_id="citizen-42",
        channel="email",
        contact_id="contact-1",
        contact_address=ERASED,
        provider_message_id="msgid-1@mail.example.org",
        kind="email",
        sender_name=ERASED,
        email_subject=ERASED,
        text=ERASED,
        attachments=(
            Attachment(
                attachment_id="att-1",
                media_type="application/pdf",
                size_bytes=1200,
                sha256="00",
                storage_ref="media/att-1",
                file_name=ERASED,
                caption=ERASED,
            ),
        ),
        received_at=AT,
    )


def test_a_message_of_an_erased_citizen_is_projected_redacted() -> None:
    row = message_row(erased_message(), 7, case_id="case-1")

    assert row["redacted_at"] == AT
    assert (row["text"], row["email_subject"]) == (None, None)
    [attachment] = json.loads(row["attachments"])
    assert (attachment["file_name"], attachment["caption"]) == (None, None)
    assert attachment["attachment_id"] == "att-1"


def test_a_reply_to_an_erased_citizen_is_projected_redacted() -> None:
    reply = MessageSent(
        event_id="out-1",
        occurred_at=AT,
        correlation_id="in-1",
        subject_id="citizen-42",
        channel="email",
        contact_id="contact-1",
        contact_address=ERASED,
        case_id="case-1",
        message_id="out-1",
        sender_kind="agent",
        agent_id="ana",
        text=ERASED,
        sent_at=AT,
    )

    row = message_row(reply, 8)

    assert row["redacted_at"] == AT
    assert row["text"] is None


def test_a_message_whose_key_opens_is_not_redacted() -> None:
    readable = MessageReceived.from_record(
        {**erased_message().to_record(), "contact_address": "ana@example.org", "text": "Oi"}
    )

    row = message_row(readable, 7)

    assert row["redacted_at"] is None
    assert row["text"] == "Oi"
