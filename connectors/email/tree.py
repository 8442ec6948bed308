"""The MIME tree of a raw mail, built by the stdlib feed parser under limits.

The parser runs with guards wired into its extension points: the message factory counts
MIME entities, `attach` measures nesting depth, the policy's `header_source_parse` counts
header fields and measures their lines, and `get_boundary` refuses absurd boundaries before
the parser compiles them into a pattern. Each guard raises `Refused` the moment a limit is
crossed, so a mail of 100,000 parts or 10,000 levels costs the parser at most `max_parts`
entities and one pass over bytes already capped by `max_raw_bytes`: no separate pre-scan is
needed, and the structure that is bounded is the parser's own view of it, not a guess.

Headers stay as written (compat32): decoding them is `decoding.py`'s job.

Pure: no I/O, no clock; must not depend on Kafka, Postgres or the media store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import Compat32
from typing import Any, Literal

from connectors.email.decoding import parse_mime_header, raw_bytes, unfold

QuarantineReason = Literal[
    "too_large",
    "too_many_parts",
    "too_deep",
    "too_many_headers",
    "header_line_too_long",
    "header_too_long",
    "bad_boundary",
    "malformed_multipart",
    "too_many_attachments",
    "attachment_too_large",
    "malformed_base64",
    "header_injection",
    "missing_from",
    "invalid_from",
    "unparseable",
]


@dataclass(frozen=True)
class MailLimits:
    """What one inbound mail may cost. The defaults fit what mail services deliver (Gmail
    and Outlook stop at 25 MB) and refuse what only an attacker builds."""

    max_raw_bytes: int = 25 * 1024 * 1024
    max_parts: int = 100  # MIME entities, the message itself included
    max_depth: int = 10  # nesting of multipart and message/* entities
    max_attachments: int = 20
    max_attachment_bytes: int = 10 * 1024 * 1024  # decoded
    # Text beyond this is cut (and noted), not refused: the event must fit a Kafka record
    # (1 MB by default) and no citizen writes 256k characters; quoted history is what grows.
    max_text_chars: int = 256 * 1024
    max_header_fields: int = 200  # per entity; a mail through many relays has ~60
    max_header_line_bytes: int = 4000  # RFC 5322 says 998; sloppy mailers write longer
    max_header_field_bytes: int = 32 * 1024  # one field unfolded (a long References)
    max_address_header_bytes: int = 4096  # From and To, parsed as address lists
    max_boundary_length: int = 100  # RFC 2046 allows 70


DEFAULT_LIMITS = MailLimits()


class Refused(Exception):
    """Raised inside the parse to stop it; `parse_mail` turns it into `Quarantined`."""

    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: QuarantineReason = reason
        self.detail = detail


@dataclass
class _Budget:
    limits: MailLimits
    entities: int = 0
    fields_in_entity: int = 0


class BoundedMessage(Message):
    """A compat32 message that refuses nesting deeper than the limits as it is built, and
    reads its Content-Type with the linear parser of `decoding.py`."""

    def __init__(self, policy: Compat32, budget: _Budget) -> None:
        super().__init__(policy)
        self.budget = budget
        self.depth = 0
        self._content_type: tuple[str, tuple[str, dict[str, str]]] | None = None

    def attach(self, payload: Any) -> None:
        if isinstance(payload, BoundedMessage):
            payload.depth = self.depth + 1
            if payload.depth > self.budget.limits.max_depth:
                raise Refused(
                    "too_deep", f"MIME nesting deeper than {self.budget.limits.max_depth}"
                )
        super().attach(payload)

    def raw_payload(self) -> bytes:
        """The body of a leaf part exactly as received, still transfer-encoded.

        `get_payload()` would decode 8-bit bytes with the declared charset, replacing what
        does not fit (and parse the charset with the stdlib's slow parameter parser); the
        parser stores the bytes surrogate-escaped, which this undoes losslessly.
        """
        payload: object = self.__dict__.get("_payload")
        return raw_bytes(payload) if isinstance(payload, str) else b""

    def header(self, name: str) -> str | None:
        """The first value of header `name` as written (unfolded, surrogate-escaped)."""
        wanted = name.lower()
        for key, value in self.raw_items():
            if key.lower() == wanted:
                return unfold(str(value))
        return None

    def content_header(self) -> tuple[str, dict[str, str]]:
        raw = self.header("content-type") or ""
        if self._content_type is None or self._content_type[0] != raw:
            self._content_type = (raw, parse_mime_header(raw))
        return self._content_type[1]

    def get_content_type(self) -> str:
        value = self.content_header()[0]
        main, slash, sub = value.partition("/")
        if not slash or not main or not sub or " " in value:
            return self.get_default_type()  # RFC 2045 5.2: a broken type is the default
        return value

    def get_boundary(self, failobj: Any = None) -> Any:
        boundary = self.content_header()[1].get("boundary")
        if boundary is None:
            return failobj
        boundary = boundary.rstrip()
        limit = self.budget.limits.max_boundary_length
        if not boundary or len(boundary) > limit or not boundary.isascii():
            raise Refused(
                "bad_boundary",
                f"multipart boundary of {len(boundary)} characters (must be 1 to {limit} ASCII)",
            )
        return boundary


class _BoundedPolicy(Compat32):
    """compat32, counting and measuring header fields as the parser reads them."""

    budget: _Budget | None = None

    def __init__(self, budget: _Budget) -> None:
        super().__init__()
        object.__setattr__(self, "budget", budget)  # policies refuse plain assignment

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        budget = self.budget
        if budget is not None:
            limits = budget.limits
            budget.fields_in_entity += 1
            if budget.fields_in_entity > limits.max_header_fields:
                raise Refused(
                    "too_many_headers", f"more than {limits.max_header_fields} header fields"
                )
            size = 0
            for line in sourcelines:
                length = len(line.rstrip("\r\n"))
                size += length
                if length > limits.max_header_line_bytes:
                    raise Refused(
                        "header_line_too_long",
                        f"header line of {length} bytes (limit {limits.max_header_line_bytes})",
                    )
            if size > limits.max_header_field_bytes:
                raise Refused(
                    "header_too_long",
                    f"header field of {size} bytes (limit {limits.max_header_field_bytes})",
                )
        name, value = super().header_source_parse(sourcelines)
        return name, value


def parse_tree(raw: bytes, limits: MailLimits = DEFAULT_LIMITS) -> BoundedMessage:
    """The MIME tree of `raw`, built under `limits`; raises `Refused` past any of them."""
    budget = _Budget(limits)
    policy = _BoundedPolicy(budget)

    def new_entity(policy: Compat32) -> BoundedMessage:
        budget.entities += 1
        budget.fields_in_entity = 0
        if budget.entities > limits.max_parts:
            raise Refused("too_many_parts", f"more than {limits.max_parts} MIME parts")
        return BoundedMessage(policy, budget)

    factory: Callable[..., BoundedMessage] = new_entity
    parser = BytesFeedParser(_factory=factory, policy=policy)
    budget.entities = 0  # the parser calls the factory once to probe its signature
    parser.feed(raw)
    root = parser.close()
    if not isinstance(root, BoundedMessage):
        raise Refused("unparseable", "the parser built no message")
    return root


_INJECTION = ("\r", "\n", "\x00")


def check_single_line(what: str, value: str) -> str:
    """`value`, or `Refused` when decoding gave it a line break: a header value that would
    split into two headers wherever it is written again."""
    if any(ch in value for ch in _INJECTION):
        raise Refused("header_injection", f"{what} decodes to text with a line break")
    return value
