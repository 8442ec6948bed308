"""`acolhe block` / `unblock` on the real broker and database: a blocked citizen's cases,
messages and SLA clocks disappear from agent apps (row-level security, as a member of
acolhe_agent_app), a case opened after the block too, while another citizen's stay visible
and the tables' owner still sees everything; unblocking shows them again; the apps
listening are told to drop the citizen's cases when the block is projected, hear nothing
of them meanwhile, and are told to read them again at the unblock; a rebuild
reproduces the blocked citizens; an export leaves the blocked citizen's events out unless
asked, with the authorized key; refusals write nothing; Kafka unreachable is a message and
exit status 1."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from schemas.container import read_container
from streams.cli import main
from streams.export import ExportOptions, export
from streams.privacy.blocking import block, read_privacy, unblock
from streams.privacy.blocks import BlockRefused
from streams.projections.folds import CaseProjection
from streams.projections.live import listening
from streams.projections.queries import CASE_TIMELINE, MY_OPEN_CASES
from streams.projections.rebuild import KeySpec, rebuild
from streams.projections.rows_cases import upsert_case
from streams.projections.writer import write
from streams.shared.contract import Contract
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics
from streams.shared.settings import ExportSettings, Secret, Settings
from tests.integration import test_read_model_access as access
from tests.integration.projecting import ends, project_once, publish
from tests.integration.test_erasure import Citizen
from tests.integration.test_live_updates import heard_n

PARTITIONS = 3
TIMEOUT_S = 120
schema = access.schema  # a migrated read model with access, cases, messages and clocks
app = access.app  # a connection as a member of acolhe_agent_app


@pytest.fixture
async def topics(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """A fresh conversations topic and a fresh privacy topic (block creates it)."""
    run = uuid.uuid4().hex[:8]
    conversations, privacy = f"test.block.conv.{run}", f"test.block.privacy.{run}"
    await ensure_topics(settings.kafka, [TopicSpec(conversations, PARTITIONS)])
    yield conversations, privacy
    await delete_topics(settings.kafka, [conversations, privacy])


async def project(settings: Settings, contract: Contract, topic: str, schema: str) -> None:
    await asyncio.wait_for(
        project_once(
            settings,
            contract,
            CaseProjection(),
            topic=topic,
            schema=schema,
            until=await ends(settings, topic),
            group=f"test.block.{schema}.{uuid.uuid4().hex[:6]}",
        ),
        TIMEOUT_S,
    )


async def seen(app: Any, schema: str, agent: str) -> dict[str, set[str]]:
    s = f'"{schema}"'
    return {
        table: await access.ids(app, agent, f"SELECT case_id FROM {s}.{table}")
        for table in ("cases", "case_messages", "sla_clocks")
    }


async def test_agents_see_nothing_of_a_blocked_citizen_until_unblocked(
    settings: Settings,
    contract: Contract,
    topics: tuple[str, str],
    schema: str,
    app: Any,
    pg: Any,
) -> None:
    conversations, privacy = topics
    blocked = "citizen-f-held"  # of the case f-held, which Ana holds and Caio's queue has
    every = {"cases": ..., "case_messages": ..., "sla_clocks": ...}
    assert await seen(app, schema, "ana") == dict.fromkeys(every, access.SEES["ana"])

    report = await block(
        settings, contract, blocked, reference="PROT-B-1", requested_by="dpo-1",
        topic=privacy, conversations=conversations,
    )  # fmt: skip
    await project(settings, contract, conversations, schema)

    assert report.partitions == PARTITIONS
    assert await seen(app, schema, "ana") == {key: {"f-open", "f-secret"} for key in every}
    assert await seen(app, schema, "caio") == {key: {"f-open", "v-caio"} for key in every}
    assert await access.as_agent(app, "ana", CASE_TIMELINE.render(schema), "f-held") == []
    assert await access.as_agent(app, "ana", MY_OPEN_CASES.render(schema), "ana") == []
    owner = f'SELECT count(*) FROM "{schema}".cases WHERE citizen_id = $1'
    assert await pg.fetchval(owner, blocked) == 1  # the owner (operators, erase) sees it

    # A case opened for the citizen after the block is hidden too.
    later = {**access.case("f-later", access.F, None), "citizen_id": blocked}
    await write(pg, schema, [upsert_case(later)], [], projector="test")
    assert await seen(app, schema, "ana") == {key: {"f-open", "f-secret"} for key in every}
    assert await pg.fetchval(owner, blocked) == 2

    await unblock(
        settings, contract, blocked, reference="PROT-U-1",
        topic=privacy, conversations=conversations,
    )  # fmt: skip
    await project(settings, contract, conversations, schema)

    after = await seen(app, schema, "ana")
    assert after["cases"] == access.SEES["ana"] | {"f-later"}
    assert after["case_messages"] == after["sla_clocks"] == access.SEES["ana"]
    assert [r["case_id"] for r in await access.as_agent(
        app, "ana", MY_OPEN_CASES.render(schema), "ana")] == ["f-held"]  # fmt: skip


@pytest.fixture
async def listener(pg: Any, settings: Settings, schema: str) -> AsyncIterator[Any]:
    """Another connection as a login role of the app, to LISTEN on."""
    name, password = await access.login_role(pg, "t_listen")
    try:
        conn = await asyncpg.connect(settings.postgres.dsn.reveal(), user=name, password=password)
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        await pg.execute(f"DROP ROLE {name}")


async def test_the_block_tells_the_apps_to_drop_the_citizens_cases_and_the_unblock_to_read_them(
    settings: Settings,
    contract: Contract,
    topics: tuple[str, str],
    schema: str,
    app: Any,
    listener: Any,
    pg: Any,
) -> None:
    conversations, privacy = topics
    where = {"topic": privacy, "conversations": conversations}
    blocked = "citizen-f-held"  # of the case f-held, which Ana holds, in her queue F

    async with listening(listener, schema, agent_id="ana", queues=[access.F]) as changes:
        await block(settings, contract, blocked, reference="PROT-B-2", **where)
        await project(settings, contract, conversations, schema)
        assert await heard_n(changes, 2) == {
            ("ana", "hidden", "f-held"),
            (access.F, "hidden", "f-held"),
        }

        # While blocked, the citizen's case tells nothing; another citizen's case does.
        for case_id, agent in (("f-held", "ana"), ("f-open", None)):
            row = {**access.case(case_id, access.F, agent), "priority": "urgent", "version": 2}
            await write(pg, schema, [upsert_case(row)], [], projector="test")
        assert await heard_n(changes, 1) == {(access.F, "changed", "f-open")}

        await unblock(settings, contract, blocked, reference="PROT-U-2", **where)
        await project(settings, contract, conversations, schema)
        assert await heard_n(changes, 2) == {
            ("ana", "visible", "f-held"),
            (access.F, "visible", "f-held"),
        }

    open_cases = await access.as_agent(app, "ana", MY_OPEN_CASES.render(schema), "ana")
    assert [(r["case_id"], r["priority"]) for r in open_cases] == [("f-held", "urgent")]


async def test_refusals_record_nothing_and_a_block_run_again_records_the_same_event(
    settings: Settings, contract: Contract, topics: tuple[str, str]
) -> None:
    conversations, privacy = topics
    who = f"citizen-{uuid.uuid4().hex}"
    where = {"topic": privacy, "conversations": conversations}

    with pytest.raises(BlockRefused, match="is not blocked"):
        await unblock(settings, contract, who, reference="PROT-U", **where)
    first = await block(settings, contract, who, reference="PROT-1", **where)
    again = await block(settings, contract, who, reference="PROT-1", **where)
    with pytest.raises(BlockRefused, match="already blocked"):
        await block(settings, contract, who, reference="PROT-2", **where)

    assert again.decision.again
    assert again.decision.event == first.decision.event
    recorded = await read_privacy(settings.kafka, contract, privacy)
    assert [e.event_id for e in recorded] == [first.decision.event.event_id] * 2


async def test_the_cli_says_kafka_is_unreachable_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACOLHE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")

    code = await asyncio.to_thread(main, ["block", "citizen-abc", "--reference", "PROT-1"])

    err = capsys.readouterr().err
    assert code == 1
    assert "acolhe: Kafka failed during the block of citizen-abc" in err
    assert "run the same command again" in err
    assert "Traceback" not in err


async def test_a_rebuild_reproduces_the_blocked_citizens(
    settings: Settings,
    contract: Contract,
    topics: tuple[str, str],
    pg: Any,
    pg_schema: str,
    master_key: bytes,
) -> None:
    conversations, privacy = topics
    where = {"topic": privacy, "conversations": conversations}
    x, y = f"citizen-x-{uuid.uuid4().hex[:8]}", f"citizen-y-{uuid.uuid4().hex[:8]}"
    await block(settings, contract, x, reference="PROT-X", **where)
    await block(settings, contract, y, reference="PROT-Y", **where)
    await unblock(settings, contract, y, reference="PROT-Y-U", **where)
    live = f"t_block_live_{uuid.uuid4().hex[:8]}"
    served = f"t_block_rb_{uuid.uuid4().hex[:8]}"
    try:
        await project(settings, contract, conversations, live)
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
        query = "SELECT citizen_id, blocked, changed_at, event_id, basis, reference FROM {}"
        made = await pg.fetch(query.format(f'"{live}".blocked_citizens ORDER BY 1'))
        rebuilt = await pg.fetch(query.format(f'"{report.schema}".blocked_citizens ORDER BY 1'))

        assert [(r["citizen_id"], r["blocked"]) for r in made] == [(x, True), (y, False)]
        assert [tuple(r) for r in rebuilt] == [tuple(r) for r in made]
        assert report.rows["blocked_citizens"] == 2
    finally:
        for name in (live, served, f"{served}_rebuild"):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def test_an_export_leaves_a_blocked_citizens_events_out_unless_included(
    settings: Settings, contract: Contract, topics: tuple[str, str], tmp_path: Path
) -> None:
    conversations, privacy = topics
    x, y = Citizen.new("x"), Citizen.new("y")
    await publish(settings, contract, conversations, [*x.conversation(), *y.conversation()])
    await block(
        settings, contract, x.subject_id, reference="PROT-X",
        topic=privacy, conversations=conversations,
    )  # fmt: skip
    key = os.urandom(32)
    settings = dataclasses.replace(
        settings,
        export=ExportSettings(
            authorized_key_sha256=(hashlib.sha256(key).hexdigest(),),
            pseudonym_key=Secret(base64.b64encode(b"p" * 32).decode()),
        ),
    )

    async def exported(out: Path, **kw: Any) -> dict[str, set[str]]:
        options = ExportOptions(
            out_dir=out,
            formats=("avro",),
            topics=("acolhe.conversations",),
            topic_names={"acolhe.conversations": conversations, "acolhe.privacy": privacy},
            **kw,
        )
        report = await asyncio.wait_for(export(settings, contract, options), TIMEOUT_S)
        found: dict[str, set[str]] = {}
        for name in report.types:
            with (out / f"{name}.avro").open("rb") as f:
                found[name] = {r["event_id"] for r in read_container(f).records}
        return found

    default = await exported(tmp_path / "default")
    authorized = await exported(tmp_path / "with-key", authorized_key=key)
    included = await exported(tmp_path / "included", authorized_key=key, include_blocked=True)

    ids = {c: {e.event_id for e in c.conversation()} for c in (x, y)}
    for found in (default, authorized):
        assert set().union(*found.values()) == ids[y]
    assert set().union(*included.values()) == ids[x] | ids[y]
