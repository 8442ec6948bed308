"""From the web chat to events and back: a visitor's validated message becomes a
MessageReceived; an office message (MessageSent on the web chat) becomes what the widget
shows.

Ids, so a resent frame is recorded once:
- event_id = derive_event_id("web_chat", site_id, session_id, client_message_id): the widget
  resends a message with the same client id until acked, and the session is the token's;
- provider_message_id = "<session_id>/<client_message_id>": the client id alone is unique
  only within its session, and streams.cases drops a contact's message whose provider id it
  has seen, so the next session's "c-1" must not look like this one's;
- thread_id = the session id, channel_account_id = the site id;
- the contact is ContactIds.contact("web_chat", visitor_id): the visitor id, not the token,
  is the contact's address, so the contact outlives each session's token.

Kind: `text`, or `document` for a message with files (with or without text), whatever the
files are (photos of an RG or a PDF alike: each Attachment says its media type). The
schema's MessageReceived.kind says "web chat sends text and document": one kind per message,
not per file, and a photo of a document is a document to the office.

Pure: the receipt time is an argument. Must not depend on aiohttp, Kafka or Postgres.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from connectors.common.identity import ContactIds
from connectors.webchat.protocol import ClientMessage, Sender, ServerMessage
from connectors.webchat.resume import SessionWindow
from connectors.webchat.tokens import VisitorClaims
from schemas.envelope import derive_event_id
from schemas.events import MessageReceived, MessageSent
from schemas.personal import Erased

CHANNEL: Final = "web_chat"


def message_event_id(site_id: str, session_id: str, client_message_id: str) -> str:
    """The event id of a visitor's message, the same for every resend of it."""
    return derive_event_id(CHANNEL, site_id, session_id, client_message_id)


def message_received(
    message: ClientMessage,
    visitor: VisitorClaims,
    *,
    contact_ids: ContactIds,
    received_at: datetime,
    case_id: str | None = None,
) -> MessageReceived:
    """The MessageReceived for a visitor's message, parsed from a frame of the session the
    verified token `visitor` names. `received_at` is the web chat server's clock (aware);
    `case_id` when the session was opened for a known case."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    contact = contact_ids.contact(CHANNEL, visitor.visitor_id)
    event_id = message_event_id(visitor.site_id, visitor.session_id, message.client_message_id)
    return MessageReceived(
        event_id=event_id,
        occurred_at=received_at,
        correlation_id=event_id,  # the connector cannot know the flow's first message
        subject_id=contact.subject_id,
        channel=CHANNEL,
        contact_id=contact.contact_id,
        contact_address=visitor.visitor_id,
        channel_account_id=visitor.site_id,
        provider_message_id=f"{visitor.session_id}/{message.client_message_id}",
        case_id=case_id,
        kind="document" if message.attachments else "text",
        text=message.text,
        attachments=message.attachments,
        thread_id=visitor.session_id,
        received_at=received_at,
    )


def sender_of(sent: MessageSent) -> Sender:
    """Who the widget says wrote an office message."""
    if sent.sender_kind == "agent":
        return "agent"
    if sent.sender_kind == "bot":
        return "bot"
    return "system"


def text_for_visitor(sent: MessageSent) -> str | None:
    """The text the widget shows for an office message ("" for files alone), or None when
    the web chat cannot deliver it: another channel, nothing to show (a template), or text
    or a file's name erased."""
    if sent.channel != CHANNEL or isinstance(sent.text, Erased):
        return None
    if any(isinstance(a.file_name, Erased) for a in sent.attachments):
        return None
    text = sent.text or ""
    if not text and not sent.attachments:
        return None
    return text


def record_received(
    window: SessionWindow, event: MessageReceived
) -> tuple[SessionWindow, ServerMessage] | None:
    """`window` with a visitor's message (as `message_received` made it) numbered in, and
    the message; None for an event this connector did not make or whose text is erased."""
    session, _, client_message_id = event.provider_message_id.partition("/")
    if (
        event.channel != CHANNEL
        or not client_message_id
        or session != event.thread_id
        or isinstance(event.text, Erased)
        or (event.text is None and not event.attachments)
    ):
        return None
    return window.record(
        message_id=event.event_id,
        sender="visitor",
        text=event.text or "",
        sent_at=event.received_at,
        client_message_id=client_message_id,
        attachments=event.attachments,
    )


def record_sent(
    window: SessionWindow, sent: MessageSent
) -> tuple[SessionWindow, ServerMessage] | None:
    """`window` with an office message numbered in, and the message; None when the widget
    cannot show it (`text_for_visitor`). The session is `sent.thread_id`."""
    text = text_for_visitor(sent)
    if text is None:
        return None
    return window.record(
        message_id=sent.message_id,
        sender=sender_of(sent),
        text=text,
        sent_at=sent.sent_at,
        attachments=sent.attachments,
    )
