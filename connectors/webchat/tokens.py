"""Visitor tokens of the web chat: which visitor, on which of the office's sites, in which chat
session, from when until when, signed so the widget cannot forge or stretch them.

DOMAIN.md: "a visitor token per session". The claims are `[visitor_id, site_id, session_id,
issued_at, expires_at]` (epoch seconds), signed as connectors.webchat.signing describes.
Verification refuses with one reason: `malformed`, `bad_signature`, `wrong_site`,
`not_yet_valid` (issued in the future beyond the clock skew allowed) or `expired`. The site
is checked after the signature, so a forged token learns nothing about sites.

The shell issues a token when a visitor opens the widget (a fresh random visitor id for a new
visitor, the old one when it renews a valid token), and verifies it on every HTTP request and
WebSocket connection. Pure: time and keys are arguments. Must not depend on aiohttp, Kafka
or Postgres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from connectors.webchat.signing import (
    DEFAULT_LEEWAY,
    SigningKey,
    check_window,
    from_epoch_seconds,
    is_epoch_seconds,
    is_valid_id,
    open_signed,
    sign,
    to_epoch_seconds,
)

PURPOSE: Final = "acolhe/webchat/visitor/v1"
MAX_TTL: Final = timedelta(days=1)
"""The longest a visitor token may live; the widget renews it while the session goes on."""

VisitorTokenRefusal = Literal[
    "malformed", "bad_signature", "wrong_site", "not_yet_valid", "expired"
]


@dataclass(frozen=True, slots=True)
class VisitorClaims:
    """What a valid visitor token says."""

    visitor_id: str
    site_id: str
    session_id: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class VisitorTokenRefused:
    reason: VisitorTokenRefusal
    detail: str


def issue_visitor_token(
    key: SigningKey,
    *,
    visitor_id: str,
    site_id: str,
    session_id: str,
    issued_at: datetime,
    ttl: timedelta,
) -> str:
    """A token for this visitor's session on this site, valid from `issued_at` for `ttl`."""
    for name, value in (
        ("visitor_id", visitor_id),
        ("site_id", site_id),
        ("session_id", session_id),
    ):
        if not is_valid_id(value):
            raise ValueError(f"{name} must be 1 to 128 of A-Z a-z 0-9 . _ : @ -")
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"a visitor token lives more than 0s and at most {MAX_TTL}")
    start = to_epoch_seconds(issued_at)
    end = start + int(ttl.total_seconds())
    return sign(PURPOSE, key, [visitor_id, site_id, session_id, start, end])


def verify_visitor_token(
    token: str,
    *,
    keys: Sequence[SigningKey],
    site_id: str,
    now: datetime,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> VisitorClaims | VisitorTokenRefused:
    """The token's claims when it is genuine, for `site_id`, and valid at `now`; else why not.

    `keys`: the current key first, then retired keys still accepted."""
    opened = open_signed(PURPOSE, keys, token)
    if isinstance(opened, str):
        detail = "not a visitor token" if opened == "malformed" else "signature does not match"
        return VisitorTokenRefused(opened, detail)
    claims = _claims(opened)
    if claims is None:
        return VisitorTokenRefused("malformed", "signed, but the claims are not a visitor's")
    visitor_id, token_site, session_id, start, end = claims
    if token_site != site_id:
        return VisitorTokenRefused("wrong_site", "the token was issued for another site")
    late = check_window(start, end, now, leeway)
    if late == "expired":
        return VisitorTokenRefused("expired", "the token expired: ask for a new one")
    if late == "not_yet_valid":
        return VisitorTokenRefused("not_yet_valid", "issued in the future: check the clocks")
    return VisitorClaims(
        visitor_id=visitor_id,
        site_id=token_site,
        session_id=session_id,
        issued_at=from_epoch_seconds(start),
        expires_at=from_epoch_seconds(end),
    )


def _claims(items: list[object]) -> tuple[str, str, str, int, int] | None:
    if len(items) != 5:
        return None
    visitor_id, site_id, session_id, start, end = items
    if not (
        isinstance(visitor_id, str)
        and isinstance(site_id, str)
        and isinstance(session_id, str)
        and all(is_valid_id(value) for value in (visitor_id, site_id, session_id))
    ):
        return None
    if not (is_epoch_seconds(start) and is_epoch_seconds(end)) or end <= start:
        return None
    return visitor_id, site_id, session_id, start, end
