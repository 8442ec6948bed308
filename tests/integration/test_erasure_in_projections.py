"""The case projection applies the erasures copied into acolhe.conversations itself, in
order with the rows it writes: a projector (or a rebuild) that opened a citizen's messages
while the key still existed (the window between `acolhe erase` writing its copies and
destroying the key) writes them redacted all the same; another citizen's stay in clear; a
replay from scratch gives the same rows; a copy seen again redacts nothing more.

The keys are deliberately not destroyed here: every message opens in clear, as it does for
a projector whose batch was decoded before the erasure's step 3."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from streams.privacy import domain
from streams.projections.folds import CaseProjection
from streams.projections.rebuild import KeySpec, rebuild
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_producer,
    topic_partitions,
)
from streams.shared.settings import Settings
from tests.integration.projecting import ends, project_once, publish
from tests.integration.test_erasure import T0, Citizen, redacted, tables_containing, texts

PARTITIONS = 3
TIMEOUT_S = 120


@pytest.fixture
async def conversations(settings: Settings) -> AsyncIterator[str]:
    name = f"test.erasure.proj.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, PARTITIONS)])
    yield name
    await delete_topics(settings.kafka, [name])


@pytest.fixture
async def schemas(pg: Any) -> AsyncIterator[list[str]]:
    """Names for read-model schemas of this test, dropped afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        await pg.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def copy_erasure(settings: Settings, contract: Contract, topic: str, citizen: str) -> str:
    """Step 2 of `acolhe erase`'s second half only: its `ErasureRequested` written into every
    partition of the contacts' topic (same bytes, same id); no key destroyed. Its id."""
    asked = domain.requested(
        domain.request(citizen, legal_basis="data_subject_request", reference="PROT-7"),
        now=T0 + timedelta(hours=1),
    )
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(
            producer,
            source=domain.SOURCE,
            routes={asked.NAME: TopicRoute(topic, "citizen_id")},
        )
        partitions = await topic_partitions(settings.kafka, topic)
        await publisher.broadcast(asked.NAME, asked.to_record(), {topic: partitions})
    finally:
        await producer.stop()
    return asked.event_id


async def project(
    settings: Settings, contract: Contract, topic: str, schema: str, *, max_records: int
) -> None:
    await project_once(
        settings,
        contract,
        CaseProjection(),
        topic=topic,
        schema=schema,
        until=await ends(settings, topic),
        group=f"test.erasure.proj.{schema}.{uuid.uuid4().hex[:6]}",
        max_records=max_records,
    )


async def rows(pg: Any, schema: str) -> dict[str, list[dict[str, Any]]]:
    """The cases and the messages, without what only says when the projector wrote them."""
    out = {}
    for table, key in (("cases", "case_id"), ("case_messages", "message_id")):
        found = await pg.fetch(f'SELECT * FROM "{schema}".{table} ORDER BY {key}')
        out[table] = [
            {
                **{k: v for k, v in r.items() if k not in ("updated_at", "redacted_at")},
                "redacted": r.get("redacted_at") is not None,
            }
            for r in found
        ]
    return out


async def redacted_at(pg: Any, schema: str, citizen: Citizen) -> list[Any]:
    found = await pg.fetch(
        f'SELECT redacted_at FROM "{schema}".case_messages WHERE subject_id = $1'
        " ORDER BY message_id",
        citizen.subject_id,
    )
    return [r["redacted_at"] for r in found]


async def test_a_projector_writes_the_rows_it_opened_before_the_erasure_redacted(
    settings: Settings,
    contract: Contract,
    conversations: str,
    schemas: list[str],
    pg: Any,
) -> None:
    x, y = Citizen.new("x"), Citizen.new("y")
    await publish(settings, contract, conversations, [*x.conversation(), *y.conversation()])
    await copy_erasure(settings, contract, conversations, x.subject_id)
    run = uuid.uuid4().hex[:8]
    # One batch for everything (the copy after X's messages in their partition), and one
    # record a batch (the copy after X's rows are committed): the same rows at the end.
    whole, one_by_one = f"t_erasure_whole_{run}", f"t_erasure_single_{run}"
    schemas += [whole, one_by_one]

    await asyncio.wait_for(
        project(settings, contract, conversations, whole, max_records=5000), TIMEOUT_S
    )
    await asyncio.wait_for(
        project(settings, contract, conversations, one_by_one, max_records=1), TIMEOUT_S
    )

    assert contract.keys.decryption_key(x.subject_id) is not None  # X's messages opened clear
    for schema in (whole, one_by_one):
        assert await redacted(pg, schema, x) == [True, True], schema
        assert await texts(pg, schema, x) == [None, None], schema
        assert await tables_containing(pg, schema, x.marker) == [], schema
        assert await redacted(pg, schema, y) == [False, False], schema
        assert await tables_containing(pg, schema, y.marker) == ["case_messages"], schema
    # The redaction committed with the rows and the offsets: a replay from scratch, in
    # batches cut elsewhere, stands where the first run stands, with the same rows.
    assert await rows(pg, whole) == await rows(pg, one_by_one)

    # The same erasure run again (the same id in every partition): nothing more changes,
    # and the rows keep the time they were first redacted.
    before = await redacted_at(pg, whole, x)
    await copy_erasure(settings, contract, conversations, x.subject_id)
    await asyncio.wait_for(
        project(settings, contract, conversations, whole, max_records=5000), TIMEOUT_S
    )

    assert await redacted_at(pg, whole, x) == before
    assert await rows(pg, whole) == await rows(pg, one_by_one)
    assert await redacted(pg, whole, y) == [False, False]


async def test_a_rebuild_writes_the_rows_of_a_citizen_erased_in_its_range_redacted(
    settings: Settings,
    contract: Contract,
    conversations: str,
    schemas: list[str],
    pg: Any,
    pg_schema: str,
    master_key: bytes,
) -> None:
    x, y = Citizen.new("x"), Citizen.new("y")
    await publish(settings, contract, conversations, [*x.conversation(), *y.conversation()])
    await copy_erasure(settings, contract, conversations, x.subject_id)
    served = f"t_erasure_rb_{uuid.uuid4().hex[:8]}"
    schemas += [served, f"{served}_rebuild"]

    report = await asyncio.wait_for(
        rebuild(
            settings,
            schema=served,
            topics={"cases": conversations},
            workers=2,
            keys=KeySpec(pg_schema, master_key),
            switch=False,
        ),
        TIMEOUT_S,
    )

    fresh = report.schema
    assert fresh == f"{served}_rebuild"
    # Everything came through the bulk phase (the catch-up had nothing to read).
    assert (report.events, report.catch_up_events) == (2 * 3 + PARTITIONS, 0)
    assert report.erasures == 1
    assert contract.keys.decryption_key(x.subject_id) is not None  # X's messages opened clear
    assert await redacted(pg, fresh, x) == [True, True]
    assert await tables_containing(pg, fresh, x.marker) == []
    assert await redacted(pg, fresh, y) == [False, False]
    assert await tables_containing(pg, fresh, y.marker) == ["case_messages"]
