"""Cases and their timelines projected from the conversations: every case closed as its
life ends, every message filed in its case with its furthest delivery status, the opening
message included; the daily figures agree with the rows; a projector restarted half-way
ends with the same tables; duplicated events and a second projector of the same name
writing into the same schema change no figure."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bench.workloads import office_day
from schemas.events import EVENT_TYPES
from streams.projections.folds import CaseProjection
from streams.projections.projector import Projector
from streams.shared.contract import Contract
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
)
from streams.shared.settings import Settings
from tests.integration.projecting import ends, halfway, project_once, publish

CASES = 12
PARTITIONS = 3


@pytest.fixture
async def conversations(settings: Settings) -> AsyncIterator[str]:
    name = f"test.conv.proj.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, PARTITIONS)])
    yield name
    await delete_topics(settings.kafka, [name])


async def test_cases_and_timelines_are_projected_and_survive_a_restart(
    settings: Settings, contract: Contract, conversations: str, pg: Any
) -> None:
    records = office_day(CASES, with_openings=True)
    events = [EVENT_TYPES[n].from_record(r) for n, r in records]
    await publish(settings, contract, conversations, events)
    end = await ends(settings, conversations)
    half = halfway(end)
    run = uuid.uuid4().hex[:8]
    whole, halves = f"t_cases_whole_{run}", f"t_cases_halves_{run}"
    try:
        for schema, group, until in ((whole, "a", end), (halves, "b", half), (halves, "c", end)):
            await project_once(
                settings,
                contract,
                CaseProjection(),
                topic=conversations,
                schema=schema,
                until=until,
                group=f"{group}.{run}",
                max_records=40,
            )

        cases = await pg.fetch(
            f'SELECT case_id, status, agent_id, close_reason FROM "{whole}".cases ORDER BY 1'
        )
        assert len(cases) == CASES
        assert {(r["status"], r["agent_id"], r["close_reason"]) for r in cases} == {
            ("closed", None, "resolved")
        }
        messages = await pg.fetch(
            f'SELECT message_id, case_id, direction, delivery_status FROM "{whole}".case_messages'
        )
        said = [e for e in events if e.NAME in ("MessageReceived", "MessageSent")]
        assert len(messages) == len(said)
        assert all(m["case_id"] is not None for m in messages)  # the opening one too
        outbound = [m for m in messages if m["direction"] == "out"]
        assert outbound
        assert {m["delivery_status"] for m in outbound} == {"read"}

        def snapshot(schema: str) -> str:
            return (
                f'SELECT c.*, (SELECT count(*) FROM "{schema}".case_messages m'
                f' WHERE m.case_id = c.case_id) AS n FROM "{schema}".cases c ORDER BY case_id'
            )

        strip = ("updated_at",)
        restarted = [
            {k: v for k, v in r.items() if k not in strip} for r in await pg.fetch(snapshot(halves))
        ]
        uninterrupted = [
            {k: v for k, v in r.items() if k not in strip} for r in await pg.fetch(snapshot(whole))
        ]
        assert restarted == uninterrupted
        assert await daily_stats(pg, halves) == await daily_stats(pg, whole)
        await assert_daily_stats_recount(pg, whole, cases=CASES)
    finally:
        for schema in (whole, halves):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def daily_stats(pg: Any, schema: str) -> list[dict[str, Any]]:
    rows = await pg.fetch(
        "SELECT day, area, channel, cases_opened, cases_closed, messages_in, messages_out"
        f' FROM "{schema}".daily_stats ORDER BY day, area, channel'
    )
    return [dict(r) for r in rows]


async def assert_daily_stats_recount(pg: Any, schema: str, *, cases: int) -> None:
    """The figures equal a count of the rows: cases per day opened, area and channel;
    closings per day closed; messages per day and channel, each way."""
    q = f'"{schema}"'
    stats = await daily_stats(pg, schema)
    assert sum(r["cases_opened"] for r in stats) == cases
    opened = await pg.fetch(
        f"SELECT {q}.office_day(opened_at) AS day, area, channel, count(*) AS n"
        f" FROM {q}.cases GROUP BY 1, 2, 3"
    )
    assert {(r["day"], r["area"], r["channel"]): r["n"] for r in opened} == {
        (r["day"], r["area"], r["channel"]): r["cases_opened"] for r in stats if r["cases_opened"]
    }
    closed = await pg.fetch(
        f"SELECT {q}.office_day(closed_at) AS day, area, channel, count(*) AS n"
        f" FROM {q}.cases WHERE closed_at IS NOT NULL GROUP BY 1, 2, 3"
    )
    assert {(r["day"], r["area"], r["channel"]): r["n"] for r in closed} == {
        (r["day"], r["area"], r["channel"]): r["cases_closed"] for r in stats if r["cases_closed"]
    }
    said = await pg.fetch(
        f"SELECT {q}.office_day(occurred_at) AS day, channel, direction, count(*) AS n"
        f" FROM {q}.case_messages GROUP BY 1, 2, 3"
    )
    counted: dict[tuple[Any, str, str], int] = {}
    for r in stats:
        for direction, column in (("in", "messages_in"), ("out", "messages_out")):
            if r[column]:
                key = (r["day"], r["channel"], direction)
                counted[key] = counted.get(key, 0) + r[column]
    assert {(r["day"], r["channel"], r["direction"]): r["n"] for r in said} == counted


async def test_duplicates_and_a_second_projector_count_nothing_twice(
    settings: Settings, contract: Contract, conversations: str, pg: Any
) -> None:
    """At-least-once upstream: every event is in the log twice (same ids, later offsets).
    Two projectors of the same name (say, a zombie after a rebalance) write into one schema
    from separate consumer groups, interleaved: the second finds the stored positions moved
    and rewinds instead of applying a batch again."""
    records = office_day(CASES, with_openings=True)
    events = [EVENT_TYPES[n].from_record(r) for n, r in records]
    for _ in range(2):
        await publish(settings, contract, conversations, events)
    end = await ends(settings, conversations)
    run = uuid.uuid4().hex[:8]
    schema = f"t_cases_dup_{run}"
    first, second = (
        Projector(
            settings,
            contract,
            CaseProjection(),
            schema=schema,
            topic=conversations,
            group_id=f"{group}.{run}",
            max_records=40,
        )
        for group in ("a", "b")
    )
    try:
        await first.start()
        await second.start()

        async def interleaved() -> None:
            while True:
                stored = await first.positions()
                if all(stored.get(tp, 0) >= offset for tp, offset in end.items()):
                    return
                await first.step(timeout_ms=200)
                await second.step(timeout_ms=200)

        await asyncio.wait_for(interleaved(), timeout=120)
        assert first.stats.moved + second.stats.moved > 0
        await assert_daily_stats_recount(pg, schema, cases=CASES)
        said = [e for e in events if e.NAME in ("MessageReceived", "MessageSent")]
        stats = await daily_stats(pg, schema)
        assert sum(r["messages_in"] + r["messages_out"] for r in stats) == len(said)
        statuses = await pg.fetch(
            f'SELECT DISTINCT delivery_status FROM "{schema}".case_messages WHERE direction = $1',
            "out",
        )
        assert {r["delivery_status"] for r in statuses} == {"read"}
    finally:
        await first.stop()
        await second.stop()
        await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
