"""A parsed mail -> the `MessageReceived` event the email connector publishes.

The shell's steps, in order, around these functions:
1. `mime.parse_mail(raw)`; a `Quarantined` outcome is dead-lettered with its reason.
2. `ContactIds.contact("email", mail.from_address)` gives the contact and the citizen.
3. Each of `files_to_store(mail)` is put in the media store with the citizen's key, in
   order; the `StoredMedia` results come back in the same order.
4. `message_received(...)` builds the event, published once the files are durable.
A redelivery of the same mail repeats every id: the event's (channel and Message-ID), the
attachments' (event id and position) and the stored files' references (content checksum).

Pure: no I/O, no clock (the receipt time is an argument); must not depend on Kafka or
Postgres.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from connectors.common.identity import ContactRef
from connectors.common.media import StoredMedia
from connectors.email.mime import MailFile, ParsedMail
from schemas.envelope import derive_event_id
from schemas.events import Attachment, MessageReceived

CHANNEL = "email"
MAX_FUTURE_SKEW = timedelta(hours=1)


def received_event_id(message_id: str) -> str:
    """The event id of the inbound mail with this (normalized) Message-ID."""
    return derive_event_id(CHANNEL, message_id)


def attachment_id(event_id: str, position: int) -> str:
    return derive_event_id(event_id, "attachment", str(position))


def files_to_store(mail: ParsedMail) -> tuple[bytes, ...]:
    """The contents the shell puts in the media store, in the order `message_received`
    expects their `StoredMedia`."""
    return tuple(f.content for f in mail.files)


def message_received(
    mail: ParsedMail,
    *,
    contact: ContactRef,
    mailbox: str,
    receipt_time: datetime,
    stored: Sequence[StoredMedia] = (),
    max_future_skew: timedelta = MAX_FUTURE_SKEW,
) -> MessageReceived:
    """The event for `mail`, received at `receipt_time` in the office's `mailbox`.

    `received_at` is the Date header, unless there is none, it does not parse, or it lies
    more than `max_future_skew` after the receipt (a sender's clock set wrong must not put a
    citizen's message in the future of every SLA clock): then the receipt time. The raw
    Date is kept in `provider_timestamp` either way. The correlation id is the event id of
    the thread's first message, so every mail of one thread shares it.
    """
    if receipt_time.tzinfo is None:
        raise ValueError("receipt_time must be timezone-aware")
    if len(stored) != len(mail.files):
        raise ValueError(f"{len(mail.files)} files in the mail but {len(stored)} stored")
    event_id = received_event_id(mail.message_id)
    received_at = mail.date
    if received_at is None or received_at > receipt_time + max_future_skew:
        received_at = receipt_time
    return MessageReceived(
        event_id=event_id,
        occurred_at=receipt_time,
        correlation_id=received_event_id(mail.thread_id),
        subject_id=contact.subject_id,
        channel="email",
        contact_id=contact.contact_id,
        contact_address=mail.from_address,
        channel_account_id=mailbox.strip().lower(),
        provider_message_id=mail.message_id,
        kind="email",
        sender_name=mail.from_name,
        email_subject=mail.subject,
        text=mail.text,
        attachments=tuple(
            _attachment(event_id, position, file, media)
            for position, (file, media) in enumerate(zip(mail.files, stored, strict=True))
        ),
        reply_to_provider_message_id=mail.in_reply_to,
        thread_id=mail.thread_id,
        received_at=received_at,
        provider_timestamp=mail.date_raw,
    )


def _attachment(event_id: str, position: int, file: MailFile, media: StoredMedia) -> Attachment:
    return Attachment(
        attachment_id=attachment_id(event_id, position),
        provider_media_id=file.content_id,
        media_type=file.content_type,
        size_bytes=media.size_bytes,
        sha256=media.sha256,
        storage_ref=media.storage_ref,
        file_name=file.filename,
    )
