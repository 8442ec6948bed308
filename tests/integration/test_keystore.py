"""Data keys live in Postgres wrapped by the master key; destroying one shreds the data."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from schemas.codec import Codec, SchemaSet, load_schema
from schemas.personal import ERASED
from streams.shared.errors import InfrastructureError
from streams.shared.keystore import PostgresKeyStore, SubjectErased
from streams.shared.settings import Settings
from tests.unit.test_codec import NOTE_V1, note

MASTER = os.urandom(32)


@pytest.fixture
async def pool(settings: Settings, pg_schema: str) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
async def store(pool: Any, pg_schema: str) -> PostgresKeyStore:
    store = PostgresKeyStore(pool, MASTER, schema=pg_schema)
    await store.create_tables()
    return store


async def test_keys_survive_a_restart_and_decrypt_what_was_written(
    pool: Any, store: PostgresKeyStore, pg_schema: str
) -> None:
    codec = Codec(SchemaSet([load_schema(NOTE_V1)]))
    await store.ensure(["citizen-1"])
    data = codec.encode("NoteTaken", note(), store)

    restarted = PostgresKeyStore(pool, MASTER, schema=pg_schema)
    await restarted.load(["citizen-1"])

    assert codec.decode(data, restarted).record == note()


async def test_destroying_a_key_erases_the_citizen_everywhere_and_for_good(
    pool: Any, store: PostgresKeyStore, pg_schema: str
) -> None:
    codec = Codec(SchemaSet([load_schema(NOTE_V1)]))
    await store.ensure(["citizen-1", "citizen-2"])
    mine = codec.encode("NoteTaken", note(), store)
    theirs = codec.encode("NoteTaken", note(subject_id="citizen-2"), store)

    assert await store.destroy("citizen-1")

    fresh = PostgresKeyStore(pool, MASTER, schema=pg_schema)
    await fresh.load(["citizen-1", "citizen-2"])
    assert codec.decode(mine, fresh).record["text"] is ERASED
    assert codec.decode(theirs, fresh).record["text"] == note()["text"]
    # An erased citizen never gets a new key by accident.
    await fresh.ensure(["citizen-1"])
    with pytest.raises(SubjectErased):
        codec.encode("NoteTaken", note(), fresh)
    row = await pool.fetchrow(
        f'SELECT wrapped_key, destroyed_at FROM "{pg_schema}".data_keys WHERE subject_id = $1',
        "citizen-1",
    )
    assert row["wrapped_key"] is None
    assert row["destroyed_at"] is not None


async def test_the_table_holds_no_usable_key_without_the_master_key(
    pool: Any, store: PostgresKeyStore, pg_schema: str
) -> None:
    await store.ensure(["citizen-1"])
    wrong = PostgresKeyStore(pool, os.urandom(32), schema=pg_schema)

    with pytest.raises(InfrastructureError, match="ACOLHE_MASTER_KEY"):
        await wrong.load(["citizen-1"])


async def test_a_running_worker_stops_using_a_key_destroyed_elsewhere(
    pool: Any, store: PostgresKeyStore, pg_schema: str
) -> None:
    codec = Codec(SchemaSet([load_schema(NOTE_V1)]))
    await store.ensure(["citizen-1", "citizen-2"])
    sealed = codec.encode("NoteTaken", note(), store)
    worker = PostgresKeyStore(pool, MASTER, schema=pg_schema, recheck_s=0.05)
    await worker.ensure(["citizen-1", "citizen-2"])
    assert codec.decode(sealed, worker).record["text"] == note()["text"]

    assert await store.shred("citizen-1") == "destroyed"

    async def until_erased() -> None:
        # What a worker does every batch: load the keys, then open the fields.
        while True:
            await worker.load(["citizen-1"])
            if codec.decode(sealed, worker).record["text"] is ERASED:
                return
            await asyncio.sleep(0.01)  # a poll interval, not a synchronisation

    await asyncio.wait_for(until_erased(), timeout=10)
    await worker.ensure(["citizen-1", "citizen-2"])
    with pytest.raises(SubjectErased):
        codec.encode("NoteTaken", note(), worker)
    # The other citizen's key is untouched.
    assert codec.encode("NoteTaken", note(subject_id="citizen-2"), worker)


async def test_shredding_says_what_it_did_and_a_second_time_changes_nothing(
    store: PostgresKeyStore,
) -> None:
    await store.ensure(["citizen-1"])

    assert await store.shred("citizen-1") == "destroyed"
    assert await store.shred("citizen-1") == "already_destroyed"
    assert await store.shred("never-seen") == "tombstoned"
    assert await store.shred("never-seen") == "already_tombstoned"
    assert not await store.destroy("citizen-1")
