"""Visitor messages -> MessageReceived, office messages -> the widget: given a verified
visitor and a parsed frame, when the connector records it, then the event the contract asks
for, with an id that a resent frame repeats."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connectors.common.identity import ContactIds
from connectors.webchat.mapping import (
    message_event_id,
    message_received,
    record_received,
    record_sent,
    text_for_visitor,
)
from connectors.webchat.protocol import ClientMessage
from connectors.webchat.resume import SessionWindow
from connectors.webchat.tokens import VisitorClaims
from schemas.envelope import derive_event_id
from schemas.events import Attachment, MessageReceived, MessageSent
from schemas.personal import ERASED

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CONTACTS = ContactIds(b"k" * 32)
VISITOR = VisitorClaims(
    visitor_id="v-8f3a",
    site_id="www.defensoria",
    session_id="s-1",
    issued_at=T0,
    expires_at=T0 + timedelta(hours=1),
)
HELLO = ClientMessage(client_message_id="c-1", text="oi, preciso de ajuda")


def received_at(
    visitor: VisitorClaims = VISITOR, message: ClientMessage = HELLO, at: datetime = T0
) -> MessageReceived:
    return message_received(message, visitor, contact_ids=CONTACTS, received_at=at)


def test_a_visitor_message_becomes_the_message_received_the_contract_describes() -> None:
    event = received_at()
    contact = CONTACTS.contact("web_chat", "v-8f3a")

    assert event.event_id == derive_event_id("web_chat", "www.defensoria", "s-1", "c-1")
    assert event.correlation_id == event.event_id
    assert event.causation_id is None
    assert (event.channel, event.kind) == ("web_chat", "text")
    assert (event.contact_id, event.subject_id) == (contact.contact_id, contact.subject_id)
    assert event.contact_address == "v-8f3a"
    assert event.channel_account_id == "www.defensoria"
    assert event.provider_message_id == "s-1/c-1"
    assert event.thread_id == "s-1"
    assert event.text == "oi, preciso de ajuda"
    assert event.occurred_at == event.received_at == T0
    assert event.case_id is None
    assert event.attachments == ()


def test_a_resent_frame_is_the_same_event_whenever_it_arrives() -> None:
    first = received_at()
    resent = received_at(at=T0 + timedelta(seconds=40))

    assert resent.event_id == first.event_id
    assert resent.provider_message_id == first.provider_message_id


def test_the_same_client_id_in_another_session_or_site_is_another_message() -> None:
    next_session = VisitorClaims("v-8f3a", "www.defensoria", "s-2", T0, T0 + timedelta(hours=1))
    other_site = VisitorClaims("v-8f3a", "outro-site", "s-1", T0, T0 + timedelta(hours=1))

    ids = {received_at(v).event_id for v in (VISITOR, next_session, other_site)}
    provider_ids = {received_at(v).provider_message_id for v in (VISITOR, next_session)}

    assert len(ids) == 3
    assert len(provider_ids) == 2  # streams.cases would drop a repeated one as a redelivery


def test_the_contact_outlives_the_session() -> None:
    next_session = VisitorClaims("v-8f3a", "www.defensoria", "s-2", T0, T0 + timedelta(hours=1))

    assert received_at(next_session).contact_id == received_at().contact_id


def test_a_naive_receipt_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        received_at(at=datetime(2026, 3, 2, 8, 0))


def test_a_recorded_visitor_message_is_acked_with_its_event_id_and_number() -> None:
    window, message = record_received(SessionWindow(capacity=5), received_at()) or (None, None)

    assert window is not None
    assert message is not None
    assert (message.seq, message.message_id, message.client_message_id) == (
        1,
        message_event_id("www.defensoria", "s-1", "c-1"),
        "c-1",
    )
    assert message.sender == "visitor"


def sent(**overrides: object) -> MessageSent:
    fields: dict[str, object] = {
        "event_id": "e-1",
        "occurred_at": T0,
        "correlation_id": "e-0",
        "subject_id": "citizen-1",
        "channel": "web_chat",
        "contact_id": "web_chat-1",
        "contact_address": "v-8f3a",
        "case_id": "case-1",
        "message_id": "m-1",
        "sender_kind": "agent",
        "agent_id": "a-1",
        "text": "Olá, sou a defensora Ana.",
        "thread_id": "s-1",
        "sent_at": T0 + timedelta(minutes=3),
    }
    fields.update(overrides)
    return MessageSent(**fields)  # type: ignore[arg-type]


def test_an_agent_reply_is_numbered_after_the_visitor_message() -> None:
    after_hello = record_received(SessionWindow(capacity=5), received_at())
    assert after_hello is not None

    recorded = record_sent(after_hello[0], sent())

    assert recorded is not None
    _, reply = recorded
    assert (reply.seq, reply.message_id, reply.sender, reply.text) == (
        2,
        "m-1",
        "agent",
        "Olá, sou a defensora Ana.",
    )
    assert reply.sent_at == T0 + timedelta(minutes=3)
    assert reply.client_message_id is None


@pytest.mark.parametrize(
    ("kind", "sender"),
    [("agent", "agent"), ("bot", "bot"), ("system", "system"), ("unknown", "system")],
)
def test_the_widget_names_who_wrote(kind: str, sender: str) -> None:
    recorded = record_sent(SessionWindow(capacity=5), sent(sender_kind=kind))

    assert recorded is not None
    assert recorded[1].sender == sender


@pytest.mark.parametrize(
    "overrides",
    [{"channel": "whatsapp"}, {"text": None}, {"text": ERASED}, {"text": ""}],
    ids=["other channel", "no text", "erased", "empty"],
)
def test_a_message_the_widget_cannot_show_is_not_recorded(overrides: dict[str, object]) -> None:
    message = sent(**overrides)

    assert text_for_visitor(message) is None
    assert record_sent(SessionWindow(capacity=5), message) is None


def test_a_received_message_from_another_connector_is_not_recorded() -> None:
    other = replace(received_at(), channel="whatsapp", provider_message_id="wamid.1")

    assert record_received(SessionWindow(capacity=5), other) is None


FILE = Attachment(
    attachment_id="0b5c4a1e-8d0f-5a3b-9c2d-1e2f3a4b5c6d",
    media_type="image/jpeg",
    size_bytes=2048,
    sha256="ab" * 32,
    storage_ref="media/" + "cd" * 32,
    file_name="rg.jpg",
)


def test_a_visitor_message_with_files_is_a_document_with_its_attachments() -> None:
    alone = received_at(message=ClientMessage("c-2", None, (FILE,)))
    with_text = received_at(message=ClientMessage("c-3", "meu RG", (FILE,)))

    assert (alone.kind, alone.text, alone.attachments) == ("document", None, (FILE,))
    assert (with_text.kind, with_text.text) == ("document", "meu RG")
    recorded = record_received(SessionWindow(capacity=5), alone)
    assert recorded is not None
    assert (recorded[1].text, recorded[1].attachments) == ("", (FILE,))


def test_an_agents_files_alone_are_shown_to_the_visitor() -> None:
    files_only = sent(text=None, attachments=(FILE,))

    recorded = record_sent(SessionWindow(capacity=5), files_only)

    assert text_for_visitor(files_only) == ""
    assert recorded is not None
    assert (recorded[1].text, recorded[1].attachments) == ("", (FILE,))


def test_an_agents_file_whose_name_was_erased_is_not_shown() -> None:
    assert text_for_visitor(sent(attachments=(replace(FILE, file_name=ERASED),))) is None
