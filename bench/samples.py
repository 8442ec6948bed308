"""Realistic sample events for the benchmarks (plain records, as the codec takes them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.envelope import derive_event_id

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TEXT = (
    "Boa tarde. Meu ex-companheiro não paga a pensão dos nossos dois filhos há quatro meses "
    "e agora ameaça tirar as crianças de mim. Tenho o RG, o CPF e a certidão de nascimento "
    "deles. O que eu faço?"
)


def message_received(i: int) -> dict[str, Any]:
    wamid = f"wamid.HBgNNTUxMTk{i:012d}FQIAEhgUM0E"
    event_id = derive_event_id("whatsapp", wamid)
    return {
        "event_id": event_id,
        "occurred_at": T0 + timedelta(seconds=i),
        "correlation_id": event_id,
        "causation_id": None,
        "subject_id": f"citizen-{i % 5000}",
        "channel": "whatsapp",
        "contact_id": f"contact-{i % 5000}",
        "contact_address": "+5511998765432",
        "channel_account_id": "106540352242922",
        "provider_message_id": wamid,
        "case_id": None,
        "kind": "image",
        "sender_name": "Maria da Silva",
        "email_subject": None,
        "text": TEXT,
        "attachments": [
            {
                "attachment_id": derive_event_id(event_id, "attachment", "0"),
                "provider_media_id": "1037543291543636",
                "media_type": "image/jpeg",
                "size_bytes": 184_233,
                "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "storage_ref": "media/9f86d081884c7d659a2feaa0c55ad015",
                "file_name": "certidao_nascimento.jpg",
                "caption": "certidão do meu filho",
            }
        ],
        "reply_to_provider_message_id": None,
        "thread_id": None,
        "location": None,
        "shared_contacts": [],
        "interactive_reply_id": None,
        "reaction_emoji": None,
        "received_at": T0 + timedelta(seconds=i),
        "provider_timestamp": str(1_795_000_000 + i),
    }


def routing_decided(i: int) -> dict[str, Any]:
    return {
        "event_id": derive_event_id(f"case-{i}", "streams.routing", "0"),
        "occurred_at": T0 + timedelta(seconds=i),
        "correlation_id": f"corr-{i}",
        "causation_id": f"cause-{i}",
        "case_id": f"case-{i}",
        "queue_id": "familia-capital",
        "priority": "normal",
        "rule": "load_balancing",
        "rule_version": "2026-11-01",
        "escalation_step": 0,
        "waited_ms": 4_210,
        "candidates": [
            {
                "agent_id": f"agent-{k}",
                "eligible": k % 3 != 0,
                "open_cases": k % 5,
                "capacity": 5,
                "presence": "available" if k % 4 else "away",
                "last_assigned_at": T0 - timedelta(minutes=k),
                "reason_excluded": None if k % 3 else "at_capacity",
            }
            for k in range(6)
        ],
        "chosen_agent_id": "agent-1",
        "reason": "fewest_open_cases",
        "contact_id": f"contact-{i}",
    }
