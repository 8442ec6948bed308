"""The envelope every event carries: a stable id, occurrence time, correlation and causation,
and its CloudEvents (binary mode) headers on Kafka.

Event ids are derived from what caused the event, so a redelivery yields the same id and
is dropped downstream: `derive_event_id("whatsapp", wamid)` for an inbound message,
`derive_event_id(input_event_id, "streams.triage", "0")` for a processor's first output.

Must not depend on fastavro, Kafka or Postgres.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

SPEC_VERSION = "1.0"
_NAMESPACE = uuid.UUID("6c1d6a4e-5f0b-4c39-9a59-6163686f6c68")  # fixed forever: ids depend on it
_SEPARATOR = "\x1f"
_NAMESPACE_BYTES = _NAMESPACE.bytes


def derive_event_id(*parts: str) -> str:
    """A stable UUID (version 5) from the parts that identify what caused the event.

    Equal to `str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))` (RFC 9562, section 5.5),
    computed without building `uuid.UUID` objects: processors derive several ids per event.
    """
    if not parts or not all(parts):
        raise ValueError("derive_event_id needs one or more non-empty parts")
    digest = bytearray(
        hashlib.sha1(
            _NAMESPACE_BYTES + _SEPARATOR.join(parts).encode(), usedforsecurity=False
        ).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def cloudevent_headers(
    *,
    name: str,
    record: Mapping[str, object],
    source: str,
    subject: str | None,
    content_type: str,
) -> list[tuple[str, bytes]]:
    """Kafka headers for CloudEvents binary mode (Kafka protocol binding, spec 1.0)."""
    occurred = record["occurred_at"]
    if not isinstance(occurred, datetime):
        raise ValueError("occurred_at must be a datetime")
    spec, source_header, type_header, content = _fixed_headers(name, source, content_type)
    headers = [
        spec,
        ("ce_id", str(record["event_id"]).encode()),
        source_header,
        type_header,
        ("ce_time", _rfc3339(occurred).encode()),
        content,
    ]
    if subject:
        headers.append(("ce_subject", subject.encode()))
    correlation = record.get("correlation_id")
    if correlation:
        headers.append(("ce_correlationid", str(correlation).encode()))
    causation = record.get("causation_id")
    if causation:
        headers.append(("ce_causationid", str(causation).encode()))
    return headers


@functools.lru_cache(maxsize=1024)
def _fixed_headers(
    name: str, source: str, content_type: str
) -> tuple[tuple[str, bytes], tuple[str, bytes], tuple[str, bytes], tuple[str, bytes]]:
    """The headers that are the same for every event of a type from a source: made once."""
    return (
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_source", source.encode()),
        ("ce_type", f"acolhe.events.{name}".encode()),
        ("content-type", content_type.encode()),
    )


def parse_cloudevent_headers(headers: object) -> dict[str, str]:
    """The ce_* and content-type headers of a Kafka record, decoded; others are ignored."""
    out: dict[str, str] = {}
    if not isinstance(headers, list | tuple):
        return out
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2):
            continue
        key, value = item
        if isinstance(key, str) and (key.startswith("ce_") or key == "content-type"):
            out[key] = bytes(value).decode("utf-8", "replace") if value is not None else ""
    return out


def _rfc3339(moment: datetime) -> str:
    """`moment.isoformat()` in UTC with "Z" for "+00:00", for a header of every event: the
    text up to the second is made once a second (isoformat of an aware datetime costs more
    than the rest of the headers together)."""
    if moment.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    head = _to_the_second(
        (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    )
    micro = moment.microsecond
    return f"{head}.{micro:06d}Z" if micro else f"{head}Z"


@functools.lru_cache(maxsize=64)
def _to_the_second(fields: tuple[int, int, int, int, int, int]) -> str:
    year, month, day, hour, minute, second = fields
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
