"""Which dead letters an operator asked for, how each reads, and whether it can be replayed.

Pure: plain `InputDeadLettered` records in, lines, JSON-ready dicts and refusals out. No
Kafka, Postgres, clock or printing. Nothing here ever renders a payload, a key or a
header's value (they may hold personal data in clear): sizes and checksums only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from schemas.events import InputDeadLettered

REASON_WIDTH: Final = 120


@dataclass(frozen=True)
class Selection:
    """What to keep: [since, until) on `dead_lettered_at`, and the error types, processors
    and ids given (None: any)."""

    since: datetime | None = None
    until: datetime | None = None
    error_types: frozenset[str] | None = None
    processors: frozenset[str] | None = None
    event_ids: frozenset[str] | None = None

    @property
    def is_narrowed(self) -> bool:
        """Whether anything narrows it down (a replay of every dead letter is refused)."""
        return any(
            v is not None
            for v in (self.since, self.until, self.error_types, self.processors, self.event_ids)
        )


@dataclass(frozen=True)
class Entry:
    """One dead letter, and how many copies of it the topic holds (a redelivered bad input,
    or a processor's crash before its checkpoint, writes the same id again)."""

    record: InputDeadLettered
    copies: int = 1


@dataclass(frozen=True)
class Listing:
    shown: list[Entry]
    matched: int
    by_error_type: dict[str, int] = field(default_factory=dict)


def matches(record: InputDeadLettered, selection: Selection) -> bool:
    s = selection
    at = record.dead_lettered_at
    return (
        (s.since is None or at >= s.since)
        and (s.until is None or at < s.until)
        and (s.error_types is None or record.error_type in s.error_types)
        and (s.processors is None or record.processor in s.processors)
        and (s.event_ids is None or record.event_id in s.event_ids)
    )


def select(
    records: Iterable[InputDeadLettered], selection: Selection, *, limit: int | None = None
) -> Listing:
    """The distinct dead letters that match, oldest first (the first copy of each id); with
    `limit`, the most recent `limit` of them. The counts per error type cover every match."""
    first: dict[str, InputDeadLettered] = {}
    copies: Counter[str] = Counter()
    for record in records:
        if not matches(record, selection):
            continue
        copies[record.event_id] += 1
        first.setdefault(record.event_id, record)
    ordered = sorted(first.values(), key=lambda r: (r.dead_lettered_at, r.event_id))
    counts = Counter(r.error_type for r in ordered)
    kept = ordered if limit is None else ordered[max(0, len(ordered) - limit) :]
    return Listing(
        [Entry(r, copies[r.event_id]) for r in kept],
        len(ordered),
        dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


# -- what an operator reads ------------------------------------------------------------------


def line(entry: Entry) -> str:
    """One dead letter on one line: when, id, processor, error type, where from, payload
    size, the start of the reason."""
    r = entry.record
    copies = f" x{entry.copies}" if entry.copies > 1 else ""
    return (
        f"{_when(r.dead_lettered_at)}  {r.event_id}  {_clean(r.processor)}  "
        f"{_clean(r.error_type)}  {origin(r)}  {len(r.payload)} B{copies}  "
        f"{shorten(r.reason)}"
    )


def summary(listing: Listing) -> list[str]:
    """The lines after the listing: how many, and how many of each error type."""
    if not listing.matched:
        return ["no dead letter matched"]
    shown = len(listing.shown)
    head = (
        f"{listing.matched} dead letters"
        if shown == listing.matched
        else f"{shown} of {listing.matched} dead letters shown (the most recent; --limit)"
    )
    width = max(len(t) for t in listing.by_error_type)
    return [head] + [f"  {_clean(t):{width}}  {n:>6}" for t, n in listing.by_error_type.items()]


def describe(entry: Entry, *, is_replayable: bool, why_not: str | None) -> list[str]:
    """Every field of a dead letter but the payload's, key's and headers' contents."""
    r = entry.record
    headers = ", ".join(f"{_clean(h.name)} ({len(h.value)} B)" for h in r.source_headers)
    lines = [
        f"event id        {r.event_id}",
        f"dead-lettered   {_when(r.dead_lettered_at)}",
        f"occurred        {_when(r.occurred_at)}",
        f"processor       {_clean(r.processor)}",
        f"error type      {_clean(r.error_type)}",
        f"reason          {_clean(r.reason)}",
        f"source          {r.source}",
    ]
    if r.source_topic is not None:
        lines.append(f"source record   {origin(r)}")
    lines += [
        f"key             {'none' if r.source_key is None else f'{len(r.source_key)} B'}",
        f"headers         {headers or 'none'}",
        f"content type    {_clean(r.content_type or 'unknown')}",
        f"payload         {len(r.payload)} B, sha256 {r.payload_sha256}",
        f"correlation id  {r.correlation_id}",
    ]
    if r.causation_id:
        lines.append(f"causation id    {r.causation_id}")
    if entry.copies > 1:
        lines.append(f"copies          {entry.copies} on the topic (the same id)")
    lines.append(f"replayable      {'yes' if is_replayable else f'no: {why_not}'}")
    return lines


def as_json(entry: Entry) -> dict[str, Any]:
    """A dead letter for `--json`: its fields, sizes instead of contents."""
    r = entry.record
    return {
        "event_id": r.event_id,
        "dead_lettered_at": r.dead_lettered_at.isoformat(),
        "processor": r.processor,
        "error_type": r.error_type,
        "reason": r.reason,
        "source": r.source,
        "source_topic": r.source_topic,
        "source_partition": r.source_partition,
        "source_offset": r.source_offset,
        "content_type": r.content_type,
        "payload_bytes": len(r.payload),
        "payload_sha256": r.payload_sha256,
        "key_bytes": None if r.source_key is None else len(r.source_key),
        "headers": [{"name": h.name, "bytes": len(h.value)} for h in r.source_headers],
        "copies": entry.copies,
        "replayable": refusal(r) is None,
    }


def listing_json(listing: Listing) -> dict[str, Any]:
    return {
        "dead_letters": [as_json(e) for e in listing.shown],
        "matched": listing.matched,
        "by_error_type": listing.by_error_type,
    }


def origin(r: InputDeadLettered) -> str:
    """Where the input was read: `topic/partition@offset` for a Kafka record, else the
    source (http, smtp, imap, ...)."""
    if r.source_topic is None:
        return r.source
    return f"{_clean(r.source_topic)}/{r.source_partition}@{r.source_offset}"


def shorten(text: str, width: int = REASON_WIDTH) -> str:
    text = _clean(text)
    return text if len(text) <= width else text[: width - 1] + "…"


# -- replay ------------------------------------------------------------------------------------

# What to do instead, for an input that never was a Kafka record.
_RESUBMIT: Final[Mapping[str, str]] = {
    "http": "the provider resends a webhook it was not answered 200 for (Meta retries for "
    "hours); one answered 200 (UnknownAccount, RejectedItems) is not resent and cannot be "
    "submitted again (its signature is not kept): fix the cause; the citizen's next "
    "message gets through",
    "smtp": "the sending server was refused and bounced the mail to its sender, who can send "
    "it again once the cause is fixed (AutomatedMail and CitizenErased are kept aside on "
    "purpose)",
    "imap": "the mail stays in the mailbox, marked read, and the poller does not take it "
    "again: ask the citizen to send it again once the cause is fixed",
    "websocket": "the visitor's browser was answered with the reason and can send it again",
}


@dataclass(frozen=True)
class Position:
    """Where a rejected record was read: what a replay puts it back into."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


def position(r: InputDeadLettered) -> Position | None:
    if r.source_topic is None or r.source_partition is None or r.source_offset is None:
        return None
    return Position(r.source_topic, r.source_partition, r.source_offset)


def refusal(r: InputDeadLettered) -> str | None:
    """Why the dead letter cannot be replayed, or None when it can: only a record a
    processor read from a Kafka topic has a place to go back to."""
    if r.source == "kafka" and position(r) is not None:
        return None
    what = f"{_clean(r.processor)} took it by {r.source}, not from a Kafka topic"
    if r.source == "kafka":
        what = "it names no source topic, partition and offset"
    advice = _RESUBMIT.get(r.source, "whoever sent it must send it again")
    return f"{what}, so there is nothing to put back; {advice}"


def needs_original(r: InputDeadLettered) -> bool:
    """Whether the dead letter lacks the record's bytes, so a replay reads them from the
    source topic: a processor that refuses an event it decoded (`BadInput` from its core)
    records where it was, not its bytes (an empty payload, no key)."""
    return not r.payload and r.source_key is None


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _clean(text: str) -> str:
    """One line of printable text: a reason may quote bytes of the input, and a terminal
    must not take them for control sequences."""
    return "".join(c if c.isprintable() else " " for c in text)
