"""Signed, expiring bearer tokens: the part that visitor tokens (connectors.webchat.tokens) and
agents' tokens (connectors.gateway.auth) share.

A token is `<payload>.<signature>`, both base64url without padding. The payload is a compact
JSON array of claims, the signature HMAC-SHA256 over a purpose label and the encoded payload,
so a visitor token can never pass as an agent token even when both use the same secret.

Verification, in order (the first failure is the reason):
1. shape: at most MAX_TOKEN_CHARS, two parts, each canonical base64url (so changing any
   character of a token changes the bytes it carries, never only unused padding bits);
2. signature: compared in constant time against every key, current first (rotation: a token
   signed with a retired key still passes until the key is dropped from the list);
3. payload: a JSON array whose items the caller checks;
4. time (`check_window`): not issued in the future, beyond the allowed skew; not expired.

Pure: no clock, no I/O; time is an argument. Must not depend on aiohttp, Kafka or Postgres.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, TypeGuard

import orjson

MAX_TOKEN_CHARS: Final = 1024
"""Longer strings are refused before any decoding: a token is a few hundred characters."""
MIN_SECRET_BYTES: Final = 32
DEFAULT_LEEWAY: Final = timedelta(seconds=30)
"""How far the clocks of the issuer and the verifier may disagree."""

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")

SignatureRefusal = Literal["malformed", "bad_signature"]
WindowRefusal = Literal["expired", "not_yet_valid"]


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One HMAC secret with a name for operators (never part of the token); repr hides it."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"signing key {self.key_id!r} has {len(self.secret)} bytes; "
                f"use at least {MIN_SECRET_BYTES} random bytes (e.g. secrets.token_bytes(32))"
            )


def is_valid_id(value: object) -> bool:
    """Whether `value` is an id a token may carry: 1 to 128 of A-Z a-z 0-9 . _ : @ -."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def is_epoch_seconds(value: object) -> TypeGuard[int]:
    """Whether `value` is a token time: a plain int (not a bool) from 1970 to year ~36800."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**40


def to_epoch_seconds(moment: datetime) -> int:
    """Whole seconds since the Unix epoch; naive datetimes are refused (ambiguous zone)."""
    if moment.tzinfo is None:
        raise ValueError("token times must be timezone-aware")
    return int(moment.timestamp())


def from_epoch_seconds(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def sign(purpose: str, key: SigningKey, claims: Sequence[str | int]) -> str:
    """`<payload>.<signature>` for these claims."""
    payload = _b64encode(orjson.dumps(list(claims)))
    return f"{payload}.{_b64encode(_mac(purpose, key, payload))}"


def open_signed(
    purpose: str, keys: Sequence[SigningKey], token: str
) -> list[object] | SignatureRefusal:
    """The claims of a token signed by one of `keys` for `purpose`, or why not (steps 1-3)."""
    if not keys:
        raise ValueError("verifying a token needs at least one key")
    split = _split(token)
    if split is None:
        return "malformed"
    payload_text, payload, signature = split
    # every key is tried, so the time taken does not tell which key (if any) nearly matched
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(_mac(purpose, key, payload_text), signature)
    if not matched:
        return "bad_signature"
    try:
        claims = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "malformed"
    if not isinstance(claims, list):
        return "malformed"
    return claims


def check_window(
    issued_at: int, expires_at: int, now: datetime, leeway: timedelta = DEFAULT_LEEWAY
) -> WindowRefusal | None:
    """Step 4: None when `now` lies in [issued_at, expires_at), give or take the leeway."""
    at = now.timestamp()
    skew = leeway.total_seconds()
    if issued_at > at + skew:
        return "not_yet_valid"
    if at >= expires_at + skew:
        return "expired"
    return None


def _split(token: str) -> tuple[str, bytes, bytes] | None:
    """The payload's text and bytes and the signature's bytes of a well-shaped token."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    payload_text, signature_text = token.split(".")
    payload, signature = _b64decode(payload_text), _b64decode(signature_text)
    if payload is None or signature is None:
        return None
    return payload_text, payload, signature


def _mac(purpose: str, key: SigningKey, payload: str) -> bytes:
    message = f"{purpose}\x1f{payload}".encode("ascii")
    return hmac.new(key.secret, message, hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """The bytes of canonical unpadded base64url text; None for anything else."""
    if _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # unused low bits of the last character must be zero, or two texts would carry one value
    return data if _b64encode(data) == text else None
