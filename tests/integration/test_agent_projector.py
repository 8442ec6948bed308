"""Agents projected from the routing log: each agent's load in the read model equals the
router's own count, and a projector restarted half-way (holders restored from agent_holds,
position from the offsets stored with the rows) ends with the same table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bench.workloads import routing_day
from streams.projections.folds import AgentProjection
from streams.projections.projector import Projector
from streams.routing.processor import RoutingCore
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_producer,
)
from streams.shared.settings import Settings
from tests.integration.projecting import ends, halfway, project


def routing_log(cases: int) -> tuple[list[Any], Any]:
    """acolhe.routing as the router leaves it: its inputs, each followed by its outputs; and
    the router's final state."""
    from schemas.events import EVENT_TYPES

    core = RoutingCore()
    state = core.initial("router")
    log: list[Any] = []
    for name, record in routing_day(sorted(core.config.agents), cases, open_at_once=60):
        event = EVENT_TYPES[name].from_record(record)
        after, outputs = core.handle(state, event)
        state = after
        log += [event, *outputs]
    return log, state


@pytest.fixture
async def routing_topic(settings: Settings) -> AsyncIterator[str]:
    name = f"test.routing.proj.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, 1)])
    yield name
    await delete_topics(settings.kafka, [name])


async def test_each_agents_load_is_the_routers_own_count_and_survives_a_restart(
    settings: Settings, contract: Contract, routing_topic: str, pg: Any
) -> None:
    log, router = routing_log(400)
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        routes = {e.NAME: TopicRoute(routing_topic, "event_id") for e in log}
        publisher = contract.publisher(producer, source="/test", routes=routes)
        await publisher.publish_many([(e.NAME, e.to_record()) for e in log])
    finally:
        await producer.stop()
    end = await ends(settings, routing_topic)
    run = uuid.uuid4().hex[:8]
    whole, halves = f"t_agents_whole_{run}", f"t_agents_halves_{run}"

    def projector(schema: str, group: str) -> Projector:
        return Projector(
            settings,
            contract,
            AgentProjection(),
            schema=schema,
            topic=routing_topic,
            group_id=f"{group}.{run}",
            max_records=50,
        )

    try:
        for schema, group, until in (
            (whole, "a", end),
            (halves, "b", halfway(end)),
            (halves, "c", end),
        ):
            proj = projector(schema, group)
            await proj.start()
            try:
                await project(proj, until)
            finally:
                await proj.stop()

        found = await pg.fetch(f'SELECT agent_id, open_cases FROM "{whole}".agents ORDER BY 1')
        loads = {r["agent_id"]: r["open_cases"] for r in found}
        expected = {a: len(s.open_cases) for a, s in router.agents.items()}
        assert loads == expected
        assert sum(loads.values()) > 0  # the day leaves cases open with agents
        columns = "agent_id, presence, capacity, open_cases, last_assigned_at, version"
        restarted = await pg.fetch(f'SELECT {columns} FROM "{halves}".agents ORDER BY 1')
        uninterrupted = await pg.fetch(f'SELECT {columns} FROM "{whole}".agents ORDER BY 1')
        assert [tuple(r) for r in restarted] == [tuple(r) for r in uninterrupted]
    finally:
        for schema in (whole, halves):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
