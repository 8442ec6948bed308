"""What the agents' gateway reads and remembers in Postgres.

- `CaseDirectory`: a case's contact and citizen, channel and holder, from the read model's
  `cases` table. The citizen (`citizen_id`) is the `subject_id` whose data key seals a
  reply's or a transfer note's text: the gateway looks it up, the agents' app never picks it.
- `WebChatSessions`: a contact's latest web chat session (the web chat's `sessions` table)
  and the NOTIFY that shows the office typing in it (connectors.webchat.notices: every web
  chat replica LISTENs there and tells the session's sockets it holds).
- `IdempotencyKeys`: per agent, each Idempotency-Key with the fingerprint of the request it
  was first used for and the command's event id, remembered for a while (`ttl`). A key used
  again with another request is the client's mistake (HTTP 422): its event id is derived
  from the key, so the second request would be dropped downstream as a duplicate.
  `accepted_at` is set once the command is durable in Kafka; a retry of an accepted request
  is answered from here, without publishing again. A retry of one never accepted (Kafka was
  down) publishes again, with the same event id.

asyncpg and OS errors are wrapped in `RetriableInfrastructureError` (the gateway answers 503).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from connectors.webchat.notices import Typing, channel, payload
from streams.projections.sqltext import render
from streams.shared.errors import RetriableInfrastructureError

TABLE: Final = "gateway_idempotency_keys"
_DDL: Final = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.gateway_idempotency_keys (
    agent_id        text        NOT NULL,
    idempotency_key text        NOT NULL,
    command         text        NOT NULL,
    fingerprint     text        NOT NULL,
    event_id        text        NOT NULL,
    correlation_id  text        NOT NULL,
    first_seen_at   timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    PRIMARY KEY (agent_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS gateway_idempotency_keys_expiry
    ON {schema}.gateway_idempotency_keys (expires_at);
COMMENT ON TABLE {schema}.gateway_idempotency_keys IS
    'The agents'' gateway: each Idempotency-Key an agent used, the request it was used for '
    '(fingerprint) and the command it became (connectors/gateway/store.py).';
"""
# A key seen before is taken over only once it expired; RETURNING tells whether we wrote.
_REMEMBER: Final = """
INSERT INTO {schema}.gateway_idempotency_keys AS k
    (agent_id, idempotency_key, command, fingerprint, event_id, correlation_id, first_seen_at,
     expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (agent_id, idempotency_key) DO UPDATE
    SET command = EXCLUDED.command, fingerprint = EXCLUDED.fingerprint,
        event_id = EXCLUDED.event_id, correlation_id = EXCLUDED.correlation_id,
        first_seen_at = EXCLUDED.first_seen_at,
        expires_at = EXCLUDED.expires_at, accepted_at = NULL
    WHERE k.expires_at <= EXCLUDED.first_seen_at
RETURNING k.event_id
"""
_SEEN: Final = """
SELECT command, fingerprint, event_id, correlation_id, first_seen_at, accepted_at
FROM {schema}.gateway_idempotency_keys WHERE agent_id = $1 AND idempotency_key = $2
"""
_ACCEPTED: Final = """
UPDATE {schema}.gateway_idempotency_keys SET accepted_at = $3
WHERE agent_id = $1 AND idempotency_key = $2 AND accepted_at IS NULL
"""
_FORGET: Final = "DELETE FROM {schema}.gateway_idempotency_keys WHERE expires_at <= $1"
_CASE: Final = (
    "SELECT contact_id, citizen_id, channel, agent_id,"
    " {schema}.is_citizen_blocked(citizen_id) AS is_blocked"
    " FROM {schema}.cases WHERE case_id = $1"
)
_LATEST_SESSION: Final = (
    "SELECT session_id FROM {schema}.sessions WHERE contact_id = $1 ORDER BY active_at DESC LIMIT 1"
)
_ERRORS: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class CaseRef:
    case_id: str
    contact_id: str
    citizen_id: str
    channel: str
    agent_id: str | None
    """Who holds the case now; None while it waits."""
    is_blocked: bool = False
    """Whether its citizen is blocked (blocked_citizens, migration 0004/0005)."""


class KeyState(enum.Enum):
    NEW = "new"
    """First use (or the earlier use expired): publish."""
    PENDING = "pending"
    """Seen with this request, never acknowledged by Kafka: publish again (same event id)."""
    ACCEPTED = "accepted"
    """Seen with this request and durable: answer as before, publish nothing."""
    CONFLICT = "conflict"
    """Seen with another request: 422."""


@dataclass(frozen=True, slots=True)
class KeyUse:
    state: KeyState
    event_id: str
    command: str
    correlation_id: str
    """The first use's: a retry's own correlation_id is not what was recorded."""
    first_seen_at: datetime


@asynccontextmanager
async def _database(what: str) -> AsyncIterator[None]:
    try:
        yield
    except _ERRORS as exc:
        raise RetriableInfrastructureError(
            f"PostgreSQL failed while the gateway {what}: {exc!r}; is it up? "
            "(`acolhe stack status`)"
        ) from exc


class CaseDirectory:
    def __init__(self, pool: Any, *, schema: str) -> None:
        self._pool = pool
        self._sql = render(_CASE, schema)

    async def find(self, case_id: str) -> CaseRef | None:
        async with _database("looked a case up in the read model"):
            row = await self._pool.fetchrow(self._sql, case_id)
        if row is None:
            return None
        return CaseRef(
            case_id,
            row["contact_id"],
            row["citizen_id"],
            row["channel"],
            row["agent_id"],
            row["is_blocked"],
        )


class WebChatSessions:
    """The web chat's session store in `schema`, as far as the gateway needs it."""

    def __init__(self, pool: Any, *, schema: str) -> None:
        self._pool = pool
        self._latest = render(_LATEST_SESSION, schema)
        self._channel = channel(schema)

    async def latest(self, contact_id: str) -> str | None:
        """The contact's most recently active session's id, if the contact has one."""
        async with _database("looked a web chat session up"):
            session_id: str | None = await self._pool.fetchval(self._latest, contact_id)
        return session_id

    async def show_typing(self, session_id: str, active: bool) -> None:
        """NOTIFY every web chat replica (sent at once: no transaction around it)."""
        async with _database("told the web chat an agent is typing"):
            await self._pool.execute(
                "SELECT pg_notify($1, $2)", self._channel, payload(Typing(session_id, active))
            )


class IdempotencyKeys:
    def __init__(self, pool: Any, *, schema: str, ttl: timedelta) -> None:
        self._pool = pool
        self._schema = schema
        self._ttl = ttl
        self._remember = render(_REMEMBER, schema)
        self._seen = render(_SEEN, schema)
        self._accepted = render(_ACCEPTED, schema)
        self._forget = render(_FORGET, schema)

    async def create_table(self) -> None:
        """Create the schema and table if missing; replicas starting at once take turns."""
        async with (
            _database("created its table"),
            self._pool.acquire() as conn,
            conn.transaction(),
        ):
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"acolhe.gateway/{self._schema}"
            )
            await conn.execute(render(_DDL, self._schema))

    async def remember(
        self,
        *,
        agent_id: str,
        key: str,
        command: str,
        fingerprint: str,
        event_id: str,
        correlation_id: str,
        now: datetime,
    ) -> KeyUse:
        """Record the key's first use, or say how this use relates to the earlier one."""
        args = (agent_id, key, command, fingerprint, event_id, correlation_id, now, now + self._ttl)
        async with _database("remembered an Idempotency-Key"):
            written = await self._pool.fetchval(self._remember, *args)
            if written is not None:
                return KeyUse(KeyState.NEW, event_id, command, correlation_id, now)
            row = await self._pool.fetchrow(self._seen, agent_id, key)
        if row is None:  # expired and swept between the two statements: take it again
            return await self.remember(
                agent_id=agent_id,
                key=key,
                command=command,
                fingerprint=fingerprint,
                event_id=event_id,
                correlation_id=correlation_id,
                now=now,
            )
        if row["fingerprint"] != fingerprint:
            state = KeyState.CONFLICT
        else:
            state = KeyState.PENDING if row["accepted_at"] is None else KeyState.ACCEPTED
        return KeyUse(
            state, row["event_id"], row["command"], row["correlation_id"], row["first_seen_at"]
        )

    async def mark_accepted(self, *, agent_id: str, key: str, now: datetime) -> None:
        async with _database("noted a command as accepted"):
            await self._pool.execute(self._accepted, agent_id, key, now)

    async def forget_expired(self, now: datetime) -> int:
        """Drop the keys expired by `now`; how many."""
        async with _database("forgot expired Idempotency-Keys"):
            status: str = await self._pool.execute(self._forget, now)
        return int(status.rsplit(" ", 1)[-1])
