"""Shared givens for the WhatsApp connector's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.common.identity import ContactIds
from connectors.whatsapp.mapping import FindMessageId, WebhookMapping, map_webhook
from schemas.events import MessageSent
from tests.standins.graph_api import PHONE_NUMBER_ID

CONTACTS = ContactIds(b"k" * 32)
RECEIVED = datetime(2026, 3, 2, 11, 0, 5, tzinfo=UTC)
CITIZEN = "5511987654321"
WAMID = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDNBMEQ5QjY2MzA5RTY5MTk3NjFCAA=="
SENT_WAMID = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjgxQkVFRDVBQTVDODFDOTg3MQA="
SHA_HEX = "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3"


def when_mapped(payload: Any, find_message_id: FindMessageId | None = None) -> WebhookMapping:
    return map_webhook(
        payload,
        accounts={PHONE_NUMBER_ID},
        contacts=CONTACTS,
        occurred_at=RECEIVED,
        find_message_id=find_message_id,
    )


def outbound(**overrides: Any) -> MessageSent:
    """An agent's free-form reply to the citizen, unless overridden."""
    fields: dict[str, Any] = {
        "event_id": "evt-sent-1",
        "occurred_at": RECEIVED,
        "correlation_id": "flow-1",
        "subject_id": CONTACTS.contact("whatsapp", CITIZEN).subject_id,
        "channel": "whatsapp",
        "contact_id": CONTACTS.contact("whatsapp", CITIZEN).contact_id,
        "contact_address": "+" + CITIZEN,
        "channel_account_id": PHONE_NUMBER_ID,
        "message_id": "msg-1",
        "sender_kind": "agent",
        "agent_id": "agent-7",
        "text": "Bom dia! Recebemos seus documentos.",
        "sent_at": RECEIVED,
    }
    return MessageSent(**(fields | overrides))
