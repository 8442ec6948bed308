"""Opaque ids for the people who write to the office, derived from their channel addresses.

A contact is one citizen as seen by one channel (a WhatsApp number, an email address, a web
chat visitor). Its id must name no person and must not be reversible by trying every phone
number (there are only some 10^11 of them), so it is a keyed HMAC of the normalized address,
never a plain hash. Until contacts are linked (ContactsLinked), each contact is its own
citizen, the subject whose data key seals its personal fields.

Pure: no I/O. The key comes from the settings (ACOLHE_CONTACT_ID_KEY); changing it changes
every id, so an office sets it once.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

ChannelName = Literal["web_chat", "whatsapp", "email"]


@dataclass(frozen=True)
class ContactRef:
    """Who wrote: the contact, and the citizen (subject) whose key seals their data."""

    contact_id: str
    subject_id: str


def normalize_address(channel: ChannelName, address: str) -> str:
    """The form of an address that two spellings of one contact share: WhatsApp ids are
    digits (a leading + and separators dropped), email addresses compare case-insensitively
    (RFC 5321 lets the local part differ by case, but no provider in practice does), web chat
    visitor ids are taken as given."""
    address = address.strip()
    if channel == "whatsapp":
        return "".join(ch for ch in address if ch.isdigit())
    if channel == "email":
        return address.lower()
    return address


class ContactIds:
    """`contact(channel, address)` -> the contact's and the citizen's opaque ids."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the contact id key must have at least 16 bytes")
        self._key = key

    def contact(self, channel: ChannelName, address: str) -> ContactRef:
        return self._contact(channel, address)

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one instance per process, kept for its life
    def _contact(self, channel: ChannelName, address: str) -> ContactRef:
        normalized = normalize_address(channel, address)
        if not normalized:
            raise ValueError(f"empty {channel} address")
        digest = hmac.new(
            self._key, f"{channel}\x1f{normalized}".encode(), hashlib.sha256
        ).hexdigest()[:32]
        return ContactRef(contact_id=f"{channel}-{digest}", subject_id=f"citizen-{digest}")
