import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from streams.shared.contract import Contract
from streams.shared.keystore import PostgresKeyStore
from streams.shared.settings import Settings

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def master_key() -> bytes:
    """This test's own master key (its key store's)."""
    return os.urandom(32)


@pytest.fixture
async def key_store(
    settings: Settings, pg_schema: str, master_key: bytes
) -> AsyncIterator[PostgresKeyStore]:
    """A key store in this test's own schema, under a master key of its own."""
    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=2)
    store = PostgresKeyStore(pool, master_key, schema=pg_schema)
    await store.create_tables()
    yield store
    await pool.close()


@pytest.fixture
async def contract(settings: Settings, key_store: PostgresKeyStore) -> AsyncIterator[Contract]:
    """The codec and that key store, as a processor would open them."""
    contract = await Contract.open(settings, keys=key_store)
    yield contract
    await contract.close()
