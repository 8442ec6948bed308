"""Events as the exporter sees them: decoded from their bytes, personal fields still sealed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from bench.samples import message_received
from schemas.codec import Codec, SchemaSet
from schemas.personal import InMemoryKeyRing

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TEXT = "Meu ex-marido me ameaçou ontem à noite, tenho medo de voltar para casa"
PHONE = "+5511987650001"
NAME = "Joana Pereira"
CONTACT = "contact-wa-5511987650001"
CITIZEN = "citizen-joana"
WAMID = "wamid.HBgNNTUxMTk4NzY1MDAwMRUCABIYFjNFQjA"


@cache
def codec() -> Codec:
    return Codec(SchemaSet.from_dirs())


def sealed(name: str, record: dict[str, Any], keys: InMemoryKeyRing) -> dict[str, Any]:
    """`record` through the log: encoded (sealed with `keys`) and decoded without a key."""
    return codec().decode(codec().encode(name, record, keys)).record


def joana_message(**changes: Any) -> dict[str, Any]:
    """A WhatsApp message from Joana, with every kind of personal field set."""
    record = message_received(7)
    record.update(
        subject_id=CITIZEN,
        contact_id=CONTACT,
        contact_address=PHONE,
        sender_name=NAME,
        provider_message_id=WAMID,
        text=TEXT,
        thread_id=WAMID,
        location={
            "latitude": "-23.5505",
            "longitude": "-46.6333",
            "name": "Casa da Joana",
            "address": "Rua das Flores 12",
        },
        shared_contacts=[{"card": '{"name": "Irmã da Joana"}'}],
    )
    record.update(changes)
    return record


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def envelope(event_id: str, minutes: float) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": at(minutes),
        "correlation_id": event_id,
        "causation_id": None,
    }
