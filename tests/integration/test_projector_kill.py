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

from streams.projections.folds import ClockProjection
from streams.projections.projector import Projector
from streams.shared.contract import Contract
from streams.shared.settings import Settings
from tests.integration.projecting import ends, project, publish
from tests.integration.test_clock_projector import (
    sla_events,
    table,
)
from tests.integration.test_clock_projector import sla_topic as _sla_topic

sla_topic = _sla_topic  # the fixture, shared


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


async def test_killed_at_random_the_projector_leaves_the_uninterrupted_table(
    settings: Settings, contract: Contract, sla_topic: str, pg: Any, tmp_path: Path
) -> None:
    events = many_events(3)
    await publish(settings, contract, sla_topic, events, key="case_id")
    end = await ends(settings, sla_topic)
    run = uuid.uuid4().hex[:8]
    killed, whole = f"t_kill_{run}", f"t_kill_whole_{run}"
    env = dict(
        os.environ,
        WORKER_TOPIC=sla_topic,
        WORKER_SCHEMA=killed,
        WORKER_GROUP=f"kill.{run}",
        WORKER_PAUSE_S="0.03",  # slow enough that a kill lands mid-stream
    )
    chance = random.Random(20261128)
    kills = mid_stream = 0
    try:
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
                    at = await stored(pg, killed)
                    mid_stream += 0 < sum(at.values()) < sum(end.values())
                else:
                    while sum((await stored(pg, killed)).values()) < sum(end.values()):
                        if time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.3)
                    worker.send_signal(signal.SIGTERM)
                    break
            finally:
                await asyncio.wait_for(worker.wait(), timeout=30)
        assert kills == 6
        assert mid_stream >= 3, "the projector must die while it still has work"
        assert await stored(pg, killed) == end, log.read_text()[-3000:]

        calm = Projector(
            settings,
            contract,
            ClockProjection(),
            schema=whole,
            topic=sla_topic,
            group_id=f"calm.{run}",
        )
        await calm.start()
        try:
            await project(calm, end)
        finally:
            await calm.stop()
        expected = await table(pg, whole)
        assert len(expected) == len({e.clock_id for e in events})
        assert await table(pg, killed) == expected
    finally:
        for schema in (killed, whole):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
