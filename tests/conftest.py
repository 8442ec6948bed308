"""Fixtures shared by every test: settings, the real stack, a topic and a schema per test.

The stack fixture uses the servers named in the environment (ACOLHE_KAFKA_BOOTSTRAP_SERVERS,
ACOLHE_POSTGRES_DSN) when set; otherwise it starts the local stack if it is not running,
and stops at the end only what it started itself.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics
from streams.shared.postgres import connect
from streams.shared.settings import Settings
from streams.stack.manager import Stack

SETUP_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Stack]:
    local = Stack(settings)
    started: list[str] = []
    if not settings.uses_external_kafka and local.kafka.pid() is None:
        started.append("kafka")
    if not settings.uses_external_postgres and local.postgres.pid() is None:
        started.append("postgres")
    if started:
        local.up()
    unhealthy = [c for c in local.status() if not c.healthy]
    assert not unhealthy, f"stack not healthy: {unhealthy}"
    yield local
    if "kafka" in started:
        local.kafka.stop()
    if "postgres" in started:
        local.postgres.stop()


def _unique(request: pytest.FixtureRequest, prefix: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:30].strip("_")
    return f"{prefix}{base}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def topic(
    stack: Stack, settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A fresh 6-partition topic for this test, deleted afterwards."""
    name = _unique(request, "test.")
    await asyncio.wait_for(
        ensure_topics(settings.kafka, [TopicSpec(name, partitions=6)]), SETUP_TIMEOUT_S
    )
    yield name
    await asyncio.wait_for(delete_topics(settings.kafka, [name]), SETUP_TIMEOUT_S)


@pytest.fixture
async def pg(stack: Stack, settings: Settings) -> AsyncIterator[Any]:
    """A connection to the test database (asyncpg.Connection)."""
    conn = await asyncio.wait_for(connect(settings.postgres), SETUP_TIMEOUT_S)
    yield conn
    await conn.close()


@pytest.fixture
async def pg_schema(pg: Any, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh Postgres schema for this test, dropped afterwards."""
    name = _unique(request, "t_")
    await pg.execute(f'CREATE SCHEMA "{name}"')
    yield name
    await pg.execute(f'DROP SCHEMA "{name}" CASCADE')
