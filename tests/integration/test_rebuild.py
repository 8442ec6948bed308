"""`acolhe projections rebuild`: the whole log replayed into a fresh schema by worker
processes, then switched in atomically, gives the tables an uninterrupted live projector
gives; and a live projector that kept writing the old schema meanwhile rewinds to the
rebuilt positions after the switch, so nothing it wrote in between is lost or doubled."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bench.workloads import office_day
from schemas.events import EVENT_TYPES
from streams.projections import migrations
from streams.projections.folds import CaseProjection
from streams.projections.projector import Projector
from streams.projections.rebuild import KeySpec, Progress, rebuild, switch_schemas
from streams.shared.contract import Contract
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics
from streams.shared.postgres import connect
from streams.shared.settings import Settings
from tests.integration.projecting import ends, project, project_once, publish
from tests.integration.test_case_projector import daily_stats

PARTITIONS = 3


@pytest.fixture
async def conversations(settings: Settings) -> AsyncIterator[str]:
    name = f"test.conv.rebuild.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, PARTITIONS)])
    yield name
    await delete_topics(settings.kafka, [name])


async def publish_records(
    settings: Settings, contract: Contract, topic: str, records: list[Any]
) -> None:
    await publish(settings, contract, topic, [EVENT_TYPES[n].from_record(r) for n, r in records])


async def tables(pg: Any, schema: str) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for table, key in (("cases", "case_id"), ("case_messages", "message_id")):
        rows = await pg.fetch(f'SELECT * FROM "{schema}".{table} ORDER BY {key}')
        out[table] = [{k: v for k, v in r.items() if k != "updated_at"} for r in rows]
    out["daily_stats"] = await daily_stats(pg, schema)
    return out


def live(settings: Settings, contract: Contract, topic: str, schema: str, group: str) -> Projector:
    return Projector(
        settings,
        contract,
        CaseProjection(),
        schema=schema,
        topic=topic,
        group_id=group,
        max_records=100,
    )


async def indexes(pg: Any, schema: str) -> set[tuple[str, str]]:
    """Each index of `schema` as (table, definition), the schema's name taken out."""
    found = await pg.fetch(
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = $1", schema
    )
    return {
        (r["tablename"], r["indexdef"].replace(f'"{schema}"', "S").replace(schema, "S"))
        for r in found
    }


async def test_a_rebuild_switches_in_the_tables_a_live_projector_would_have(
    settings: Settings,
    contract: Contract,
    conversations: str,
    pg: Any,
    pg_schema: str,
    master_key: bytes,
) -> None:
    day = office_day(40, with_openings=True)
    first, later = day[: len(day) // 2], day[len(day) // 2 :]
    await publish_records(settings, contract, conversations, first)
    run = uuid.uuid4().hex[:8]
    served, reference = f"t_rb_live_{run}", f"t_rb_ref_{run}"
    projector = live(settings, contract, conversations, served, f"live.{run}")
    await projector.start()
    seen: list[Progress] = []
    try:
        await project(projector, await ends(settings, conversations))
        report = await rebuild(
            settings,
            schema=served,
            topics={"cases": conversations},
            workers=2,
            keys=KeySpec(pg_schema, master_key),
            on_progress=seen.append,
            switch=False,
        )
        assert report.schema == f"{served}_rebuild"
        assert report.events == sum((await ends(settings, conversations)).values())
        assert seen[-1].done == seen[-1].total == report.events
        # The live projector goes on writing the live schema: it is ahead of the rebuild.
        await publish_records(settings, contract, conversations, later[:200])
        await project(projector, await ends(settings, conversations))
        # Who serves which queue is not in the log (`acolhe access sync`): it must survive.
        await pg.execute(
            f'INSERT INTO "{served}".agent_queues VALUES ($1, $2)', "agent-1", "familia-capital"
        )
        conn = await connect(settings.postgres)
        try:
            assert await switch_schemas(conn, served, report.schema) == f"{served}_previous"
        finally:
            await conn.close()
        assert [tuple(r) for r in await pg.fetch(f'SELECT * FROM "{served}".agent_queues')] == [
            ("agent-1", "familia-capital")
        ]
        # After the switch its next batch does not start where the rebuilt rows say: it
        # rewinds and applies the 200 records again, into the rebuilt schema.
        await publish_records(settings, contract, conversations, later[200:])
        await project(projector, await ends(settings, conversations))
        assert projector.stats.moved >= 1

        await project_once(
            settings,
            contract,
            CaseProjection(),
            topic=conversations,
            schema=reference,
            until=await ends(settings, conversations),
            group=f"ref.{run}",
        )
        rebuilt, uninterrupted = await tables(pg, served), await tables(pg, reference)
        assert len(rebuilt["cases"]) == 40
        assert rebuilt == uninterrupted
        # The bulk phase loads without the secondary indexes and builds them afterwards:
        # the switched-in schema has every index a migrated one has.
        assert await indexes(pg, served) == await indexes(pg, reference)
    finally:
        await projector.stop()
        for schema in (served, f"{served}_previous", f"{served}_rebuild", reference):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_a_live_schema_from_before_the_access_tables_is_switched_out_all_the_same(
    settings: Settings, pg: Any
) -> None:
    """A rebuild is how a deployment moves to new migrations: the live schema may predate
    them (here: no access tables at all)."""
    run = uuid.uuid4().hex[:8]
    served, fresh = f"t_rb_old_{run}", f"t_rb_old_{run}_rebuild"
    await pg.execute(
        f'CREATE SCHEMA "{served}";'
        f' CREATE TABLE "{served}".projection_offsets (projector text, topic text,'
        " partition int, next_offset bigint)"
    )
    conn = await connect(settings.postgres)
    try:
        await migrations.migrate(conn, fresh)
        assert await switch_schemas(conn, served, fresh) == f"{served}_previous"
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", served
        )
        assert tables > 1  # the migrated tables, now under the live name
    finally:
        await conn.close()
        for schema in (served, f"{served}_previous", fresh):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
