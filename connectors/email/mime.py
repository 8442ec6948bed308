"""Raw RFC 5322 mail -> `ParsedMail`, or `Quarantined` with the reason, in bounded time and
memory.

Steps, in order (each refuses as early as it can):
1. The raw size is checked before any parsing (`MailLimits.max_raw_bytes`).
2. The MIME tree is built under the limits (`tree.py`): parts, depth, header fields and
   lines, and boundaries are bounded while the stdlib parser runs, not after.
3. The headers we use are decoded (`decoding.py`), and the mail refused when decoding
   gives a header a line break (header injection) or leaves no sender.
4. The tree is walked once (`body.py`) for the text body and the files.

Anything else the stdlib raises on hostile bytes is caught and becomes
`Quarantined("unparseable")`: `parse_mail` returns, whatever the bytes.

Pure: no I/O, no clock; must not depend on Kafka, Postgres or the media store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address, HeaderRegistry
from email.utils import parsedate_to_datetime

from connectors.email import threads
from connectors.email.body import MailFile, read_body
from connectors.email.decoding import decode_header_value, decode_text, raw_bytes
from connectors.email.tree import (
    DEFAULT_LIMITS,
    BoundedMessage,
    MailLimits,
    QuarantineReason,
    Refused,
    check_single_line,
    parse_tree,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MailFile",
    "MailLimits",
    "ParseOutcome",
    "ParsedMail",
    "QuarantineReason",
    "Quarantined",
    "derive_message_id",
    "parse_mail",
]


@dataclass(frozen=True)
class Quarantined:
    """A mail set aside: `reason` is the closed set an operator filters on; `detail` says
    what was wrong without quoting the mail's content."""

    reason: QuarantineReason
    detail: str


@dataclass(frozen=True)
class ParsedMail:
    """What the connector keeps of a mail. Ids are normalized (`threads.py`); `text` is the
    whole plain-text body, quoted history included (see `quoting.py` for the new part)."""

    message_id: str
    from_address: str
    from_name: str | None
    to: tuple[str, ...]
    subject: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    date_raw: str | None
    date: datetime | None
    text: str | None
    files: tuple[MailFile, ...] = ()
    is_message_id_derived: bool = False  # no usable Message-ID: derived from the raw bytes
    is_automated: bool = False  # auto-reply, delivery report or list mail: do not answer it
    notes: tuple[str, ...] = field(default=())  # guesses made while decoding, for the log

    @property
    def thread_id(self) -> str:
        return threads.thread_id(self.message_id, self.in_reply_to, self.references)


ParseOutcome = ParsedMail | Quarantined


def parse_mail(raw: bytes, limits: MailLimits = DEFAULT_LIMITS) -> ParseOutcome:
    """Parse one raw mail as received (SMTP DATA or an IMAP RFC822 fetch)."""
    if len(raw) > limits.max_raw_bytes:
        return Quarantined(
            "too_large", f"mail of {len(raw)} bytes is above the {limits.max_raw_bytes} limit"
        )
    try:
        root = parse_tree(raw, limits)
        return _read(root, raw, limits)
    except Refused as refused:
        return Quarantined(refused.reason, refused.detail)
    except Exception as exc:  # the stdlib's parser on hostile input: set aside, never crash
        return Quarantined("unparseable", f"{type(exc).__name__} while parsing the mail")


# --- reading the headers ----------------------------------------------------------------

_AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_REGISTRY = HeaderRegistry()


def _read(root: BoundedMessage, raw: bytes, limits: MailLimits) -> ParsedMail:
    notes: list[str] = []
    from_address, from_name = _sender(root, limits, notes)
    subject = _decoded(root, "subject", notes)
    message_id = threads.normalize_message_id(root.header("message-id") or "")
    derived = message_id is None
    if message_id is None:
        message_id = derive_message_id(raw)
        notes.append("no usable Message-ID; derived one from the raw bytes")
    reply_ids = threads.parse_id_list(root.header("in-reply-to"))
    date_raw = root.header("date")
    date_raw = date_raw.strip() if date_raw else None
    date = _date(date_raw, notes)
    text, files = read_body(root, limits, notes)
    return ParsedMail(
        message_id=message_id,
        from_address=from_address,
        from_name=from_name,
        to=_recipients(root, limits, notes),
        subject=subject,
        in_reply_to=reply_ids[0] if reply_ids else None,
        references=threads.parse_id_list(root.header("references")),
        date_raw=date_raw or None,
        date=date,
        text=text,
        files=files,
        is_message_id_derived=derived,
        is_automated=_is_automated(root),
        notes=tuple(notes),
    )


def derive_message_id(raw: bytes) -> str:
    """A stable stand-in for a missing Message-ID: the same bytes read again get the same
    id. `.invalid` (RFC 2606) keeps it from ever matching a real one."""
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@message-id.acolhe.invalid"


def _decoded(root: BoundedMessage, name: str, notes: list[str]) -> str | None:
    raw = root.header(name)
    if raw is None:
        return None
    text, header_notes = decode_header_value(raw)
    notes.extend(header_notes)
    text = check_single_line(f"the {name.title()} header", text).strip()
    return text or None


def _addresses(root: BoundedMessage, name: str, limits: MailLimits) -> list[tuple[str, str]] | None:
    raw = root.header(name)
    if raw is None:
        return None
    if len(raw) > limits.max_address_header_bytes:
        raise Refused(
            "header_too_long",
            f"{name.title()} header of {len(raw)} bytes (limit {limits.max_address_header_bytes})",
        )
    # The stdlib refuses CR/LF in address parts with a bare ValueError; name it first.
    check_single_line(f"the {name.title()} header", decode_header_value(raw)[0])
    try:
        header = _REGISTRY(name, raw)
    except Exception as exc:  # the stdlib's address parser on a hostile value
        raise Refused(
            "invalid_from" if name == "from" else "unparseable",
            f"{name.title()} header does not parse ({type(exc).__name__})",
        ) from exc
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())  # an AddressHeader
    return [(a.addr_spec, a.display_name) for a in addresses]


def _sender(root: BoundedMessage, limits: MailLimits, notes: list[str]) -> tuple[str, str | None]:
    found = _addresses(root, "from", limits)
    if found is None:
        raise Refused("missing_from", "the mail has no From header")
    usable = [(spec, name) for spec, name in found if _is_address(spec)]
    if not usable:
        raise Refused("invalid_from", "the From header holds no usable address")
    if len(usable) > 1:
        notes.append(f"From holds {len(usable)} addresses; the first is the sender")
    spec, display = usable[0]
    check_single_line("the From address", spec)
    name = check_single_line("the From display name", _repair(display, notes)).strip()
    return spec, name or None


def _recipients(root: BoundedMessage, limits: MailLimits, notes: list[str]) -> tuple[str, ...]:
    try:
        found = _addresses(root, "to", limits) or []
    except Refused as refused:
        notes.append(f"To ignored: {refused.detail}")
        return ()
    return tuple(spec for spec, _ in found if _is_address(spec))


def _is_address(spec: str) -> bool:
    local, at, domain = spec.rpartition("@")
    return (
        bool(at and local and domain)
        and len(spec) <= 254
        and spec.isprintable()
        and not any(ch.isspace() for ch in spec)
    )


def _repair(text: str, notes: list[str]) -> str:
    """Text the stdlib decoded with raw 8-bit bytes left as surrogates, read properly."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    repaired, note = decode_text(raw_bytes(text), None)
    if note:
        notes.append(f"header: {note}")
    return repaired


def _date(raw: str | None, notes: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = parsedate_to_datetime(raw) if len(raw) <= 200 else None
    except (ValueError, TypeError, IndexError, OverflowError):
        parsed = None
    if parsed is None:
        notes.append("Date header could not be parsed")
        return None
    if parsed.tzinfo is None:  # "-0000": UTC, sender's zone unknown (RFC 5322 3.3)
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _is_automated(root: BoundedMessage) -> bool:
    auto = (root.header("auto-submitted") or "no").strip().lower()
    precedence = (root.header("precedence") or "").strip().lower()
    return (
        not auto.startswith("no")
        or precedence in _AUTOMATED_PRECEDENCE
        or root.header("list-id") is not None
        or root.header("x-autoreply") is not None
        or root.get_content_type() == "multipart/report"
    )
