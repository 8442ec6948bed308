"""Given a MessageSent for the email channel, when composed, then the office's mail threads
under the citizen's, cannot carry injected headers, and is the same bytes on every retry."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from connectors.email.compose import (
    OfficeMailbox,
    Undeliverable,
    compose_message,
    one_line,
    outbound_message_id,
    reply_subject,
)
from connectors.email.mime import parse_mail
from schemas.events import Attachment, MessageSent
from schemas.personal import Erased
from tests.unit.connectors.email.helpers import parsed

SENT_AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
MAILBOX = OfficeMailbox("atendimento@defensoria.sp.def.br", "Defensoria Pública")
PDF = b"%PDF-1.4 orientacao"


def _sent(**changes: object) -> MessageSent:
    sent = MessageSent(
        event_id="evt-1",
        occurred_at=SENT_AT,
        correlation_id="corr-1",
        subject_id="citizen-1",
        channel="email",
        contact_id="email-1",
        contact_address="maria.souza@gmail.com",
        channel_account_id="atendimento@defensoria.sp.def.br",
        message_id="msg-42",
        sender_kind="agent",
        agent_id="agent-7",
        email_subject="Pensão alimentícia — documentos",
        text="Olá, Maria.\nRecebemos a certidão; a ação será proposta esta semana.",
        reply_to_provider_message_id="CAOr1gK8mXx2Yq=Qz7uV+3bVb9w@mail.gmail.com",
        thread_id="CAOr1gInitial0001@mail.gmail.com",
        sent_at=SENT_AT,
    )
    return replace(sent, **changes)  # type: ignore[arg-type]


def test_reply_threads_under_the_citizens_mail() -> None:
    composed = compose_message(
        _sent(),
        mailbox=MAILBOX,
        date=SENT_AT,
        parent_references=["CAOr1gInitial0001@mail.gmail.com", "first-reply@defensoria"],
    )
    msg = message_from_bytes(composed.raw, policy=policy.default)
    assert composed.message_id == outbound_message_id("msg-42", "defensoria.sp.def.br")
    assert msg["Message-ID"] == f"<{composed.message_id}>"
    assert msg["In-Reply-To"] == "<CAOr1gK8mXx2Yq=Qz7uV+3bVb9w@mail.gmail.com>"
    assert msg["References"] == (
        "<CAOr1gInitial0001@mail.gmail.com> <first-reply@defensoria> "
        "<CAOr1gK8mXx2Yq=Qz7uV+3bVb9w@mail.gmail.com>"
    )
    assert msg["Subject"] == "Re: Pensão alimentícia — documentos"
    assert msg["From"] == "Defensoria Pública <atendimento@defensoria.sp.def.br>"
    assert msg["To"] == "maria.souza@gmail.com"
    assert msg["Date"] == "Mon, 02 Mar 2026 14:30:00 +0000"
    assert msg["Auto-Submitted"] is None  # an agent wrote it
    body = msg.get_body(("plain",))
    assert body is not None
    assert body["Content-Transfer-Encoding"] == "quoted-printable"
    assert body.get_content_charset() == "utf-8"
    assert (composed.envelope_from, composed.recipient) == (
        "atendimento@defensoria.sp.def.br",
        "maria.souza@gmail.com",
    )
    assert all(len(line) <= 998 for line in composed.raw.split(b"\r\n"))


def test_without_parent_references_the_thread_root_stands_in() -> None:
    raw = compose_message(_sent(), mailbox=MAILBOX, date=SENT_AT).raw
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["References"] == (
        "<CAOr1gInitial0001@mail.gmail.com> <CAOr1gK8mXx2Yq=Qz7uV+3bVb9w@mail.gmail.com>"
    )


def test_retry_is_the_same_bytes() -> None:
    sent = _sent(attachments=(_pdf_attachment(),))
    first = compose_message(sent, mailbox=MAILBOX, date=SENT_AT, files={"att-1": PDF})
    again = compose_message(sent, mailbox=MAILBOX, date=SENT_AT, files={"att-1": PDF})
    assert first.raw == again.raw


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Pensão", "Re: Pensão"),
        ("RES: Audiência", "RES: Audiência"),
        ("re[2]: x", "re[2]: x"),
        ("Pensão", "Re: Pensão"),
        ("  ", "Re: Atendimento"),
        (None, "Re: Atendimento"),
    ],
)
def test_reply_subject_adds_re_once(subject: str | None, expected: str) -> None:
    assert reply_subject(subject, is_reply=True, default="Atendimento") == expected


def test_first_message_subject_has_no_re() -> None:
    assert reply_subject("Sua consulta", is_reply=False, default="x") == "Sua consulta"


@pytest.mark.parametrize(
    "subject",
    [
        "0000000¡¡¡¡¡¡𐀀𐀀𐀀𐀀𐀀 ¡ ¡",  # Python's folder lost the space before the last "¡ ¡"
        "Orientação sobre a audiência de custódia do meu filho, marcada para amanhã às 9h",
        "Pensão  alimentícia",
        "ação",
    ],
)
def test_a_long_non_ascii_subject_reaches_the_citizen_with_every_space(subject: str) -> None:
    raw = compose_message(_sent(email_subject=subject), mailbox=MAILBOX, date=SENT_AT).raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "Re: " + one_line(subject)


def test_line_breaks_in_subject_and_names_are_folded_not_injected() -> None:
    sent = _sent(email_subject="Oi\r\nBcc: vitima@example.com\nX-Evil: 1")
    mailbox = OfficeMailbox("atendimento@defensoria.sp.def.br", "Defensoria\r\nBcc: x@y.com")
    msg = message_from_bytes(
        compose_message(sent, mailbox=mailbox, date=SENT_AT).raw, policy=policy.default
    )
    assert msg["Bcc"] is None
    assert msg["X-Evil"] is None
    assert msg["Subject"] == "Re: Oi Bcc: vitima@example.com X-Evil: 1"
    assert msg["From"].addresses[0].display_name == "Defensoria Bcc: x@y.com"


@pytest.mark.parametrize(
    "address",
    [
        "maria@example.com\r\nBcc: x@y.com",
        "Maria <maria@example.com>",
        "a@example.com, b@example.com",
        "sem-arroba",
        "maria@exa..mple.com",
    ],
)
def test_recipient_must_be_one_plain_address(address: str) -> None:
    with pytest.raises(Undeliverable, match="not a single plain address"):
        compose_message(_sent(contact_address=address), mailbox=MAILBOX, date=SENT_AT)


def test_erased_address_or_text_is_undeliverable() -> None:
    with pytest.raises(Undeliverable, match="address is erased"):
        compose_message(_sent(contact_address=Erased()), mailbox=MAILBOX, date=SENT_AT)
    with pytest.raises(Undeliverable, match="text is erased"):
        compose_message(_sent(text=Erased()), mailbox=MAILBOX, date=SENT_AT)


def test_other_channel_template_or_mailbox_is_undeliverable() -> None:
    with pytest.raises(Undeliverable, match="not email"):
        compose_message(_sent(channel="whatsapp"), mailbox=MAILBOX, date=SENT_AT)
    with pytest.raises(Undeliverable, match="no templates"):
        compose_message(_sent(template_name="aviso"), mailbox=MAILBOX, date=SENT_AT)
    with pytest.raises(Undeliverable, match="another mailbox"):
        compose_message(_sent(channel_account_id="outra@x.br"), mailbox=MAILBOX, date=SENT_AT)


def _pdf_attachment() -> Attachment:
    return Attachment(
        attachment_id="att-1",
        media_type="application/pdf",
        size_bytes=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
        storage_ref="media/abc",
        file_name="orientação jurídica.pdf",
    )


def test_attachments_are_sent_and_read_back() -> None:
    sent = _sent(attachments=(_pdf_attachment(),))
    composed = compose_message(sent, mailbox=MAILBOX, date=SENT_AT, files={"att-1": PDF})
    mail = parsed(parse_mail(composed.raw))
    assert [(f.filename, f.content_type, f.content) for f in mail.files] == [
        ("orientação jurídica.pdf", "application/pdf", PDF)
    ]


def test_attachment_content_must_be_present_and_match_its_checksum() -> None:
    sent = _sent(attachments=(_pdf_attachment(),))
    with pytest.raises(Undeliverable, match="no content for att-1"):
        compose_message(sent, mailbox=MAILBOX, date=SENT_AT)
    with pytest.raises(Undeliverable, match="fails its checksum"):
        compose_message(sent, mailbox=MAILBOX, date=SENT_AT, files={"att-1": b"other"})


def test_bot_and_system_mail_is_marked_auto_submitted() -> None:
    bot = compose_message(_sent(sender_kind="bot"), mailbox=MAILBOX, date=SENT_AT)
    notice = _sent(sender_kind="system", reply_to_provider_message_id=None, thread_id=None)
    system = compose_message(notice, mailbox=MAILBOX, date=SENT_AT)
    assert message_from_bytes(bot.raw)["Auto-Submitted"] == "auto-replied"
    system_msg = message_from_bytes(system.raw, policy=policy.default)
    assert system_msg["Auto-Submitted"] == "auto-generated"
    assert system_msg["In-Reply-To"] is None
    assert system_msg["Subject"] == "Pensão alimentícia — documentos"  # a first message


def test_one_line_folds_every_control_character() -> None:
    assert one_line("a\r\n\tb\x00c\x85d\u2028e  ") == "a b c d e"
