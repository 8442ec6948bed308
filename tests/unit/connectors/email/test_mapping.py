"""Given a parsed mail, its contact and its stored files, when mapped, then the
MessageReceived carries every field as the contract documents it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from connectors.common.identity import ContactIds
from connectors.common.media import StoredMedia, storage_ref
from connectors.email.mapping import (
    attachment_id,
    files_to_store,
    message_received,
    received_event_id,
)
from connectors.email.mime import ParsedMail, parse_mail
from schemas.envelope import derive_event_id
from schemas.events import MessageReceived
from tests.unit.connectors.email.helpers import mail_bytes, parsed

RECEIVED = datetime(2026, 3, 9, 13, 0, 5, tzinfo=UTC)
MAILBOX = "Atendimento@Defensoria.SP.def.br"
IDS = ContactIds(b"k" * 32)


def _store(mail: ParsedMail) -> list[StoredMedia]:
    contact = IDS.contact("email", mail.from_address)
    out = []
    for content in files_to_store(mail):
        sha = hashlib.sha256(content).hexdigest()
        out.append(StoredMedia(sha, len(content), storage_ref(contact.subject_id, sha)))
    return out


def _event(mail: ParsedMail, receipt: datetime = RECEIVED) -> MessageReceived:
    return message_received(
        mail,
        contact=IDS.contact("email", mail.from_address),
        mailbox=MAILBOX,
        receipt_time=receipt,
        stored=_store(mail),
    )


def test_reply_with_attachments_maps_to_message_received() -> None:
    mail = parsed(parse_mail(mail_bytes("attachments.eml")))
    contact = IDS.contact("email", "maria.souza@gmail.com")
    stored = _store(mail)
    event = message_received(
        mail, contact=contact, mailbox=MAILBOX, receipt_time=RECEIVED, stored=stored
    )
    event_id = derive_event_id("email", "CAOr1gAttach0001@mail.gmail.com")
    assert event.event_id == event_id == received_event_id(mail.message_id)
    assert (event.channel, event.kind) == ("email", "email")
    assert event.provider_message_id == "CAOr1gAttach0001@mail.gmail.com"
    assert (event.contact_id, event.subject_id) == (contact.contact_id, contact.subject_id)
    assert event.contact_address == "maria.souza@gmail.com"
    assert event.channel_account_id == "atendimento@defensoria.sp.def.br"
    assert (event.sender_name, event.email_subject) == ("Maria Souza", "Documentos do processo")
    assert event.text == mail.text
    assert event.occurred_at == RECEIVED
    assert event.received_at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert event.provider_timestamp == "Mon, 9 Mar 2026 10:00:00 -0300"
    assert event.thread_id == mail.message_id  # it starts its thread
    assert event.correlation_id == event_id
    assert event.reply_to_provider_message_id is None
    image, pdf, _docx = event.attachments
    assert image.attachment_id == attachment_id(event_id, 0)
    assert pdf.attachment_id == derive_event_id(event_id, "attachment", "1")
    assert (image.provider_media_id, image.media_type) == ("ii_aviso01", "image/png")
    assert (pdf.file_name, pdf.media_type) == ("certidão de nascimento.pdf", "application/pdf")
    assert (pdf.sha256, pdf.size_bytes, pdf.storage_ref) == (
        stored[1].sha256,
        stored[1].size_bytes,
        stored[1].storage_ref,
    )


def test_reply_carries_its_thread_and_parent_and_shares_the_thread_correlation() -> None:
    mail = parsed(parse_mail(mail_bytes("gmail_reply_pt.eml")))
    event = _event(mail)
    assert event.reply_to_provider_message_id == (
        "7f0c2a1e-0b5d-5e1f-9f6a-2b3c4d5e6f70@defensoria.sp.def.br"
    )
    assert event.thread_id == "CAOr1gInitial0001@mail.gmail.com"
    assert event.correlation_id == received_event_id("CAOr1gInitial0001@mail.gmail.com")


def test_redelivered_mail_yields_the_same_event() -> None:
    raw = mail_bytes("attachments.eml")
    first = _event(parsed(parse_mail(raw)))
    again = _event(parsed(parse_mail(raw)), RECEIVED + timedelta(hours=2))
    assert first.event_id == again.event_id
    assert first.attachments == again.attachments


def test_date_far_in_the_future_gives_way_to_the_receipt_time() -> None:
    mail = parsed(parse_mail(mail_bytes("no_message_id.eml")))  # Date: 7 Mar 2026 10:00 UTC
    early_receipt = datetime(2026, 3, 1, tzinfo=UTC)
    event = _event(mail, early_receipt)
    assert event.received_at == early_receipt
    assert event.provider_timestamp == "Sat, 7 Mar 2026 07:00:00 -0300"


def test_stored_media_must_match_the_files() -> None:
    mail = parsed(parse_mail(mail_bytes("attachments.eml")))
    with pytest.raises(ValueError, match="3 files in the mail but 0 stored"):
        message_received(
            mail,
            contact=IDS.contact("email", mail.from_address),
            mailbox=MAILBOX,
            receipt_time=RECEIVED,
        )


def test_receipt_time_must_be_aware() -> None:
    mail = parsed(parse_mail(mail_bytes("no_message_id.eml")))
    with pytest.raises(ValueError, match="timezone-aware"):
        message_received(
            mail,
            contact=IDS.contact("email", mail.from_address),
            mailbox=MAILBOX,
            receipt_time=datetime(2026, 3, 9),
        )
