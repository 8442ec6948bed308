"""Is a webhook request really from Meta? The two checks the WhatsApp Cloud API asks for.

- Every POST carries `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body
  (the bytes as received, before any JSON parsing) keyed with the app secret.
- Subscribing the callback URL is a GET with `hub.mode=subscribe`, `hub.verify_token` (the
  token the office typed into the App Dashboard) and `hub.challenge`, which the endpoint
  must echo back as the response body.

Secrets are compared in constant time (`hmac.compare_digest`). A missing or malformed
header is told apart from a mismatch: the first is a client that does not sign (or a
proxy that strips the header), the second a wrong secret or a forged request.

Pure: no I/O, no logging; the shell turns the outcomes into HTTP answers (403 for any
refusal is what Meta's docs show).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
_PREFIX: Final = "sha256="
_HEX_DIGEST: Final = re.compile(r"[0-9a-fA-F]{64}")
_CHALLENGE: Final = re.compile(r"[\x21-\x7e]{1,128}")


class SignatureOutcome(StrEnum):
    """What `check_signature` found; only VALID lets the body be processed."""

    VALID = "valid"
    MISSING = "missing"
    """No X-Hub-Signature-256 header, or an empty one."""
    MALFORMED = "malformed"
    """A header that is not `sha256=` followed by 64 hex digits."""
    MISMATCH = "mismatch"
    """A well-formed signature that the app secret does not produce for this body."""

    @property
    def is_valid(self) -> bool:
        return self is SignatureOutcome.VALID


def check_signature(app_secret: bytes, body: bytes, header: str | None) -> SignatureOutcome:
    """Whether `header` (the X-Hub-Signature-256 value, None when absent) signs `body`."""
    if not app_secret:
        raise ValueError("the WhatsApp app secret is empty: set it from the App Dashboard")
    if header is None or not header.strip():
        return SignatureOutcome.MISSING
    value = header.strip()
    if not value.lower().startswith(_PREFIX):
        return SignatureOutcome.MALFORMED
    received = value[len(_PREFIX) :]
    if not _HEX_DIGEST.fullmatch(received):
        return SignatureOutcome.MALFORMED
    # The keyed state is made once per secret and copied: OpenSSL's setup of a new HMAC
    # (fetching the digest, hashing the key) costs more than hashing a webhook's body.
    mac = _keyed(app_secret).copy()
    mac.update(body)
    expected = mac.hexdigest()
    if hmac.compare_digest(expected, received.lower()):
        return SignatureOutcome.VALID
    return SignatureOutcome.MISMATCH


@functools.lru_cache(maxsize=4)
def _keyed(app_secret: bytes) -> hmac.HMAC:
    return hmac.new(app_secret, digestmod=hashlib.sha256)


def sign(app_secret: bytes, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta would send with `body` (for tests and stand-ins)."""
    return _PREFIX + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


HandshakeRefusal = Literal[
    "hub.mode is missing",
    "hub.mode is not subscribe",
    "hub.verify_token is missing",
    "hub.verify_token does not match",
    "hub.challenge is missing or malformed",
]


@dataclass(frozen=True, slots=True)
class HandshakeAccepted:
    """Answer 200 with `challenge` as the plain-text body."""

    challenge: str


@dataclass(frozen=True, slots=True)
class HandshakeRefused:
    """Answer 403; `reason` says why (it never contains the token)."""

    reason: HandshakeRefusal


def check_handshake(
    query: Mapping[str, str], verify_token: str
) -> HandshakeAccepted | HandshakeRefused:
    """Meta's subscription GET: accepted when hub.mode is "subscribe" and hub.verify_token
    equals ours; the challenge (documented as an integer) must be 1-128 visible ASCII
    characters, so nothing else is ever echoed back."""
    if not verify_token:
        raise ValueError("the WhatsApp verify token is empty: set the one typed into Meta")
    mode = query.get("hub.mode")
    if not mode:
        return HandshakeRefused("hub.mode is missing")
    if mode != "subscribe":
        return HandshakeRefused("hub.mode is not subscribe")
    token = query.get("hub.verify_token")
    if not token:
        return HandshakeRefused("hub.verify_token is missing")
    if not hmac.compare_digest(_utf8(token), _utf8(verify_token)):
        return HandshakeRefused("hub.verify_token does not match")
    challenge = query.get("hub.challenge")
    if challenge is None or not _CHALLENGE.fullmatch(challenge):
        return HandshakeRefused("hub.challenge is missing or malformed")
    return HandshakeAccepted(challenge)


def _utf8(text: str) -> bytes:
    # surrogatepass keeps the encoding one-to-one, so two different tokens never compare equal
    return text.encode("utf-8", "surrogatepass")
