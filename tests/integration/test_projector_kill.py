"""Kill the SLA clocks projector (SIGKILL) at random instants and start it again: the table
it ends with is the one an uninterrupted run leaves (issue 6: exactly once into Postgres)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.workloads import office_day
from schemas.events import EVENT_TYPES
from streams.projections.folds import CaseProjection, ClockProjection
from streams.shared.contract import Contract
from streams.shared.settings import Settings
from tests.integration.projecting import ends, project_once, publish
from tests.integration.test_case_projector import assert_daily_stats_recount, daily_stats
from tests.integration.test_clock_projector import (
    sla_events,
    table,
)
from tests.integration.test_clock_projector import sla_topic as _sla_topic

sla_topic = _sla_topic  # the fixture, shared
CASES_KILLED = 20


def many_events(copies: int) -> list[Any]:
    """The SLA events of test_clock_projector, `copies` times over distinct cases."""
    out = []
    for k in range(copies):
        for event in sla_events():
            record = event.to_record()
            for field in ("event_id", "case_id", "clock_id"):
                record[field] = f"{record[field]}-{k}"
            out.append(type(event).from_record(record))
    return out


async def stored(pg: Any, schema: str) -> dict[tuple[str, int], int]:
    if await pg.fetchval("SELECT to_regclass($1)", f"{schema}.projection_offsets") is None:
        return {}
    found = await pg.fetch(
        f'SELECT topic, partition, next_offset FROM "{schema}".projection_offsets'
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in found}


async def kill_at_random(
    pg: Any, tmp_path: Path, *, projection: str, topic: str, schema: str, end: Any
) -> None:
    """Run the projector in its own process and SIGKILL it six times at random instants
    (at least three of them with work left), then let a seventh run finish the log."""
    env = dict(
        os.environ,
        WORKER_PROJECTION=projection,
        WORKER_TOPIC=topic,
        WORKER_SCHEMA=schema,
        WORKER_GROUP=f"kill.{schema}",
        WORKER_PAUSE_S="0.03",  # slow enough that a kill lands mid-stream
    )
    chance = random.Random(20261128)
    kills = mid_stream = 0
    log = tmp_path / "worker.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        log = tmp_path / f"worker-{kills}.log"
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.integration.workers.projector",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        try:
            if kills < 6:
                await asyncio.sleep(chance.uniform(2.0, 4.5))  # a random instant to die at
                worker.send_signal(signal.SIGKILL)
                kills += 1
                at = await stored(pg, schema)
                mid_stream += 0 < sum(at.values()) < sum(end.values())
            else:
                while sum((await stored(pg, schema)).values()) < sum(end.values()):
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.3)
                worker.send_signal(signal.SIGTERM)
                break
        finally:
            await asyncio.wait_for(worker.wait(), timeout=30)
    assert kills == 6
    assert mid_stream >= 3, "the projector must die while it still has work"
    assert await stored(pg, schema) == end, log.read_text()[-3000:]


async def test_killed_at_random_the_projector_leaves_the_uninterrupted_table(
    settings: Settings, contract: Contract, sla_topic: str, pg: Any, tmp_path: Path
) -> None:
    events = many_events(3)
    await publish(settings, contract, sla_topic, events, key="case_id")
    end = await ends(settings, sla_topic)
    run = uuid.uuid4().hex[:8]
    killed, whole = f"t_kill_{run}", f"t_kill_whole_{run}"
    try:
        await kill_at_random(
            pg, tmp_path, projection="sla_clocks", topic=sla_topic, schema=killed, end=end
        )
        await project_once(
            settings,
            contract,
            ClockProjection(),
            topic=sla_topic,
            schema=whole,
            until=end,
            group=f"calm.{run}",
        )
        expected = await table(pg, whole)
        assert len(expected) == len({e.clock_id for e in events})
        assert await table(pg, killed) == expected
    finally:
        for schema in (killed, whole):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_killed_at_random_the_case_projector_counts_every_event_once(
    settings: Settings, sla_topic: str, pg: Any, tmp_path: Path
) -> None:
    """The daily figures have no version guard: a batch counted twice, or lost, after a
    kill would show. Sealed with the settings' own key store, as the worker reads them."""
    events = [
        EVENT_TYPES[n].from_record(r) for n, r in office_day(CASES_KILLED, with_openings=True)
    ]
    contract = await Contract.open(settings)
    try:
        await publish(settings, contract, sla_topic, events)
        end = await ends(settings, sla_topic)
        run = uuid.uuid4().hex[:8]
        killed, whole = f"t_kill_cases_{run}", f"t_kill_cases_whole_{run}"
        try:
            await kill_at_random(
                pg, tmp_path, projection="cases", topic=sla_topic, schema=killed, end=end
            )
            await project_once(
                settings,
                contract,
                CaseProjection(),
                topic=sla_topic,
                schema=whole,
                until=end,
                group=f"calm.{run}",
            )
            expected = await daily_stats(pg, whole)
            assert sum(r["cases_opened"] for r in expected) == CASES_KILLED
            assert await daily_stats(pg, killed) == expected
            await assert_daily_stats_recount(pg, killed, cases=CASES_KILLED)
            rows = 'SELECT case_id, status, version FROM "{}".cases ORDER BY case_id'
            assert await pg.fetch(rows.format(killed)) == await pg.fetch(rows.format(whole))
        finally:
            for schema in (killed, whole):
                await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await contract.close()
