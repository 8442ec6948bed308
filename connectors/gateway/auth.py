"""Who is calling the agents' gateway: a bearer token naming the agent, signed by the office.

`Authorization: Bearer <token>`, the token signed as connectors.webchat.signing describes
with its own purpose label (a visitor token never passes here, whatever the keys), claims
`[agent_id, issued_at, expires_at]` in epoch seconds. The acting agent of every command is
the token's, never a field of the request body.

Refusal reasons: `missing` (no Authorization header), `not_bearer` (another scheme),
`malformed`, `bad_signature`, `not_yet_valid`, `expired`. The shell answers 401 with a
`WWW-Authenticate: Bearer` header for all of them.

Pure: time and keys are arguments. Must not depend on aiohttp, Kafka or Postgres.
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

PURPOSE: Final = "acolhe/gateway/agent/v1"
MAX_TTL: Final = timedelta(hours=12)
"""An agent's token lasts at most a working day; the agents' app signs in again after."""

AuthRefusal = Literal[
    "missing", "not_bearer", "malformed", "bad_signature", "not_yet_valid", "expired"
]


@dataclass(frozen=True, slots=True)
class AgentClaims:
    agent_id: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuthRefused:
    reason: AuthRefusal
    detail: str


def issue_agent_token(
    key: SigningKey, *, agent_id: str, issued_at: datetime, ttl: timedelta
) -> str:
    """A token for this agent, valid from `issued_at` for `ttl` (at most MAX_TTL)."""
    if not is_valid_id(agent_id):
        raise ValueError("agent_id must be 1 to 128 of A-Z a-z 0-9 . _ : @ -")
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"an agent token lives more than 0s and at most {MAX_TTL}")
    start = to_epoch_seconds(issued_at)
    return sign(PURPOSE, key, [agent_id, start, start + int(ttl.total_seconds())])


def verify_agent_token(
    token: str,
    *,
    keys: Sequence[SigningKey],
    now: datetime,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> AgentClaims | AuthRefused:
    """The agent a genuine token valid at `now` names, or why not. `keys`: current first."""
    opened = open_signed(PURPOSE, keys, token)
    if isinstance(opened, str):
        detail = "not an agent token" if opened == "malformed" else "signature does not match"
        return AuthRefused(opened, detail)
    if len(opened) != 3:
        return AuthRefused("malformed", "signed, but the claims are not an agent's")
    agent_id, start, end = opened
    if not (
        isinstance(agent_id, str)
        and is_valid_id(agent_id)
        and is_epoch_seconds(start)
        and is_epoch_seconds(end)
        and start < end
    ):
        return AuthRefused("malformed", "signed, but the claims are not an agent's")
    late = check_window(start, end, now, leeway)
    if late == "expired":
        return AuthRefused("expired", "the token expired: sign in again")
    if late == "not_yet_valid":
        return AuthRefused("not_yet_valid", "issued in the future: check the clocks")
    return AgentClaims(
        agent_id=agent_id, issued_at=from_epoch_seconds(start), expires_at=from_epoch_seconds(end)
    )


def authenticate(
    authorization: str | None,
    *,
    keys: Sequence[SigningKey],
    now: datetime,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> AgentClaims | AuthRefused:
    """The agent behind an Authorization header's value (None when the header is absent)."""
    if authorization is None or not authorization.strip():
        return AuthRefused("missing", "send Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":  # RFC 9110: the scheme is case-insensitive
        return AuthRefused("not_bearer", "the gateway takes Bearer tokens only")
    return verify_agent_token(token.strip(), keys=keys, now=now, leeway=leeway)
