"""Projected rows and their offsets land in Postgres in one transaction: a batch applied
twice, or an older row arriving late, changes nothing; a failed batch leaves nothing."""

from __future__ import annotations

from typing import Any

import pytest

from streams.projections.writer import Position, Upsert, stored_positions, write


@pytest.fixture
async def tables(pg: Any, pg_schema: str) -> str:
    await pg.execute(
        f"""
        CREATE TABLE "{pg_schema}".cases (
            case_id text PRIMARY KEY, status text NOT NULL, agent_id text,
            version bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE "{pg_schema}".projection_offsets (
            projector text, topic text, partition int, next_offset bigint NOT NULL,
            PRIMARY KEY (projector, topic, partition));
        """
    )
    return pg_schema


def case(case_id: str, status: str, version: int, agent: str | None = None) -> Upsert:
    return Upsert(
        "cases",
        ("case_id",),
        {"case_id": case_id, "status": status, "agent_id": agent, "version": version},
    )


async def rows(pg: Any, schema: str) -> list[tuple[Any, ...]]:
    found = await pg.fetch(
        f'SELECT case_id, status, agent_id, version FROM "{schema}".cases ORDER BY 1'
    )
    return [tuple(r) for r in found]


async def test_the_newest_row_wins_whatever_the_order_and_however_often(
    pg: Any, tables: str
) -> None:
    batch = [case("c1", "queued", 10), case("c1", "assigned", 12, "ana"), case("c2", "queued", 11)]
    await write(pg, tables, batch, [Position("acolhe.conversations", 3, 13)], projector="p")

    # The same batch again (a restart before the offsets were read), then a stale row.
    await write(pg, tables, batch, [Position("acolhe.conversations", 3, 13)], projector="p")
    await write(pg, tables, [case("c1", "queued", 10)], [], projector="p")

    assert await rows(pg, tables) == [("c1", "assigned", "ana", 12), ("c2", "queued", None, 11)]
    assert await stored_positions(pg, tables, "p") == {("acolhe.conversations", 3): 13}


async def test_a_batch_that_fails_leaves_neither_rows_nor_offsets(pg: Any, tables: str) -> None:
    await write(pg, tables, [case("c1", "queued", 1)], [Position("t", 0, 2)], projector="p")
    broken = [
        case("c2", "queued", 5),
        Upsert(
            "cases",
            ("case_id",),
            {"case_id": "c3", "status": None, "agent_id": None, "version": 6},
        ),
    ]

    with pytest.raises(Exception, match="null value"):
        await write(pg, tables, broken, [Position("t", 0, 7)], projector="p")

    assert await rows(pg, tables) == [("c1", "queued", None, 1)]
    assert await stored_positions(pg, tables, "p") == {("t", 0): 2}


async def test_partial_rows_are_refused_before_anything_is_written(pg: Any, tables: str) -> None:
    # Keeping only the newest row of a key is right for whole rows only: a partial row
    # would drop what an older row of the batch set in other columns.
    partial = Upsert("cases", ("case_id",), {"case_id": "c1", "status": "closed", "version": 9})

    with pytest.raises(ValueError, match="write whole rows"):
        await write(pg, tables, [case("c1", "assigned", 8, "ana"), partial], [], projector="p")

    assert await rows(pg, tables) == []
