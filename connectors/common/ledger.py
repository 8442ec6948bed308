"""What connectors remember between restarts, in PostgreSQL (schema `acolhe_connectors`):

- `deliveries`: each outbound message a connector took on (by our message id): whether it
  went out, the provider's id for it, how many attempts. A connector that sent a message
  and died before committing its Kafka offset finds it here and does not send it again,
  and a provider's status report finds our message id by the provider's id.
- `last_inbound`: when each contact last wrote on each channel, for WhatsApp's 24-hour
  window (free-form replies only within 24 hours of the citizen's last message).

Neither is the source of truth (the log is): both can be rebuilt from acolhe.conversations.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

log = logging.getLogger(__name__)
SCHEMA: Final = "acolhe_connectors"
DDL: Final = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.deliveries (
    channel              text NOT NULL,
    message_id           text NOT NULL,
    state                text NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    provider_message_id  text,
    attempts             integer NOT NULL DEFAULT 0,
    reason               text,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX IF NOT EXISTS deliveries_provider_idx
    ON {schema}.deliveries (channel, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS {schema}.last_inbound (
    channel     text NOT NULL,
    contact_id  text NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (channel, contact_id)
);
"""

DeliveryState = Literal["sending", "sent", "failed"]


@dataclass(frozen=True)
class Delivery:
    message_id: str
    state: DeliveryState
    provider_message_id: str | None
    attempts: int
    reason: str | None


class Ledger:
    """The connectors' tables, over an asyncpg pool."""

    def __init__(
        self, pool: Any, channel: str, *, schema: str = SCHEMA, flush_s: float = 0.2
    ) -> None:
        self._pool = pool
        self.channel = channel
        self.schema = schema
        self.flush_s = flush_s
        self._pending: dict[str, datetime] = {}
        # Notes taken out of `_pending` by a flush whose commit has not come back yet: still
        # the truth for `last_inbound` (the table does not show them until the commit).
        self._writing: list[dict[str, datetime]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def create_tables(self) -> None:
        # One creator at a time: concurrent CREATE ... IF NOT EXISTS can still collide.
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", SCHEMA)
            await conn.execute(DDL.format(schema=self.schema))

    async def delivery(self, message_id: str) -> Delivery | None:
        row = await self._pool.fetchrow(
            f"SELECT message_id, state, provider_message_id, attempts, reason"
            f" FROM {self.schema}.deliveries WHERE channel = $1 AND message_id = $2",
            self.channel,
            message_id,
        )
        return Delivery(**dict(row)) if row else None

    async def attempt(self, message_id: str) -> Delivery:
        """Record one more attempt to send the message (created 'sending' on the first)."""
        row = await self._pool.fetchrow(
            f"INSERT INTO {self.schema}.deliveries (channel, message_id, state, attempts)"
            " VALUES ($1, $2, 'sending', 1)"
            " ON CONFLICT (channel, message_id) DO UPDATE"
            f" SET attempts = {self.schema}.deliveries.attempts + 1, updated_at = now()"
            " RETURNING message_id, state, provider_message_id, attempts, reason",
            self.channel,
            message_id,
        )
        return Delivery(**dict(row))

    async def settle(
        self,
        message_id: str,
        state: Literal["sent", "failed"],
        *,
        provider_message_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        await self._pool.execute(
            f"UPDATE {self.schema}.deliveries SET state = $3, provider_message_id = $4,"
            " reason = $5, updated_at = now() WHERE channel = $1 AND message_id = $2",
            self.channel,
            message_id,
            state,
            provider_message_id,
            reason,
        )

    async def note_provider_id(self, message_id: str, provider_message_id: str) -> None:
        """Note the provider's id of a message the moment the provider took it, before its
        status is published and the delivery settled: a restart in between finds that the
        message went out (a channel's deliverer then does not send it again), and an early
        status report finds our message id by it."""
        await self._pool.execute(
            f"UPDATE {self.schema}.deliveries SET provider_message_id = $3, updated_at = now()"
            " WHERE channel = $1 AND message_id = $2 AND state = 'sending'",
            self.channel,
            message_id,
            provider_message_id,
        )

    async def message_of(self, provider_message_id: str) -> str | None:
        """Our message id of the provider's message id (for status reports)."""
        found: str | None = await self._pool.fetchval(
            f"SELECT message_id FROM {self.schema}.deliveries"
            " WHERE channel = $1 AND provider_message_id = $2",
            self.channel,
            provider_message_id,
        )
        return found

    def note_inbound(self, contact_at: Mapping[str, datetime]) -> None:
        """Note when contacts wrote; written within `flush_s` by one statement for all the
        contacts noted meanwhile (`flush`). A webhook must not wait on a commit of its own
        for this: a commit per request capped a connector at the rate of the disk's
        flushes (measured: 555 webhooks/s), and the note is best effort anyway (the
        window's decision tolerates `flush_s` of staleness, and the log has the truth)."""
        for contact, at in contact_at.items():
            held = self._pending.get(contact)
            if held is None or at > held:
                self._pending[contact] = at
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.flush_s)
        try:
            await self.flush()
        except Exception:  # the notes stay pending for the next flush
            log.warning("could not write the contacts' last messages", exc_info=True)

    async def flush(self) -> None:
        """Write the pending notes now (keeping the latest: redeliveries may be older)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        self._writing.append(pending)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                # Best effort (see note_inbound): no need to wait for the WAL's flush.
                await conn.execute("SET LOCAL synchronous_commit = off")
                await conn.execute(
                    f"INSERT INTO {self.schema}.last_inbound (channel, contact_id, at)"
                    " SELECT $1, c, a FROM unnest($2::text[], $3::timestamptz[]) AS t(c, a)"
                    " ON CONFLICT (channel, contact_id) DO UPDATE"
                    f" SET at = greatest({self.schema}.last_inbound.at, excluded.at)",
                    self.channel,
                    list(pending),
                    list(pending.values()),
                )
        except BaseException:
            for contact, at in pending.items():
                held = self._pending.get(contact)
                self._pending[contact] = at if held is None else max(held, at)
            raise
        finally:
            self._writing.remove(pending)

    async def last_inbound(self, contact_id: str) -> datetime | None:
        """When the contact last wrote, counting notes not yet written and notes being
        written (out of the pending ones, not committed yet: they used to be in neither
        place, and a reply to a contact who had just written could be refused as outside
        WhatsApp's window). The notes in memory are read before the table, so a flush that
        commits in between is seen in one place or the other."""
        held = [n[contact_id] for n in (self._pending, *self._writing) if contact_id in n]
        found: datetime | None = await self._pool.fetchval(
            f"SELECT at FROM {self.schema}.last_inbound WHERE channel = $1 AND contact_id = $2",
            self.channel,
            contact_id,
        )
        return max([*held, found] if found is not None else held, default=None)
