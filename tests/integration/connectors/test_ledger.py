"""The connectors' ledger against the real PostgreSQL: when a contact last wrote (what
WhatsApp's 24-hour window is decided on) is known at every moment, also while the note is
on its way to the table.

The ledger writes the notes of many webhooks at once, shortly after (`Ledger.note_inbound`).
A flush takes the pending notes out before its INSERT commits; a reply decided meanwhile
must still see them, or a citizen who has just written is refused a free-form answer as
outside the window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from connectors.common.ledger import Ledger
from streams.shared.settings import Settings

CONTACT = "whatsapp-0123456789abcdef0123456789abcdef"
EARLIER = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LATER = EARLIER + timedelta(days=1)


async def test_a_note_being_written_still_counts_for_the_window(
    settings: Settings, pg: Any, pg_schema: str
) -> None:
    async with asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=4) as pool:
        ledger = Ledger(pool, "whatsapp", schema=pg_schema)
        await ledger.create_tables()
        ledger.note_inbound({CONTACT: EARLIER})
        await ledger.flush()
        assert await ledger.last_inbound(CONTACT) == EARLIER

        # Another transaction holds the contact's row, so the next flush stops mid-write:
        # its notes are out of the pending ones and not yet in the table.
        async with pg.transaction():
            await pg.execute(
                f'SELECT 1 FROM "{pg_schema}".last_inbound WHERE contact_id = $1 FOR UPDATE',
                CONTACT,
            )
            ledger.note_inbound({CONTACT: LATER})
            flushing = asyncio.create_task(ledger.flush())
            await _until_waiting_on_a_lock(pg)
            assert not flushing.done()

            assert await ledger.last_inbound(CONTACT) == LATER

        await flushing
        assert await ledger.last_inbound(CONTACT) == LATER
        stored = await pg.fetchval(
            f'SELECT at FROM "{pg_schema}".last_inbound WHERE contact_id = $1', CONTACT
        )
        assert stored == LATER


async def _until_waiting_on_a_lock(pg: Any) -> None:
    """Until another session waits on a lock (the ledger's INSERT on the held row; polls of
    pg_stat_activity, 10 s at most)."""
    for _ in range(500):
        waiting = await pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the ledger's flush never waited on the held row")
