"""SLA clocks projected into Postgres exactly once: a projector stopped half-way and started
again leaves the same rows as one that never stopped, and a projector starts from the
offsets stored with its rows, not from Kafka's committed offsets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streams.projections.folds import ClockProjection
from streams.projections.projector import Projector
from streams.shared.contract import Contract
from streams.shared.events import DEAD_LETTER_TOPIC, Received, read_topic
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_producer,
)
from streams.shared.settings import Settings
from streams.sla.processor import PolicyContext, SlaCore
from tests.integration.projecting import ends, halfway, project, project_once, publish
from tests.integration.test_sla_processor import timeline
from tests.unit.sla import builders as b

PARTITIONS = 3


def sla_events() -> list[Any]:
    """What the SLA clocks write for the timeline of test_sla_processor: 30 cases, ticks,
    one change of policy."""
    core = SlaCore(b.POLICY)
    context = PolicyContext()
    states: dict[str, Any] = {}
    out: list[Any] = []
    for _, kind, event in timeline():
        if kind == "keyed":
            keys = [event.contact_id]
        else:
            if core.changes_context(event):
                context = core.evolve_context(context, event)
            keys = sorted(states)
        for key in keys:
            state, produced = core.handle_in(context, states.get(key) or core.initial(key), event)
            out.extend(produced)
            if state is None:
                states.pop(key, None)
            else:
                states[key] = state
    return out


@pytest.fixture
async def sla_topic(settings: Settings) -> AsyncIterator[str]:
    name = f"test.sla.proj.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, PARTITIONS)])
    yield name
    await delete_topics(settings.kafka, [name])


async def table(pg: Any, schema: str) -> list[tuple[Any, ...]]:
    found = await pg.fetch(f'SELECT * FROM "{schema}".sla_clocks ORDER BY clock_id')
    return [tuple(v for k, v in r.items() if k != "updated_at") for r in found]


async def test_a_restarted_projector_leaves_the_rows_an_uninterrupted_one_would(
    settings: Settings, contract: Contract, sla_topic: str, pg: Any
) -> None:
    events = sla_events()
    await publish(settings, contract, sla_topic, events, key="case_id")
    end = await ends(settings, sla_topic)
    half = halfway(end)
    run = uuid.uuid4().hex[:8]
    whole, halves = f"t_proj_whole_{run}", f"t_proj_halves_{run}"
    try:
        await project_once(
            settings,
            contract,
            ClockProjection(),
            topic=sla_topic,
            schema=whole,
            until=end,
            group=f"g1.{run}",
            max_records=25,
        )

        await project_once(
            settings,
            contract,
            ClockProjection(),
            topic=sla_topic,
            schema=halves,
            until=half,
            group=f"g2.{run}",
            max_records=25,
        )
        # Another group: Kafka knows nothing of it, the offsets stored with the rows say
        # where to go on.
        second = Projector(
            settings,
            contract,
            ClockProjection(),
            schema=halves,
            topic=sla_topic,
            group_id=f"g3.{run}",
            max_records=25,
        )
        await second.start()
        try:
            await project(second, end)
            for _ in range(3):
                await second.step(timeout_ms=300)  # nothing more comes
        finally:
            await second.stop()

        expected = await table(pg, whole)
        assert len(expected) == len({e.clock_id for e in events})
        assert await table(pg, halves) == expected
        statuses = {row[0]: row for row in expected}
        assert statuses  # every clock has its row
        breached = await pg.fetchval(
            f'SELECT count(*) FROM "{whole}".sla_clocks WHERE breached_at IS NOT NULL'
        )
        assert breached == sum(1 for e in events if e.NAME == "SlaBreached")
    finally:
        for schema in (whole, halves):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_a_record_that_is_not_an_event_is_dead_lettered_and_the_rest_projected(
    settings: Settings, contract: Contract, sla_topic: str, pg: Any
) -> None:
    events = sla_events()[:50]
    await publish(settings, contract, sla_topic, events[:25], key="case_id")
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        junk = await producer.send_and_wait(sla_topic, b'{"not": "avro"}', key=b"case-x")
    finally:
        await producer.stop()
    await publish(settings, contract, sla_topic, events[25:], key="case_id")
    run = uuid.uuid4().hex[:8]
    schema = f"t_clocks_dead_{run}"
    proj = Projector(
        settings, contract, ClockProjection(), schema=schema, topic=sla_topic, group_id=run
    )
    await proj.start()
    try:
        await project(proj, await ends(settings, sla_topic))
    finally:
        await proj.stop()
    try:
        assert proj.stats.rejected == 1
        found = await read_topic(settings.kafka, contract.decode, DEAD_LETTER_TOPIC)
        mine = [
            r.event.record
            for r in found
            if isinstance(r, Received) and r.event.record["source_topic"] == sla_topic
        ]
        assert [(d["source_partition"], d["source_offset"]) for d in mine] == [
            (junk.partition, junk.offset)
        ]
        assert mine[0]["processor"] == "projector.sla_clocks"
        assert mine[0]["reason"]
        clocks = {e.clock_id for e in events}
        projected = await pg.fetchval(f'SELECT count(*) FROM "{schema}".sla_clocks')
        assert projected == len(clocks)
    finally:
        await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
