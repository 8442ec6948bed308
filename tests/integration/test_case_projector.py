"""Cases and their timelines projected from the conversations: every case closed as its
life ends, every message filed in its case with its furthest delivery status, the opening
message included; and a projector restarted half-way ends with the same tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bench.workloads import office_day
from schemas.events import EVENT_TYPES
from streams.projections.projector import CaseProjection, Projector
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
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        routes = {e.NAME: TopicRoute(conversations, "contact_id") for e in events}
        publisher = contract.publisher(producer, source="/test", routes=routes)
        await publisher.publish_many([(e.NAME, e.to_record()) for e in events])
    finally:
        await producer.stop()
    end = await ends(settings, conversations)
    half = halfway(end)
    run = uuid.uuid4().hex[:8]
    whole, halves = f"t_cases_whole_{run}", f"t_cases_halves_{run}"
    try:
        for schema, group, until in ((whole, "a", end), (halves, "b", half), (halves, "c", end)):
            proj = Projector(
                settings,
                contract,
                CaseProjection(),
                schema=schema,
                topic=conversations,
                group_id=f"{group}.{run}",
                max_records=40,
            )
            await proj.start()
            try:
                await project(proj, until)
            finally:
                await proj.stop()

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
    finally:
        for schema in (whole, halves):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
