"""The read model's migrations on the real PostgreSQL: a fresh schema gets every table and
view, a second run applies nothing, concurrent runs apply each migration once, a changed or
failing migration is refused, and the agent app's queries run on the migrated schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from schemas.events import Priority
from streams.projections import migrations
from streams.projections.migrations import (
    Migration,
    MigrationChanged,
    MigrationFailed,
    MigrationMissing,
    load_migrations,
    lock_key,
    migrate,
    status,
)
from streams.projections.queries import (
    ALL,
    MY_QUEUE_WAITING,
    NEXT_CASE_IN_MY_QUEUES,
    Query,
)
from streams.routing.state import PRIORITY_RANK
from streams.shared.errors import RetriableInfrastructureError
from streams.shared.settings import Settings

TIMEOUT_S = 60.0
TABLES = {
    "acolhe_migrations",
    "agent_holds",
    "agent_queues",
    "agent_teams",
    "agents",
    "blocked_citizens",
    "case_messages",
    "cases",
    "daily_stats",
    "projection_offsets",
    "queue_teams",
    "sla_clocks",
}
VIEWS = {"queue_cases", "queues", "sla_board"}


@pytest.fixture
async def fresh_schema(pg: Any) -> AsyncIterator[str]:
    """A schema name nobody created yet; dropped afterwards if a test created it."""
    name = f"t_mig_{uuid.uuid4().hex[:12]}"
    yield name
    await pg.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[Any]:
    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=4, max_size=4)
    yield pool
    await pool.close()


async def relations(pg: Any, schema: str, kind: str) -> set[str]:
    rows = await pg.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind::text = $2",
        schema,
        kind,
    )
    return {r["relname"] for r in rows}


async def record(pg: Any, schema: str) -> list[tuple[int, str, str, datetime]]:
    rows = await pg.fetch(
        f'SELECT version, name, checksum, applied_at FROM "{schema}".acolhe_migrations '
        "ORDER BY version"
    )
    return [tuple(r) for r in rows]


async def test_a_fresh_schema_is_created_with_every_table_and_view(
    pg: Any, fresh_schema: str
) -> None:
    shipped = load_migrations()

    applied = await asyncio.wait_for(migrate(pg, fresh_schema), TIMEOUT_S)

    assert applied == [m.version for m in shipped]
    assert await relations(pg, fresh_schema, "r") == TABLES
    assert await relations(pg, fresh_schema, "v") == VIEWS
    assert [(v, n, c) for v, n, c, _ in await record(pg, fresh_schema)] == [
        (m.version, m.name, m.checksum) for m in shipped
    ]


async def test_every_table_view_and_column_says_what_it_holds(pg: Any, pg_schema: str) -> None:
    await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)

    uncommented = await pg.fetch(
        "SELECT c.relname, a.attname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'v') "
        "AND col_description(c.oid, a.attnum) IS NULL "
        # a view's columns taken straight from cases or sla_clocks are described there
        "AND NOT (c.relkind = 'v' AND a.attname IN "
        "  (SELECT attname FROM pg_attribute WHERE attrelid IN ("
        "     format('%I.cases', n.nspname)::regclass,"
        "     format('%I.sla_clocks', n.nspname)::regclass)))",
        pg_schema,
    )
    assert [tuple(r) for r in uncommented] == []
    tables_without = await pg.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'i') AND obj_description(c.oid) IS NULL "
        "AND c.relname NOT LIKE '%_pkey'",
        pg_schema,
    )
    assert [r["relname"] for r in tables_without] == []


async def test_migrating_twice_applies_nothing_the_second_time(pg: Any, pg_schema: str) -> None:
    first = await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)
    before = await record(pg, pg_schema)

    second = await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)

    assert first == [m.version for m in load_migrations()]
    assert second == []
    assert await record(pg, pg_schema) == before


async def test_concurrent_migrations_of_a_fresh_schema_apply_each_migration_once(
    pool: Any, pg: Any, fresh_schema: str
) -> None:
    results = await asyncio.wait_for(
        asyncio.gather(*(migrate(pool, fresh_schema) for _ in range(4))), TIMEOUT_S
    )

    shipped = [m.version for m in load_migrations()]
    assert sorted(v for r in results for v in r) == shipped
    assert [v for v, *_ in await record(pg, fresh_schema)] == shipped
    assert await relations(pg, fresh_schema, "v") == VIEWS


async def test_concurrent_migrators_take_turns_migration_by_migration(
    pool: Any, pg: Any, fresh_schema: str
) -> None:
    # Each migration sleeps inside its transaction and creates a table without IF NOT
    # EXISTS: applied twice, it would fail.
    steps = [
        Migration(n, f"step_{n}", f"CREATE TABLE {{schema}}.t{n} (x int); SELECT pg_sleep(0.05);")
        for n in range(1, 4)
    ]

    results = await asyncio.wait_for(
        asyncio.gather(*(migrate(pool, fresh_schema, migrations=steps) for _ in range(4))),
        TIMEOUT_S,
    )

    assert sorted(v for r in results for v in r) == [1, 2, 3]
    assert await relations(pg, fresh_schema, "r") == {"acolhe_migrations", "t1", "t2", "t3"}


async def test_a_changed_migration_file_is_refused_naming_its_version(
    pg: Any, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)
    before = await record(pg, pg_schema)
    first, *rest = load_migrations()
    edited = Migration(first.version, first.name, first.sql + "\n-- a tidy-up", first.source)
    monkeypatch.setattr(migrations, "load_migrations", lambda: (edited, *rest))

    with pytest.raises(MigrationChanged, match=f"migration 0001 changed .* schema '{pg_schema}'"):
        await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)
    with pytest.raises(MigrationChanged, match="migration 0001 changed"):
        await status(pg, pg_schema)
    assert await record(pg, pg_schema) == before


async def test_a_migration_applied_but_no_longer_shipped_is_refused(
    pg: Any, pg_schema: str
) -> None:
    steps = [Migration(n, f"step_{n}", f"CREATE TABLE {{schema}}.t{n} (x int);") for n in (1, 2)]
    await migrate(pg, pg_schema, migrations=steps)

    with pytest.raises(MigrationMissing, match="has migration 0002_step_2 applied"):
        await migrate(pg, pg_schema, migrations=steps[:1])


async def test_a_failing_migration_rolls_back_whole_and_can_be_fixed(
    pg: Any, pg_schema: str
) -> None:
    good = Migration(1, "good", "CREATE TABLE {schema}.kept (x int);")
    broken = Migration(2, "broken", "CREATE TABLE {schema}.half (x int); SELECT 1/0;")

    with pytest.raises(MigrationFailed, match=r"0002_broken .* rolled back.*DivisionByZero"):
        await migrate(pg, pg_schema, migrations=[good, broken])

    assert [v for v, *_ in await record(pg, pg_schema)] == [1]
    assert await relations(pg, pg_schema, "r") == {"acolhe_migrations", "kept"}
    fixed = Migration(2, "broken", "CREATE TABLE {schema}.half (x int);")
    assert await migrate(pg, pg_schema, migrations=[good, fixed]) == [2]


async def test_a_migrator_waits_for_the_lock_only_as_long_as_told(
    pg: Any, settings: Settings, pg_schema: str
) -> None:
    holder = await asyncpg.connect(settings.postgres.dsn.reveal())
    try:
        await holder.execute("SELECT pg_advisory_lock($1::bigint)", lock_key(pg_schema))

        with pytest.raises(RetriableInfrastructureError, match="lock was not granted in time"):
            await asyncio.wait_for(migrate(pg, pg_schema, lock_timeout_s=0.2), TIMEOUT_S)

        await holder.execute("SELECT pg_advisory_unlock($1::bigint)", lock_key(pg_schema))
    finally:
        await holder.close()
    assert await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S) == [
        m.version for m in load_migrations()
    ]


async def test_status_reads_a_missing_schema_without_creating_it(
    pg: Any, fresh_schema: str
) -> None:
    before = await status(pg, fresh_schema)
    assert before.applied == ()
    assert before.pending == load_migrations()
    assert await pg.fetchval("SELECT to_regnamespace($1)", fresh_schema) is None

    await migrate(pg, fresh_schema)
    after = await status(pg, fresh_schema)
    assert [a.version for a in after.applied] == [m.version for m in load_migrations()]
    assert after.pending == ()


@pytest.mark.parametrize("query", ALL, ids=lambda q: q.name)
async def test_the_documented_queries_run_on_a_migrated_schema(
    pg: Any, pg_schema: str, query: Query
) -> None:
    await migrate(pg, pg_schema)

    rows = await asyncio.wait_for(pg.fetch(query.render(pg_schema), *query.example_args), TIMEOUT_S)

    assert rows == []


async def test_queues_serve_in_the_routers_order(pg: Any, pg_schema: str) -> None:
    await migrate(pg, pg_schema)
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    arrivals: list[tuple[Priority, int]] = [
        ("normal", 0),
        ("low", -30),
        ("urgent", 20),
        ("unknown", -5),
        ("high", 10),
        ("urgent", 15),
        ("normal", 1),
    ]
    waiting = [
        (f"case-{n}", priority, start + timedelta(minutes=minutes))
        for n, (priority, minutes) in enumerate(arrivals)
    ]
    await pg.executemany(
        f'INSERT INTO "{pg_schema}".cases (case_id, contact_id, citizen_id, channel, status, '
        "priority, queue_id, queued_at, opened_at, version) "
        "VALUES ($1, 'contact', 'citizen', 'whatsapp', 'queued', $2, 'familia-capital', $3, $3, 0)",
        waiting,
    )
    expected = [c for c, *_ in sorted(waiting, key=lambda w: (PRIORITY_RANK[w[1]], w[2], w[0]))]

    ranks = dict(await pg.fetch(f'SELECT priority, priority_rank FROM "{pg_schema}".cases'))
    listed = await pg.fetch(MY_QUEUE_WAITING.render(pg_schema), "familia-capital", 50)
    nxt = await pg.fetchrow(
        NEXT_CASE_IN_MY_QUEUES.render(pg_schema), ["saude-urgente", "familia-capital"]
    )

    assert ranks == dict(PRIORITY_RANK)
    assert [(r["position"], r["case_id"]) for r in listed] == list(enumerate(expected, start=1))
    assert nxt["case_id"] == expected[0]
