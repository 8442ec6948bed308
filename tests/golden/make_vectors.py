"""Write tests/golden/vectors.json: events as acolhe's codec encodes them, to be kept forever.

Run once, then commit the file: `python -m tests.golden.make_vectors`. Sealing draws a random
nonce, so every run gives new bytes; the tests only read the committed file, and an old file
must keep passing however the schemas and the codec evolve (that is what it is for).

Steps, in order: encode each sample with `Codec.encode` and a key ring of fixed test keys;
check that the codec decodes it back to the sample; check that the frame carries the writer
schema's CRC-64-AVRO fingerprint as the Avro specification defines it, computed by the Apache
`avro` package (never pin a frame another Avro library cannot read); write the file.

The file also needs the helpers here to be read: the JSON form of records (`to_json`,
`from_json`), the fixed key ring (`GoldenKeyRing`) and `load_vectors`.
Depends on the codec, the Apache `avro` package and the standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import avro.schema

from schemas.codec import Codec, SchemaSet
from schemas.envelope import derive_event_id
from schemas.personal import DataKey

VECTORS_FILE: Final = Path(__file__).resolve().parent / "vectors.json"
FORMAT: Final = "acolhe-golden-vectors/1"
SINGLE_OBJECT_MARKER: Final = b"\xc3\x01"
# Type markers of the JSON form: Avro values that JSON has no type for.
TIMESTAMP: Final = "$timestamp-micros"
DATE: Final = "$date"
BYTES: Final = "$bytes"
ABOUT: Final = {
    "what": "Events as acolhe's codec wrote them (Avro single-object encoding). Never edit "
    "or regenerate an entry that was committed: old data must stay readable.",
    "encoded": "hex of the whole frame: C3 01, the 8-byte little-endian CRC-64-AVRO "
    "fingerprint of the writer schema's Parsing Canonical Form, the Avro binary body",
    "fingerprint": "that fingerprint as an unsigned 64-bit number, in hex (the frame holds "
    "its bytes in reverse order)",
    "record": "the event as the codec takes it, personal fields in plain text; "
    f'{{"{TIMESTAMP}": ISO 8601 in UTC}} is a timestamp-micros, {{"{DATE}": ISO 8601}} '
    f'a date, {{"{BYTES}": base64}} Avro bytes',
    "keys": "personal fields are sealed with the data key sha256(b'acolhe-golden-' + "
    "UTF-8 subject_id)",
}


class GoldenKeyRing:
    """A key ring of fixed test keys, so anyone can open the vectors' personal fields."""

    def encryption_key(self, subject_id: str) -> DataKey:
        return DataKey(subject_id, golden_key(subject_id))

    def decryption_key(self, subject_id: str) -> DataKey | None:
        return DataKey(subject_id, golden_key(subject_id))


def golden_key(subject_id: str) -> bytes:
    return hashlib.sha256(b"acolhe-golden-" + subject_id.encode()).digest()


@dataclass(frozen=True)
class Vector:
    event: str
    version: int
    fingerprint: int
    record: dict[str, Any]
    encoded: bytes

    @property
    def id(self) -> str:
        return f"{self.event}-v{self.version}"

    @property
    def frame_fingerprint(self) -> bytes:
        """The fingerprint as the frame carries it: 8 bytes, little-endian."""
        return self.fingerprint.to_bytes(8, "little")


def to_json(value: Any) -> Any:
    """The JSON form of a record as the codec takes it (see ABOUT)."""
    if isinstance(value, datetime):  # before date: a datetime is a date
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: events carry UTC instants")
        return {TIMESTAMP: value.astimezone(UTC).isoformat(timespec="microseconds")}
    if isinstance(value, date):
        return {DATE: value.isoformat()}
    if isinstance(value, bytes):
        return {BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise TypeError(f"no JSON form for {type(value).__name__}")


def from_json(value: Any) -> Any:
    """The record back from its JSON form; Avro field names never start with `$`."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((marker, text),) = value.items()
            if marker == TIMESTAMP:
                moment = datetime.fromisoformat(text)
                if moment.utcoffset() is None:
                    raise ValueError(f"timestamp without offset: {text!r}")
                return moment.astimezone(UTC)
            if marker == DATE:
                return date.fromisoformat(text)
            if marker == BYTES:
                return base64.b64decode(text, validate=True)
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def load_vectors(path: Path = VECTORS_FILE) -> list[Vector]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise ValueError(f"{path} is not in format {FORMAT}")
    return [
        Vector(
            event=v["event"],
            version=int(v["version"]),
            fingerprint=int(v["fingerprint"], 16),
            record=from_json(v["record"]),
            encoded=bytes.fromhex(v["encoded"]),
        )
        for v in document["vectors"]
    ]


def spec_fingerprint(schema_json: str) -> bytes:
    """CRC-64-AVRO of a schema's Parsing Canonical Form, by the avro package, little-endian.

    avro 1.12 keeps a primitive with a logical type as {"type":"long"} in its canonical form,
    where the specification ([STRIP], then [PRIMITIVES]) and the Java implementation write
    "long", so its fingerprint of any schema with a logical type is not the specification's.
    Its canonical form carries no logical type, so parsing it again gives the spec's form.
    """
    canonical = avro.schema.parse(schema_json).canonical_form
    return avro.schema.parse(canonical).fingerprint("CRC-64-AVRO")


# -- the samples: every kind of Avro value the catalog uses, personal fields at every depth ----

T0 = datetime(2026, 11, 30, 13, 5, 7, 123456, tzinfo=UTC)
WAMID = "wamid.HBgNNTUxMTk5ODc2NTQzMhUCABIYFjNFQjBDNzE5RjM1QkY5RjA0RDJDAA=="
MESSAGE_ID = derive_event_id("whatsapp", WAMID)
CASE_ID = derive_event_id("case", MESSAGE_ID)
PDF_SHA = "5d41402abc4b2a76b9719d911017c592aa5d41402abc4b2a76b9719d911017c5"
JPEG_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PAYLOAD = b'{"entry":[{"changes":[\xff\xfe\x00]}'
ENVELOPE = {"correlation_id": MESSAGE_ID, "causation_id": None}


def _attachment(n: int, sha: str, file_name: str | None, caption: str | None) -> dict[str, Any]:
    return {
        "attachment_id": derive_event_id(MESSAGE_ID, "attachment", str(n)),
        "provider_media_id": None if file_name is None else f"10375432915436{n}",
        "media_type": "application/pdf" if file_name else "image/jpeg",
        "size_bytes": 1_048_576 + n,
        "sha256": sha,
        "storage_ref": f"media/{sha[:32]}",
        "file_name": file_name,
        "caption": caption,
    }


# fmt: off
SAMPLES: Final[list[tuple[str, dict[str, Any]]]] = [
    ("MessageReceived", {
        "event_id": MESSAGE_ID, "occurred_at": T0, "correlation_id": MESSAGE_ID,
        "causation_id": None, "subject_id": "citizen-4711", "channel": "whatsapp",
        "contact_id": "contact-0815", "contact_address": "+5511998765432",
        "channel_account_id": "106540352242922", "provider_message_id": WAMID,
        "case_id": None, "kind": "image", "sender_name": "Maria José da Conceição",
        "email_subject": None,
        "text": "Boa tarde. Ele não paga a pensão há quatro meses e ameaça tirar as crianças.",
        "attachments": [
            _attachment(0, PDF_SHA, "certidão_nascimento.pdf", None),
            _attachment(1, JPEG_SHA, None, "boletim de ocorrência 🙏"),
        ],
        "reply_to_provider_message_id": "wamid.HBgNNTUxMTk5ODc2NTQzMhUCABEYEjA=",
        "thread_id": None,
        "location": {
            "latitude": "-23.5505199", "longitude": "-46.6333094",
            "name": None, "address": "Praça da Sé, 1 - Sé, São Paulo - SP, 01001-000",
        },
        "shared_contacts": [
            {"card": '{"name":{"formatted_name":"Dra. Ana Lúcia"},'
                     '"phones":[{"phone":"+55 11 3101-0000"}]}'},
            {"card": ""},
        ],
        "interactive_reply_id": None, "reaction_emoji": "🙏🏽",
        "received_at": datetime(2026, 11, 30, 13, 5, 6, tzinfo=UTC),
        "provider_timestamp": "1796043906",
    }),
    ("MessageSent", {
        "event_id": derive_event_id("connectors.gateway", "reply-99"), "occurred_at": T0,
        **ENVELOPE, "subject_id": "citizen-4711", "channel": "email",
        "contact_id": "contact-0816", "contact_address": "maria.conceicao@example.com.br",
        "channel_account_id": "atendimento@defensoria.example.gov.br", "case_id": CASE_ID,
        "message_id": derive_event_id("reply-99"), "sender_kind": "agent", "agent_id": "agent-7",
        "email_subject": "Re: Pensão alimentícia — documentos",
        "text": "Olá, Maria. Recebemos a certidão; traga o RG e o CPF na quinta-feira.",
        "attachments": [_attachment(2, PDF_SHA, "orientações.pdf", None)],
        "template_name": "lembrete_documentos", "template_language": "pt_BR",
        "template_parameters": '["Maria","quinta-feira"]',
        "reply_to_provider_message_id": "CAF=abc@mail.example.com.br",
        "thread_id": "CAF=abc@mail.example.com.br", "sent_at": T0,
    }),
    ("DeliveryStatusChanged", {
        "event_id": derive_event_id("whatsapp", "status", WAMID, "failed"), "occurred_at": T0,
        **ENVELOPE, "channel": "whatsapp", "contact_id": "contact-0815", "case_id": CASE_ID,
        "message_id": derive_event_id("reply-98"), "provider_message_id": WAMID,
        "status": "failed", "status_at": datetime(2026, 11, 30, 13, 5, 8, 1, tzinfo=UTC),
        "errors": [
            {"code": "131047", "title": "Re-engagement message", "detail": "More than 24 hours"},
            {"code": "131026", "title": "Message undeliverable", "detail": None},
        ],
        "provider_timestamp": "1796043908",
    }),
    ("CaseTriaged", {
        "event_id": derive_event_id(CASE_ID, "streams.triage"), "occurred_at": T0, **ENVELOPE,
        "subject_id": "citizen-4711", "case_id": CASE_ID, "area": "violencia_domestica",
        "priority": "urgent", "urgency_flags": ["violence_or_threat", "health_risk"],
        "region": "SP-capital", "eligible": True,
        "documents_present": ["rg", "birth_certificate"],
        "answers": [
            {"question_id": "q-renda", "answer": "Até 2 salários mínimos", "choice_id": "c-2"},
            {"question_id": "q-relato", "answer": "Ele disse que vai voltar.", "choice_id": None},
        ],
        "rules_version": "2026-11-01", "rules_fired": ["threat_keywords", "children_involved"],
        "triaged_by_agent_id": None,
    }),
    ("RoutingDecided", {
        "event_id": derive_event_id(CASE_ID, "streams.routing", "1"), "occurred_at": T0,
        **ENVELOPE, "case_id": CASE_ID, "queue_id": "familia-capital", "priority": "urgent",
        "rule": "escalation", "rule_version": "2026-11-01", "escalation_step": 1,
        "waited_ms": 901_234,
        "candidates": [
            {"agent_id": "agent-7", "eligible": True, "open_cases": 2, "capacity": 5,
             "presence": "available", "last_assigned_at": T0, "reason_excluded": None},
            {"agent_id": "agent-9", "eligible": False, "open_cases": 5, "capacity": 5,
             "presence": "away", "last_assigned_at": None, "reason_excluded": "at_capacity"},
        ],
        "chosen_agent_id": "agent-7", "reason": "fewest_open_cases",
    }),
    ("SlaBreached", {
        "event_id": derive_event_id(CASE_ID, "streams.sla", "breach"), "occurred_at": T0,
        **ENVELOPE, "case_id": CASE_ID, "clock_id": f"{CASE_ID}/first_response",
        "queue_id": "familia-capital", "metric": "first_response", "priority": "urgent",
        "policy_id": "policy-urgent", "policy_version": 3, "calendar_id": "sp-capital",
        "target_ms": 3_600_000, "elapsed_ms": 3_600_001,
        "deadline_at": datetime(2026, 11, 30, 13, 5, 7, 123455, tzinfo=UTC),
    }),
    ("CalendarChanged", {
        "event_id": derive_event_id("calendar", "sp-capital", "4"), "occurred_at": T0,
        "correlation_id": "calendar-sp-capital", "causation_id": None,
        "calendar_id": "sp-capital", "version": 4, "time_zone": "America/Sao_Paulo",
        "weekly_hours": [
            {"weekday": d, "opens": "08:00", "closes": "17:00"} for d in range(1, 6)
        ],
        "breaks": [{"weekday": 3, "starts": "12:00", "ends": "13:00"}],
        "holidays": [
            {"date": date(2027, 1, 25), "name": "Aniversário de São Paulo", "scope": "city"},
            {"date": date(2027, 4, 21), "name": "Tiradentes", "scope": "national"},
            {"date": date(1969, 12, 31), "name": "before the epoch", "scope": "office"},
        ],
        "effective_from": datetime(2027, 1, 1, 3, 0, tzinfo=UTC),
        "changed_by_agent_id": "agent-admin-1",
    }),
    ("InputDeadLettered", {
        "event_id": derive_event_id("acolhe.inbound.whatsapp", "2", "77", "connectors.whatsapp"),
        "occurred_at": T0, "correlation_id": "dlq-77", "causation_id": None, "source": "kafka",
        "source_topic": "acolhe.inbound.whatsapp", "source_partition": 2,
        "source_offset": 9_007_199_254_740_993, "source_key": b"\x00\x01contact-0815",
        "source_headers": [
            {"name": "content-type", "value": b"application/json"},
            {"name": "x-hub-signature-256", "value": b""},
        ],
        "content_type": "application/json", "payload": PAYLOAD,
        "payload_sha256": hashlib.sha256(PAYLOAD).hexdigest(), "error_type": "DecodeError",
        "reason": "payload is not valid JSON at byte 24", "processor": "connectors.whatsapp",
        "dead_lettered_at": T0,
    }),
    ("ErasureCompleted", {
        "event_id": derive_event_id("erasure", "citizen-4711"), "occurred_at": T0,
        "correlation_id": "erasure-citizen-4711", "causation_id": "erasure-request-1",
        "citizen_id": "citizen-4711", "keys_destroyed": 3, "projections_redacted": 7,
        "completed_at": T0,
    }),
    ("ClockTicked", {
        "event_id": derive_event_id("timer-0", "1099511627776"), "occurred_at": T0,
        "correlation_id": "timer-0", "causation_id": None, "source": "timer-0",
        "sequence": 1_099_511_627_776, "tick_at": T0, "interval_ms": 1_000,
    }),
    ("AgentPresenceChanged", {
        "event_id": derive_event_id("presence", "agent-7", "3"), "occurred_at": T0,
        "correlation_id": "presence-agent-7", "causation_id": None, "agent_id": "agent-7",
        "presence": "away", "previous_presence": "available",  # a named type, used twice
        "changed_at": datetime(1970, 1, 1, tzinfo=UTC),
    }),
]
# fmt: on


def make_vectors(codec: Codec) -> list[Vector]:
    ring = GoldenKeyRing()
    vectors = []
    for name, record in SAMPLES:
        schema = codec.schemas.current(name)
        data = codec.encode(name, record, ring)
        decoded = codec.decode(data, ring)
        if decoded.record != record:
            raise AssertionError(f"{name} does not decode to its sample")
        expected = spec_fingerprint(json.dumps(schema.raw))
        if data[:2] != SINGLE_OBJECT_MARKER or data[2:10] != expected:
            raise SystemExit(
                f"{name}: the codec frames it as {data[:10].hex()}, the Avro specification "
                f"wants {(SINGLE_OBJECT_MARKER + expected).hex()}; fix the codec's framing "
                "before pinning vectors"
            )
        vectors.append(
            Vector(
                event=name,
                version=schema.version,
                fingerprint=int.from_bytes(data[2:10], "little"),
                record=dict(record),
                encoded=data,
            )
        )
    return vectors


def write_vectors(vectors: list[Vector], path: Path = VECTORS_FILE) -> None:
    document = {
        "format": FORMAT,
        "about": ABOUT,
        "vectors": [
            {
                "event": v.event,
                "version": v.version,
                "fingerprint": f"{v.fingerprint:016x}",
                "record": to_json(v.record),
                "encoded": v.encoded.hex(),
            }
            for v in vectors
        ],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    vectors = make_vectors(Codec(SchemaSet.from_dirs()))
    write_vectors(vectors)
    print(f"wrote {len(vectors)} vectors to {VECTORS_FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
