"""Agent apps LISTEN for what concerns them instead of polling, on the real PostgreSQL: a
batch the projector's writer commits that assigns a case to Ana tells Ana and her queue,
and nobody else; a transfer tells both agents; a new message tells the case's holder;
changes an app does not show, replays and other schemas tell nobody. A blocked citizen's
cases tell nobody anything while another citizen's still do; the block tells the holder
and the queue of each of the citizen's cases to drop it (`hidden`, the case id only), the
unblock to read it again (`visible`), and so does a case moved to or from a blocked
citizen.

"Nothing for Bia" is checked without sleeping: notifications arrive in commit order, so
once a later change for Bia arrives, an earlier one would have arrived before it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from streams.projections import blocking
from streams.projections.blocking import Blocking
from streams.projections.live import Change, Changes, channel, listening
from streams.projections.migrations import migrate
from streams.projections.queries import MY_ACCESS, SET_AGENT
from streams.projections.rows_cases import CASE_COLUMNS, upsert_case
from streams.projections.writer import write
from streams.shared.settings import Settings

TIMEOUT_S = 30.0
F, V = "familia-capital", "violencia-domestica"
T0 = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def case(
    case_id: str, version: int, *, queue: str | None, agent: str | None, **changes: Any
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(CASE_COLUMNS)
    row.update(
        case_id=case_id,
        contact_id=f"contact-{case_id}",
        citizen_id="citizen",
        channel="whatsapp",
        status="assigned" if agent else "queued" if queue else "in_triage",
        area="familia",
        priority="normal",
        urgency_flags=[],
        queue_id=queue,
        queued_at=T0 if queue else None,
        agent_id=agent,
        confidential=False,
        opened_at=T0,
        version=version,
    )
    row.update(changes)
    return row


async def commit(pg: Any, schema: str, *rows: dict[str, Any]) -> None:
    """One batch of case rows, written as the projector writes them."""
    await asyncio.wait_for(
        write(pg, schema, [upsert_case(r) for r in rows], [], projector="test"), TIMEOUT_S
    )


async def keep_block(pg: Any, schema: str, citizen_id: str, *, blocked: bool, at: int) -> None:
    """A block (or its lifting, `blocked` False) kept as the case projection keeps it:
    `blocking.apply` in the batch's transaction; `at` orders them (minutes after T0)."""
    kept = Blocking(
        citizen_id=citizen_id,
        blocked=blocked,
        changed_at=T0 + timedelta(minutes=at),
        event_id=f"{'block' if blocked else 'unblock'}-{citizen_id}-{at}",
        basis="data_subject_request",
        reference=f"PROT-{at}",
    )
    async with pg.transaction():
        assert await asyncio.wait_for(blocking.apply(pg, schema, [kept]), TIMEOUT_S) == 1


async def heard(changes: Changes) -> Change:
    return await asyncio.wait_for(anext(changes), TIMEOUT_S)


async def heard_n(changes: Changes, n: int) -> set[tuple[str, str, str | None]]:
    return {(c.subject, c.change, c.case_id) for c in [await heard(changes) for _ in range(n)]}


@pytest.fixture
async def schema(pg: Any, pg_schema: str) -> str:
    await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)
    return pg_schema


@pytest.fixture
async def app_connections(pg: Any, settings: Settings) -> AsyncIterator[tuple[Any, Any]]:
    """Two connections as a login role of the app: Ana's app and Bia's app."""
    name, password = f"t_live_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    await pg.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE acolhe_agent_app")
    dsn = settings.postgres.dsn.reveal()
    try:
        ana = await asyncpg.connect(dsn, user=name, password=password)
        bia = await asyncpg.connect(dsn, user=name, password=password)
        try:
            yield ana, bia
        finally:
            await ana.close()
            await bia.close()
    finally:
        await pg.execute(f"DROP ROLE {name}")


@pytest.fixture
async def ears(
    schema: str, app_connections: tuple[Any, Any]
) -> AsyncIterator[tuple[Changes, Changes]]:
    """Ana listens for herself and queue F; Bia for herself and queue V."""
    ana_conn, bia_conn = app_connections
    async with AsyncExitStack() as stack:
        ana = await stack.enter_async_context(
            listening(ana_conn, schema, agent_id="ana", queues=[F])
        )
        bia = await stack.enter_async_context(
            listening(bia_conn, schema, agent_id="bia", queues=[V])
        )
        yield ana, bia


async def test_a_batch_assigning_a_case_to_ana_tells_ana_and_her_queue_not_bia(
    pg: Any, schema: str, ears: tuple[Changes, Changes]
) -> None:
    ana, bia = ears

    await commit(
        pg, schema, case("c1", 1, queue=F, agent="ana"), case("c2", 2, queue=F, agent=None)
    )
    await commit(pg, schema, case("c3", 3, queue=None, agent="bia"))

    assert await heard_n(ana, 3) == {
        ("ana", "assigned", "c1"),
        (F, "entered", "c1"),
        (F, "entered", "c2"),
    }
    first_for_bia = await heard(bia)
    assert (first_for_bia.subject, first_for_bia.change, first_for_bia.case_id) == (
        "bia",
        "assigned",
        "c3",
    )
    assert (first_for_bia.status, first_for_bia.version) == ("assigned", 3)


async def test_a_transfer_tells_both_agents_and_both_queues(
    pg: Any, schema: str, ears: tuple[Changes, Changes]
) -> None:
    ana, bia = ears
    await commit(pg, schema, case("c1", 1, queue=F, agent="ana"))
    assert await heard_n(ana, 2) == {("ana", "assigned", "c1"), (F, "entered", "c1")}

    await commit(pg, schema, case("c1", 2, queue=F, agent="bia"))  # within the queue
    await commit(pg, schema, case("c1", 3, queue=V, agent="ana"))  # back, to another queue

    assert (await heard(ana)).change == "taken"
    assert await heard_n(bia, 2) == {("bia", "assigned", "c1"), ("bia", "taken", "c1")}
    assert await heard_n(ana, 2) == {("ana", "assigned", "c1"), (F, "left", "c1")}
    entered = await heard(bia)
    assert (entered.subject, entered.change, entered.queue_id) == (V, "entered", V)


async def test_what_an_app_does_not_show_and_replays_tell_nobody(
    pg: Any, schema: str, ears: tuple[Changes, Changes]
) -> None:
    ana, _ = ears
    assigned = case("c1", 1, queue=F, agent="ana")
    await commit(pg, schema, assigned)
    assert len(await heard_n(ana, 2)) == 2

    later = T0 + timedelta(minutes=5)
    await commit(pg, schema, case("c1", 2, queue=F, agent="ana", last_message_at=later))
    await commit(pg, schema, assigned)  # a replayed batch: an older version changes nothing
    await commit(pg, schema, case("c1", 3, queue=F, agent="ana", priority="urgent"))

    change = await heard(ana)
    assert (change.subject, change.change, change.priority, change.version) == (
        "ana",
        "changed",
        "urgent",
        3,
    )


async def test_a_new_message_tells_the_holder_of_its_case(
    pg: Any, schema: str, ears: tuple[Changes, Changes]
) -> None:
    ana, _ = ears
    await commit(
        pg, schema, case("c1", 1, queue=F, agent="ana"), case("c2", 2, queue=F, agent=None)
    )
    assert len(await heard_n(ana, 3)) == 3
    later = T0 + timedelta(minutes=5)

    # as the projector folds a citizen's message: the case's message times move
    await commit(
        pg,
        schema,
        case("c2", 3, queue=F, agent=None, last_citizen_message_at=later),
        case("c1", 4, queue=F, agent="ana", last_citizen_message_at=later),
    )
    replied = {"last_citizen_message_at": later, "last_agent_message_at": later}
    await commit(pg, schema, case("c1", 5, queue=F, agent="ana", **replied))

    change = await heard(ana)
    assert (change.subject, change.change, change.case_id, change.direction) == (
        "ana",
        "message",
        "c1",
        "in",
    )
    reply = await heard(ana)
    assert (reply.change, reply.direction, reply.version) == ("message", "out", 5)


async def test_payloads_carry_ids_and_state_only(
    pg: Any, schema: str, app_connections: tuple[Any, Any]
) -> None:
    conn, _ = app_connections
    payloads: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(
        channel(schema, "agent", "ana"), lambda *args: payloads.put_nowait(args[3])
    )

    await commit(pg, schema, case("c1", 1, queue=F, agent="ana"))

    payload = json.loads(await asyncio.wait_for(payloads.get(), TIMEOUT_S))
    assert payload == {
        "schema": schema,
        "case_id": "c1",
        "version": 1,
        "change": "assigned",
        "status": "assigned",
        "queue_id": F,
        "priority": "normal",
    }


async def test_schemas_do_not_mix_and_a_rebuild_can_keep_quiet(
    pg: Any, schema: str, ears: tuple[Changes, Changes]
) -> None:
    ana, _ = ears
    other = f"t_live_other_{uuid.uuid4().hex[:8]}"
    try:
        await asyncio.wait_for(migrate(pg, other), TIMEOUT_S)
        await commit(pg, other, case("elsewhere", 1, queue=F, agent="ana"))
        async with pg.transaction():
            await pg.execute("SELECT set_config('acolhe.live_updates', 'off', true)")
            await commit(pg, schema, case("quiet", 1, queue=F, agent="ana"))
        await commit(pg, schema, case("c1", 2, queue=None, agent="ana"))

        change = await heard(ana)
        assert (change.change, change.case_id) == ("assigned", "c1")
    finally:
        await pg.execute(f'DROP SCHEMA IF EXISTS "{other}" CASCADE')


@pytest.mark.parametrize("subject", ["ana", "agente São Paulo/ção " * 8, 'a"b'])
async def test_the_channel_the_database_uses_is_the_one_the_app_computes(
    pg: Any, schema: str, subject: str
) -> None:
    for kind in ("agent", "queue"):
        in_sql = await pg.fetchval(
            f'SELECT "{schema}".live_channel($1, $2, $3)', schema, kind, subject
        )
        assert in_sql == channel(schema, kind, subject)


async def test_access_and_live_updates_follow_the_rebuilds_switch(
    pg: Any, app_connections: tuple[Any, Any]
) -> None:
    # The rebuild migrates `<schema>_rebuild`, then renames it to `<schema>`: nothing of
    # 0003 (nor 0005) may still look for the old name.
    live = f"t_switch_{uuid.uuid4().hex[:8]}"
    fresh = f"{live}_rebuild"
    listener, reader = app_connections
    try:
        await asyncio.wait_for(migrate(pg, fresh), TIMEOUT_S)
        for table, row in (
            ("agent_queues", ("ana", F)),
            ("queue_teams", (F, F)),
            ("agent_teams", ("ana", F)),
        ):
            await pg.execute(f'INSERT INTO "{fresh}".{table} VALUES ($1, $2)', *row)
        await pg.execute(f'ALTER SCHEMA "{fresh}" RENAME TO "{live}"')

        async with listening(listener, live, agent_id="ana", queues=[F]) as changes:
            await commit(pg, live, case("c1", 1, queue=F, agent="ana", confidential=True))
            assert await heard_n(changes, 2) == {("ana", "assigned", "c1"), (F, "entered", "c1")}
            # 0005 too: the block's notices, and silence about the blocked citizen's case
            await keep_block(pg, live, "citizen", blocked=True, at=1)
            assert await heard_n(changes, 2) == {("ana", "hidden", "c1"), (F, "hidden", "c1")}
            await commit(pg, live, case("c1", 2, queue=F, agent=None, confidential=True))
            await commit(pg, live, case("c2", 3, queue=F, agent=None, citizen_id="citizen-2"))
            assert await heard_n(changes, 1) == {(F, "entered", "c2")}
            await keep_block(pg, live, "citizen", blocked=False, at=2)
            assert await heard_n(changes, 1) == {(F, "visible", "c1")}
        async with reader.transaction():
            await reader.execute(SET_AGENT, "ana")
            access = await reader.fetch(MY_ACCESS.render(live))
            cases = await reader.fetch(f'SELECT case_id FROM "{live}".cases')
        assert [tuple(r) for r in access] == [(F, F, True)]
        assert sorted(r["case_id"] for r in cases) == ["c1", "c2"]
    finally:
        for name in (fresh, live):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def test_a_blocked_citizens_cases_tell_nothing_while_another_citizens_still_do(
    pg: Any, schema: str, ears: tuple[Changes, Changes]
) -> None:
    ana, _ = ears
    x, y = {"citizen_id": "citizen-x"}, {"citizen_id": "citizen-y"}
    await commit(
        pg,
        schema,
        case("c1", 1, queue=F, agent="ana", **x),
        case("c2", 2, queue=F, agent=None, **y),
    )
    assert len(await heard_n(ana, 3)) == 3

    await keep_block(pg, schema, "citizen-x", blocked=True, at=1)
    assert await heard_n(ana, 2) == {("ana", "hidden", "c1"), (F, "hidden", "c1")}

    later = T0 + timedelta(minutes=5)
    await commit(pg, schema, case("c1", 3, queue=F, agent="ana", priority="urgent", **x))
    await commit(
        pg, schema, case("c1", 4, queue=F, agent="ana", last_citizen_message_at=later, **x)
    )
    await commit(pg, schema, case("c3", 5, queue=F, agent=None, **x))  # opened after the block
    await commit(pg, schema, case("c1", 6, queue=V, agent=None, **x))  # released to another queue
    await commit(pg, schema, case("c2", 7, queue=F, agent=None, priority="urgent", **y))

    # commit order: had c1 or c3 told anything, it would come before c2's change
    change = await heard(ana)
    assert (change.subject, change.change, change.case_id, change.priority) == (
        F,
        "changed",
        "c2",
        "urgent",
    )


async def test_an_unblock_tells_the_apps_to_read_the_citizens_cases_again(
    pg: Any, schema: str, ears: tuple[Changes, Changes]
) -> None:
    ana, bia = ears
    x = {"citizen_id": "citizen-x"}
    await keep_block(pg, schema, "citizen-x", blocked=True, at=1)
    await commit(
        pg,
        schema,
        case("c1", 1, queue=F, agent="ana", **x),
        case("c2", 2, queue=V, agent=None, **x),
        case("c3", 3, queue=None, agent=None, **x),  # in triage: nobody's to tell
    )

    await keep_block(pg, schema, "citizen-x", blocked=False, at=2)

    assert await heard_n(ana, 2) == {("ana", "visible", "c1"), (F, "visible", "c1")}
    shown = await heard(bia)
    assert (shown.subject, shown.change, shown.case_id) == (V, "visible", "c2")
    await commit(pg, schema, case("c1", 4, queue=F, agent="ana", priority="urgent", **x))
    change = await heard(ana)
    assert (change.subject, change.change, change.priority, change.version) == (
        "ana",
        "changed",
        "urgent",
        4,
    )


async def test_a_case_moved_to_a_blocked_citizen_is_hidden_and_moved_back_visible(
    pg: Any, schema: str, ears: tuple[Changes, Changes]
) -> None:
    ana, _ = ears
    await keep_block(pg, schema, "citizen-x", blocked=True, at=1)
    await commit(pg, schema, case("c1", 1, queue=F, agent="ana", citizen_id="citizen-y"))
    assert len(await heard_n(ana, 2)) == 2

    # ContactsLinked: the case's contact is the blocked citizen's
    await commit(pg, schema, case("c1", 2, queue=F, agent="ana", citizen_id="citizen-x"))
    assert await heard_n(ana, 2) == {("ana", "hidden", "c1"), (F, "hidden", "c1")}
    await commit(
        pg, schema, case("c1", 3, queue=F, agent="ana", priority="urgent", citizen_id="citizen-x")
    )
    # ContactsUnlinked: back to a citizen of its own
    await commit(
        pg, schema, case("c1", 4, queue=F, agent="ana", priority="urgent", citizen_id="citizen-y")
    )

    assert await heard_n(ana, 2) == {("ana", "visible", "c1"), (F, "visible", "c1")}


async def test_block_notices_carry_the_case_id_only(
    pg: Any, schema: str, app_connections: tuple[Any, Any]
) -> None:
    conn, _ = app_connections
    payloads: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(
        channel(schema, "agent", "ana"), lambda *args: payloads.put_nowait(args[3])
    )
    await commit(pg, schema, case("c1", 1, queue=F, agent="ana", citizen_id="citizen-x"))
    assert json.loads(await asyncio.wait_for(payloads.get(), TIMEOUT_S))["change"] == "assigned"

    await keep_block(pg, schema, "citizen-x", blocked=True, at=1)
    await keep_block(pg, schema, "citizen-x", blocked=False, at=2)

    for change in ("hidden", "visible"):
        payload = json.loads(await asyncio.wait_for(payloads.get(), TIMEOUT_S))
        assert payload == {"change": change, "schema": schema, "case_id": "c1"}
