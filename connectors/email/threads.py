"""Email threading: Message-ID, In-Reply-To and References, in one normal form.

A message id is written `<local@domain>` in headers; we carry it without the angle brackets
(as the contract's `provider_message_id` says), without whitespace, and with the domain part
lowercased, because domains compare case-insensitively while local parts may not. Every id
the connector reads or writes goes through `normalize_message_id`, so the same message seen
twice (SMTP and IMAP, or our own reply quoted back) yields the same id and the same event id.

Pure: no I/O, no clock; must not depend on Kafka, Postgres or the stdlib `email` parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MAX_REFERENCES = 20  # ids kept in an outbound References: the thread's root and the latest 19
MAX_ID_LENGTH = 250  # RFC 5322 lines stop at 998 octets; a real id is far shorter

_BRACKETED = re.compile(r"<([^<>]*)>")
_WHITESPACE = re.compile(r"\s+")


def normalize_message_id(value: str) -> str | None:
    """`<Abc.123@Mail.Example.COM>` -> `Abc.123@mail.example.com`; None when nothing usable.

    Takes the first bracketed id when there is one (In-Reply-To often carries a trailing
    comment), else the whole value. An id with no `@` is kept as it is (some mailers write
    them), but one longer than `MAX_ID_LENGTH` or with control characters is refused.
    """
    match = _BRACKETED.search(value)
    candidate = match.group(1) if match else value
    candidate = _WHITESPACE.sub("", candidate)
    if not candidate or len(candidate) > MAX_ID_LENGTH:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in candidate):
        return None
    local, at, domain = candidate.rpartition("@")
    if at and local and domain:
        return f"{local}@{domain.lower()}"
    return candidate


def parse_id_list(value: str | None) -> tuple[str, ...]:
    """Every message id in a References or In-Reply-To value, normalized, in order, once each.

    Bracketed ids are the norm; a value without brackets is split on whitespace and keeps the
    tokens that look like ids (contain `@`), which is what broken mailers send.
    """
    if not value:
        return ()
    tokens: Iterable[str] = (
        _BRACKETED.findall(value) if "<" in value else (t for t in value.split() if "@" in t)
    )
    return _unique(i for i in (normalize_message_id(t) for t in tokens) if i)


def thread_id(message_id: str, in_reply_to: str | None, references: Sequence[str]) -> str:
    """The thread's first Message-ID: the first of References, else In-Reply-To, else the
    message's own id (a message that replies to nothing starts its thread)."""
    if references:
        return references[0]
    if in_reply_to:
        return in_reply_to
    return message_id


def references_for_reply(
    parent_references: Sequence[str],
    parent_message_id: str | None,
    *,
    thread_root: str | None = None,
    cap: int = MAX_REFERENCES,
) -> tuple[str, ...]:
    """References for a reply (RFC 5322 section 3.6.4): the parent's References followed by
    the parent's Message-ID. When the parent's References are unknown, the thread's root
    stands in for them, so the reply still joins the thread in every client.

    Capped at `cap` ids the way news and mail software trims them (RFC 5537 section 3.4.4):
    the root is kept, then the most recent ones.
    """
    if cap < 2:
        raise ValueError("a References cap below 2 cannot keep the root and the parent")
    ids = list(parent_references)
    if not ids and thread_root:
        ids.append(thread_root)
    unique = _unique(i for i in (normalize_message_id(x) for x in ids) if i)
    parent = normalize_message_id(parent_message_id) if parent_message_id else None
    if parent and parent not in unique[:1]:
        # The parent comes last even when a looping thread named it earlier.
        unique = (*(i for i in unique if i != parent), parent)
    if len(unique) <= cap:
        return unique
    return (unique[0], *unique[len(unique) - (cap - 1) :])


def bracket(message_id: str) -> str:
    """The header form of a normalized id: `<id>`."""
    return f"<{message_id}>"


def _unique(ids: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for i in ids:
        seen.setdefault(i, None)
    return tuple(seen)
