"""What each type of WhatsApp message carries, read strictly from its webhook JSON, and
the errors of a failed status with phone numbers removed; used by `mapping`.

Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import orjson

from connectors.whatsapp import _payload as p
from schemas.events import DeliveryError, Location, MessageKind, SharedContact

_CAPTIONED: Final = frozenset({"image", "video", "document"})
_PHONE_LIKE: Final = re.compile(
    r"(?:\+?[0-9]+[\s.\-]?)?(?:\([0-9]{1,4}\)[\s.\-]?)?\+?[0-9](?:[\s.\-]?[0-9])+"
)
_MIN_PHONE_DIGITS: Final = 8
REDACTED: Final = "[redacted]"


@dataclass(frozen=True, slots=True)
class MediaToFetch:
    """One file of an inbound message, as declared in the webhook (not yet downloaded)."""

    position: int
    media_id: str
    mime_type: str
    sha256: str | None
    """The declared checksum as 64 lowercase hex digits (Meta sends hex or base64)."""
    caption: str | None = None
    file_name: str | None = None


def redact(text: str, *addresses: str) -> str:
    """`text` without phone numbers: the given addresses as written, and any run of eight
    or more digits written as phone numbers are (a leading +, an area code in parentheses,
    single spaces, dots or dashes between digits); over-redacting a long number that is
    not a phone is harmless."""

    def scrub(match: re.Match[str]) -> str:
        digits = sum(ch.isdigit() for ch in match.group())
        return REDACTED if digits >= _MIN_PHONE_DIGITS else match.group()

    for address in addresses:
        if address:
            text = text.replace(address, REDACTED)
    return _PHONE_LIKE.sub(scrub, text)


class Content(NamedTuple):
    """What one message carries. A NamedTuple, not a frozen dataclass: one is built per
    message, and a frozen dataclass's __init__ pays an object.__setattr__ per field."""

    kind: MessageKind
    text: str | None = None
    media: tuple[MediaToFetch, ...] = ()
    location: Location | None = None
    shared_contacts: tuple[SharedContact, ...] = ()
    reply_id: str | None = None
    emoji: str | None = None
    reply_to: str | None = None


def read_content(item: Mapping[str, Any], kind: str, where: str) -> Content:
    """What the message carries, by WhatsApp type; unknown types are `unsupported`."""
    read = _READERS.get(kind)  # first: text is most messages
    if read is not None:
        content = p.req_obj(item, kind, where)
        try:
            return read(content, "")  # a path relative to the content: made whole if wrong
        except p.Invalid as exc:
            raise exc.under(f"{where}.{kind}") from None
    media_kind = _MEDIA_KINDS.get(kind)
    if media_kind is not None:
        media = _media(p.req_obj(item, kind, where), kind, f"{where}.{kind}")
        return Content(media_kind, media=(media,))
    if kind == "contacts":
        return Content("contacts", shared_contacts=_cards(item.get(kind), f"{where}.{kind}"))
    return Content("unsupported")


def _text(text: Mapping[str, Any], where: str) -> Content:
    return Content("text", p.req_str(text, "body", where))  # positional: cheaper to pass


def _button(button: Mapping[str, Any], where: str) -> Content:
    """A template's quick-reply button: its label and the payload the office gave it."""
    return Content(
        "button",
        text=p.req_str(button, "text", where),
        reply_id=p.opt_str(button, "payload", where),
    )


def _reaction(reaction: Mapping[str, Any], where: str) -> Content:
    """Meta omits the emoji when the citizen removes a reaction: that is the empty text."""
    emoji = p.opt_str(reaction, "emoji", where, allow_empty=True)
    return Content("reaction", emoji=emoji or "", reply_to=p.req_str(reaction, "message_id", where))


def _location_content(location: Mapping[str, Any], where: str) -> Content:
    return Content("location", location=_location(location, where))


def _media(media: Mapping[str, Any], kind: str, where: str) -> MediaToFetch:
    return MediaToFetch(
        position=0,
        media_id=p.req_str(media, "id", where),
        mime_type=p.req_str(media, "mime_type", where),
        sha256=_hex_sha256(p.opt_str(media, "sha256", where), f"{where}.sha256"),
        caption=p.opt_str(media, "caption", where) if kind in _CAPTIONED else None,
        file_name=p.opt_str(media, "filename", where) if kind == "document" else None,
    )


def _hex_sha256(declared: str | None, where: str) -> str | None:
    if declared is None:
        return None
    if re.fullmatch(r"[0-9a-fA-F]{64}", declared):
        return declared.lower()
    try:
        raw = base64.b64decode(declared, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise p.Invalid(where, "sha256 is neither 64 hex digits nor base64 of 32 bytes")
    return raw.hex()


def _location(location: Mapping[str, Any], where: str) -> Location:
    return Location(
        latitude=p.coordinate(location, "latitude", where, 90),
        longitude=p.coordinate(location, "longitude", where, 180),
        name=p.opt_str(location, "name", where),
        address=p.opt_str(location, "address", where),
    )


def _cards(cards: object, where: str) -> tuple[SharedContact, ...]:
    if not isinstance(cards, list) or not cards:
        raise p.Invalid(where, "contacts is missing or not a non-empty list")
    out = []
    for i, card in enumerate(cards):
        if not isinstance(card, dict):
            raise p.Invalid(f"{where}[{i}]", "contact card is not an object")
        try:
            text = orjson.dumps(card).decode()
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise p.Invalid(f"{where}[{i}]", "contact card is not encodable JSON") from exc
        out.append(SharedContact(card=text))
    return tuple(out)


def _interactive(interactive: Mapping[str, Any], where: str) -> Content:
    subtype = p.req_str(interactive, "type", where)
    if subtype not in ("button_reply", "list_reply"):
        return Content("unsupported")
    reply = p.req_obj(interactive, subtype, where)
    at = f"{where}.{subtype}"
    return Content(
        "interactive", text=p.req_str(reply, "title", at), reply_id=p.req_str(reply, "id", at)
    )


def read_delivery_errors(
    item: Mapping[str, Any], where: str, recipient: str
) -> tuple[DeliveryError, ...]:
    errors = item.get("errors")
    if errors is None:
        return ()
    if not isinstance(errors, list):
        raise p.Invalid(f"{where}.errors", "errors is not a list")
    out = []
    for i, error in enumerate(errors):
        at = f"{where}.errors[{i}]"
        entry = p.obj(error, at)
        code = p.code_text(entry.get("code"))
        if code is None:
            raise p.Invalid(f"{at}.code", "code is missing or not a number")
        title = p.opt_str(entry, "title", at) or p.opt_str(entry, "message", at)
        if title is None:
            raise p.Invalid(f"{at}.title", "title is missing")
        data = p.opt_obj(entry, "error_data", at)
        details = p.opt_str(data, "details", f"{at}.error_data") if data else None
        out.append(
            DeliveryError(
                code=code,
                title=redact(title, recipient),
                detail=redact(details, recipient) if details else None,
            )
        )
    return tuple(out)


_MEDIA_KINDS: Final[Mapping[str, MessageKind]] = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "document": "document",
    "sticker": "sticker",
}
_READERS: Final[Mapping[str, Callable[[Mapping[str, Any], str], Content]]] = {
    "text": _text,
    "location": _location_content,
    "interactive": _interactive,
    "button": _button,
    "reaction": _reaction,
}
