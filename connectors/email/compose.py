"""A `MessageSent` on the email channel -> the mail the office sends.

What the mail carries and why:
- From the office's mailbox, To the citizen's address (validated: one plain address).
- Subject: the event's, with one "Re: " when the mail answers one (never "Re: Re:"), or the
  mailbox's default subject when the event has none.
- Message-ID derived from our `message_id` and the office's domain, so a retried send is
  the same mail (and the citizen's client shows it once); `ComposedMail.message_id` is the
  `provider_message_id` of the delivery statuses.
- In-Reply-To: the citizen's message we answer. References: the parent's References plus
  the parent's Message-ID (RFC 5322 3.6.4), capped (`threads.references_for_reply`); when
  the shell does not know the parent's References, the thread's root stands in for them.
- Auto-Submitted (RFC 3834) on the bot's and the system's mail, so that the citizen's
  auto-responder does not answer a machine and start a loop.
- A UTF-8 text body in quoted-printable, and the attachments' content.
A subject that is not plain ASCII is written as RFC 2047 encoded words cut by us, every
character (spaces too) inside a word: Python's header folder, when it cuts a long subject
into encoded words at a space, makes that space the fold between them, and a reader drops
whitespace between encoded words (RFC 2047 section 6.2), so the citizen saw "word¡" for
"word ¡" (found by tests/unit/connectors/email/test_properties.py).
Header injection is impossible by construction: every text that reaches a header has its
line breaks and other control characters folded to spaces first, and addresses are
validated, not cleaned.

Pure: no I/O, no clock (the Date is an argument); must not depend on Kafka or Postgres.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime

from connectors.email import threads
from schemas.envelope import derive_event_id
from schemas.events import Attachment, MessageSent
from schemas.personal import Erased
from streams.shared.errors import BadInput

_REPLY_PREFIX = re.compile(r"^\s*(?:re|res|aw|sv|antw|rif)\s*(?:\[\d+\]|\(\d+\))?\s*:", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
MAX_SUBJECT = 250
_WORD_BYTES = 39  # UTF-8 bytes an encoded word carries: 52 base64 digits, a 64-character word


class Undeliverable(BadInput):
    """A MessageSent that cannot become an email: the reason says which field is wrong."""


@dataclass(frozen=True)
class OfficeMailbox:
    """The office's mailbox a reply is sent from."""

    address: str
    display_name: str | None = None
    default_subject: str = "Atendimento"

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()


@dataclass(frozen=True)
class ComposedMail:
    """The mail to hand to SMTP: envelope sender and recipient, and the bytes (CRLF)."""

    message_id: str
    envelope_from: str
    recipient: str
    raw: bytes


def outbound_message_id(message_id: str, domain: str) -> str:
    """The Message-ID (without brackets) of our outbound message `message_id`."""
    return f"{derive_event_id('email', 'outbound', message_id)}@{domain.lower()}"


def one_line(text: str) -> str:
    """`text` safe for a header: control characters (CR, LF, NUL, ...) and runs of
    whitespace folded to one space, ends trimmed."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def reply_subject(subject: str | None, *, is_reply: bool, default: str) -> str:
    """The subject to send: `default` when there is none; "Re: " added once to a reply."""
    text = one_line(subject or "") or one_line(default)
    if is_reply and not _REPLY_PREFIX.match(text):
        text = f"Re: {text}"
    return text[:MAX_SUBJECT]


class EncodedHeader(str):
    """A header value (its text, as read back) that folds as the encoded words it was given:
    `email.policy` takes a value with a `name` for a header object and uses its `fold`."""

    name: str
    _words: tuple[str, ...]

    def __new__(cls, name: str, text: str) -> EncodedHeader:
        value = super().__new__(cls, text)
        value.name = name
        value._words = tuple(encoded_words(text))
        return value

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: " + f"{policy.linesep} ".join(self._words) + policy.linesep


def encoded_words(text: str) -> list[str]:
    """`text` as RFC 2047 "B" encoded words in UTF-8, each at most `_WORD_BYTES` bytes of
    text, cut between characters (never inside one)."""
    words, chunk = [], b""
    for ch in text:
        raw = ch.encode("utf-8")
        if chunk and len(chunk) + len(raw) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += raw
    if chunk or not words:
        words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words]


def subject_header(text: str) -> str:
    """The Subject's value: as it is when plain ASCII, else `EncodedHeader` (see above)."""
    return text if text.isascii() else EncodedHeader("Subject", text)


def compose_message(
    sent: MessageSent,
    *,
    mailbox: OfficeMailbox,
    date: datetime,
    files: Mapping[str, bytes] | None = None,
    parent_references: Sequence[str] = (),
) -> ComposedMail:
    """The mail for `sent`, dated `date` (pass `sent.sent_at` and a retry is byte for byte
    the same mail). `files` maps each attachment's `attachment_id` to its content, read
    from the media store; `parent_references` are the References of the citizen's mail
    being answered, when the shell has them."""
    if sent.channel != "email":
        raise Undeliverable(f"MessageSent {sent.message_id} is for {sent.channel}, not email")
    if sent.template_name:
        raise Undeliverable(f"MessageSent {sent.message_id}: email has no templates")
    if date.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    account = sent.channel_account_id
    if account and account.strip().lower() != mailbox.address.strip().lower():
        raise Undeliverable(f"MessageSent {sent.message_id} is for another mailbox")
    recipient = _recipient(sent)
    text = _text(sent)
    if text is None and not sent.attachments:
        raise Undeliverable(f"MessageSent {sent.message_id} has neither text nor attachments")
    message_id = outbound_message_id(sent.message_id, mailbox.domain)
    parent = sent.reply_to_provider_message_id
    references = threads.references_for_reply(parent_references, parent, thread_root=sent.thread_id)
    subject = sent.email_subject if isinstance(sent.email_subject, str) else None

    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(
        display_name=one_line(mailbox.display_name or ""), addr_spec=_checked(mailbox.address)
    )
    msg["To"] = Address(addr_spec=recipient)
    msg["Subject"] = subject_header(
        reply_subject(subject, is_reply=bool(parent or references), default=mailbox.default_subject)
    )
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = threads.bracket(message_id)
    normalized_parent = threads.normalize_message_id(parent) if parent else None
    if normalized_parent:
        msg["In-Reply-To"] = threads.bracket(normalized_parent)
    if references:
        msg["References"] = " ".join(threads.bracket(i) for i in references)
    if sent.sender_kind in ("bot", "system"):
        msg["Auto-Submitted"] = "auto-replied" if normalized_parent else "auto-generated"
    msg.set_content(text or "", subtype="plain", charset="utf-8", cte="quoted-printable")
    for attachment in sent.attachments:
        _attach(msg, attachment, (files or {}).get(attachment.attachment_id), sent.message_id)
    if msg.is_multipart():
        # The stdlib draws a random boundary; ours derives from the message, so a retry is
        # the same bytes. "=_" cannot occur in quoted-printable or base64 content.
        msg.set_boundary(f"=_{hashlib.sha256(message_id.encode()).hexdigest()[:32]}")
    return ComposedMail(
        message_id=message_id,
        envelope_from=mailbox.address,
        recipient=recipient,
        raw=msg.as_bytes(),
    )


def _recipient(sent: MessageSent) -> str:
    address = sent.contact_address
    if isinstance(address, Erased) or not address:
        raise Undeliverable(f"MessageSent {sent.message_id}: the contact's address is erased")
    return _checked(address)


def _checked(address: str) -> str:
    """A plain ASCII addr-spec (no display name, no second address, no line break)."""
    address = address.strip()
    if not _ADDRESS.match(address) or ".." in address or address.endswith("."):
        raise Undeliverable("the email address is not a single plain address")
    return address


def _text(sent: MessageSent) -> str | None:
    if isinstance(sent.text, Erased):
        raise Undeliverable(f"MessageSent {sent.message_id}: the text is erased")
    if not sent.text:
        return None
    # Lone surrogates cannot be sent in UTF-8; a replacement character shows where they were.
    return sent.text.encode("utf-8", "replace").decode("utf-8")


def _attach(msg: EmailMessage, attachment: Attachment, content: bytes | None, sent_id: str) -> None:
    if content is None:
        raise Undeliverable(f"MessageSent {sent_id}: no content for {attachment.attachment_id}")
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise Undeliverable(
            f"MessageSent {sent_id}: content of {attachment.attachment_id} fails its checksum"
        )
    media_type = attachment.media_type.strip().lower()
    if not _MEDIA_TYPE.match(media_type) or media_type.startswith(("multipart/", "message/")):
        media_type = "application/octet-stream"
    maintype, _, subtype = media_type.partition("/")
    name = attachment.file_name if isinstance(attachment.file_name, str) else None
    name = one_line(name.replace("\\", "/").rsplit("/", 1)[-1]) if name else None
    msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name or None)
