"""Agent apps read the read model as members of acolhe_agent_app, under row-level security,
on the real PostgreSQL: an agent sees the cases of their queues and the cases they hold;
a confidential case only its queue's team and its holder; a crossing attempt (another
team's case, by id, through a view or a join) returns nothing; nothing is seen without an
agent named, and nothing can be written."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from streams.cli import main
from streams.projections.access import MissingAccessTables, access_rows, sync
from streams.projections.migrations import Migration, load_migrations, migrate
from streams.projections.queries import (
    CASE_TIMELINE,
    MY_ACCESS,
    MY_OPEN_CASES,
    MY_QUEUE_COUNTS,
    MY_QUEUE_WAITING,
    NEXT_CASE_IN_MY_QUEUES,
    SET_AGENT,
    SLA_AT_RISK_TODAY,
    SLA_BOARD_TODAY,
)
from streams.projections.rows_cases import CASE_COLUMNS, upsert_case
from streams.projections.writer import write
from streams.routing.config import RoutingConfig, load_config, parse_config
from streams.shared.settings import Settings

TIMEOUT_S = 60.0
F, V = "familia-capital", "violencia-domestica"
T0 = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def routing(*, with_caio: bool = True) -> RoutingConfig:
    """Ana is family's specialist, Bia domestic violence's; Caio, a generalist of both
    areas, serves both queues from their second escalation step, of neither team."""

    def step(roles: list[str], timeout: int | None) -> dict[str, Any]:
        return {"pool": "p", "roles": roles, "timeout_seconds": timeout}

    def agent(agent_id: str, areas: list[str], roles: list[str]) -> dict[str, Any]:
        return {"agent_id": agent_id, "areas": areas, "roles": roles, "capacity": 3}

    escalation = [step(["specialist"], 60), step(["specialist", "generalist"], None)]
    agents = [
        agent("ana", ["familia"], ["specialist"]),
        agent("bia", ["violencia_domestica"], ["specialist"]),
    ]
    if with_caio:
        agents.append(agent("caio", ["familia", "violencia_domestica"], ["generalist"]))
    return parse_config(
        {
            "version": "test",
            "fallback_queue": F,
            "queues": [
                {"queue_id": F, "areas": ["familia"], "rule": "manual", "escalation": escalation},
                {
                    "queue_id": V,
                    "areas": ["violencia_domestica"],
                    "rule": "manual",
                    "escalation": escalation,
                },
            ],
            "routes": [],
            "agents": agents,
        }
    )


def case(
    case_id: str, queue: str | None, agent: str | None, *, confidential: bool = False
) -> dict[str, Any]:
    status = "assigned" if agent else "queued" if queue else "in_triage"
    row: dict[str, Any] = dict.fromkeys(CASE_COLUMNS)
    row.update(
        case_id=case_id,
        contact_id=f"contact-{case_id}",
        citizen_id=f"citizen-{case_id}",
        channel="whatsapp",
        status=status,
        area="familia" if queue == F else "violencia_domestica" if queue else "unknown",
        priority="normal",
        urgency_flags=[],
        queue_id=queue,
        queued_at=T0 if queue else None,
        agent_id=agent,
        assigned_at=T0 if agent else None,
        confidential=confidential,
        opened_at=T0,
        version=1,
    )
    return row


CASES = [
    case("f-open", F, None),
    case("f-held", F, "ana"),
    case("f-secret", F, None, confidential=True),
    case("v-waiting", V, None, confidential=True),
    case("v-caio", V, "caio", confidential=True),
    case("triage", None, None),
]
SEES = {
    "ana": {"f-open", "f-held", "f-secret"},
    "bia": {"v-waiting", "v-caio"},
    "caio": {"f-open", "f-held", "v-caio"},
    "zeca": set(),  # no queue, no case
}


@pytest.fixture
async def schema(pg: Any, pg_schema: str) -> str:
    """A migrated read model with the access of `routing()`, the cases above, a message
    and a running SLA clock in each (plus a message outside any case), and agent rows."""
    await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)
    await sync(pg, pg_schema, access_rows(routing()))
    await write(pg, pg_schema, [upsert_case(c) for c in CASES], [], projector="test")
    now = datetime.now(UTC)
    await pg.executemany(
        f'INSERT INTO "{pg_schema}".case_messages (message_id, event_id, case_id, contact_id, '
        "subject_id, direction, sender_kind, channel, kind, text, occurred_at, version) "
        "VALUES ($1, $1, $2, 'contact', 'citizen', 'in', 'citizen', 'whatsapp', 'text', "
        "'personal words', $3, 1)",
        [(f"m-{c['case_id']}", c["case_id"], T0) for c in CASES] + [("m-none", None, T0)],
    )
    await pg.executemany(
        f'INSERT INTO "{pg_schema}".sla_clocks (clock_id, case_id, metric, queue_id, priority, '
        "policy_id, policy_version, status, target_ms, deadline_at, started_at, version) "
        "VALUES ($1, $2, 'first_response', $3, 'normal', 'p', 1, 'running', 3600000, $4, $5, 1)",
        [(f"s-{c['case_id']}", c["case_id"], c["queue_id"] or "*", now, T0) for c in CASES],
    )
    await pg.executemany(
        f'INSERT INTO "{pg_schema}".agents (agent_id, presence, capacity, version) '
        "VALUES ($1, 'available', 3, 1)",
        [("ana",), ("bia",), ("caio",), ("dora",)],
    )
    await pg.execute(
        f'INSERT INTO "{pg_schema}".daily_stats (day, area, channel, cases_opened) '
        "VALUES ('2026-12-01', 'familia', 'whatsapp', 4)"
    )
    return pg_schema


async def login_role(pg: Any, prefix: str = "t_app") -> tuple[str, str]:
    name, password = f"{prefix}_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    await pg.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE acolhe_agent_app")
    return name, password


@pytest.fixture
async def app(pg: Any, settings: Settings, schema: str) -> AsyncIterator[Any]:
    """A connection as a login role of the app (a member of acolhe_agent_app only)."""
    name, password = await login_role(pg)
    try:
        conn = await asyncpg.connect(settings.postgres.dsn.reveal(), user=name, password=password)
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        await pg.execute(f"DROP ROLE {name}")


async def as_agent(conn: Any, agent: str | None, sql: str, *args: Any) -> list[Any]:
    """`sql` in a transaction of its own, as the app runs it for `agent` (None: none named)."""
    async with conn.transaction():
        if agent is not None:
            await conn.execute(SET_AGENT, agent)
        rows: list[Any] = await asyncio.wait_for(conn.fetch(sql, *args), TIMEOUT_S)
        return rows


async def ids(conn: Any, agent: str | None, sql: str, *args: Any) -> set[str]:
    return {r[0] for r in await as_agent(conn, agent, sql, *args)}


@pytest.mark.parametrize("agent", sorted(SEES))
async def test_an_agent_sees_their_queues_cases_and_their_own_and_their_timelines(
    app: Any, schema: str, agent: str
) -> None:
    s = f'"{schema}"'

    assert await ids(app, agent, f"SELECT case_id FROM {s}.cases") == SEES[agent]
    assert await ids(app, agent, f"SELECT case_id FROM {s}.case_messages") == SEES[agent]
    assert await ids(app, agent, f"SELECT case_id FROM {s}.sla_clocks") == SEES[agent]
    for case_id in SEES[agent]:
        timeline = await as_agent(app, agent, CASE_TIMELINE.render(schema), case_id)
        assert [(r["message_id"], r["text"]) for r in timeline] == [
            (f"m-{case_id}", "personal words")
        ]


async def test_a_crossing_attempt_returns_nothing(app: Any, schema: str) -> None:
    s = f'"{schema}"'
    other = "v-waiting"  # Bia's team's

    assert await as_agent(app, "ana", f"SELECT * FROM {s}.cases WHERE case_id = $1", other) == []
    assert await as_agent(app, "ana", CASE_TIMELINE.render(schema), other) == []
    assert await as_agent(app, "ana", MY_OPEN_CASES.render(schema), "caio") == []
    assert await as_agent(app, "ana", MY_QUEUE_WAITING.render(schema), V, 50) == []
    assert await as_agent(app, "ana", NEXT_CASE_IN_MY_QUEUES.render(schema), [V]) == []
    assert await as_agent(app, "ana", MY_QUEUE_COUNTS.render(schema), [V]) == []
    assert await as_agent(app, "ana", SLA_AT_RISK_TODAY.render(schema), [V]) == []
    assert await as_agent(app, "ana", SLA_BOARD_TODAY.render(schema), [V]) == []
    joined = await as_agent(
        app,
        "ana",
        f"SELECT m.message_id, s.clock_id FROM {s}.case_messages AS m "
        f"JOIN {s}.sla_clocks AS s USING (case_id) WHERE m.case_id LIKE 'v-%'",
    )
    assert joined == []
    assert (
        await as_agent(app, "ana", f"SELECT * FROM {s}.case_messages WHERE case_id IS NULL") == []
    )


async def test_a_helper_sees_the_queues_normal_cases_not_its_confidential_ones(
    app: Any, schema: str
) -> None:
    waiting = MY_QUEUE_WAITING.render(schema)

    caio_sees = await as_agent(app, "caio", waiting, F, 50)
    ana_sees = await as_agent(app, "ana", waiting, F, 50)

    assert [(r["position"], r["case_id"]) for r in caio_sees] == [(1, "f-open")]
    assert {(r["case_id"], r["confidential"]) for r in ana_sees} == {
        ("f-open", False),
        ("f-secret", True),
    }
    assert await as_agent(app, "caio", CASE_TIMELINE.render(schema), "f-secret") == []
    # the confidential case he holds, he sees, with its timeline
    mine = await as_agent(app, "caio", MY_OPEN_CASES.render(schema), "caio")
    assert [(r["case_id"], r["confidential"]) for r in mine] == [("v-caio", True)]
    assert len(await as_agent(app, "caio", CASE_TIMELINE.render(schema), "v-caio")) == 1
    assert await as_agent(app, "caio", NEXT_CASE_IN_MY_QUEUES.render(schema), [V]) == []


async def test_queue_counts_and_the_sla_board_count_what_the_agent_sees(
    app: Any, schema: str
) -> None:
    counts = MY_QUEUE_COUNTS.render(schema)
    board = SLA_BOARD_TODAY.render(schema)

    def of(rows: list[Any], *columns: str) -> dict[str, tuple[Any, ...]]:
        return {r["queue_id"]: tuple(r[c] for c in columns) for r in rows}

    assert of(await as_agent(app, "ana", counts, [F, V]), "waiting", "in_service") == {F: (2, 1)}
    assert of(await as_agent(app, "caio", counts, [F, V]), "waiting", "in_service") == {
        F: (1, 1),
        V: (0, 1),
    }
    assert of(await as_agent(app, "ana", board, [F, V]), "at_risk") == {F: (3,)}
    assert of(await as_agent(app, "caio", board, [F, V]), "at_risk") == {F: (2,), V: (1,)}


async def test_agents_see_themselves_and_who_shares_a_queue_with_them(
    app: Any, schema: str
) -> None:
    agents = f'SELECT agent_id FROM "{schema}".agents'

    assert await ids(app, "ana", agents) == {"ana", "caio"}
    assert await ids(app, "bia", agents) == {"bia", "caio"}
    assert await ids(app, "caio", agents) == {"ana", "bia", "caio"}
    assert await ids(app, "dora", agents) == {"dora"}
    assert await ids(app, None, agents) == set()


async def test_an_agent_reads_their_queues_and_team(app: Any, schema: str) -> None:
    access = MY_ACCESS.render(schema)

    assert [tuple(r) for r in await as_agent(app, "ana", access)] == [(F, F, True)]
    assert [tuple(r) for r in await as_agent(app, "caio", access)] == [
        (F, F, False),
        (V, V, False),
    ]
    assert await as_agent(app, None, access) == []


async def test_without_an_agent_named_nothing_is_seen_but_the_daily_figures(
    app: Any, schema: str
) -> None:
    s = f'"{schema}"'
    for relation in ("cases", "case_messages", "sla_clocks", "agents", "queue_cases", "queues"):
        assert await as_agent(app, None, f"SELECT * FROM {s}.{relation}") == [], relation
    assert await ids(app, "ana", f"SELECT case_id FROM {s}.cases") == SEES["ana"]
    # the name lasted only for that transaction: a pooled connection carries nothing over
    assert await as_agent(app, None, f"SELECT * FROM {s}.cases") == []
    assert await app.fetch(f"SELECT * FROM {s}.cases") == []
    stats = await as_agent(app, None, f"SELECT area, cases_opened FROM {s}.daily_stats")
    assert [tuple(r) for r in stats] == [("familia", 4)]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO {s}.cases (case_id, contact_id, citizen_id, channel, status, opened_at,"
        " version) VALUES ('x', 'c', 'c', 'web_chat', 'in_triage', now(), 1)",
        "UPDATE {s}.cases SET agent_id = 'ana' WHERE case_id = 'v-waiting'",
        "DELETE FROM {s}.cases WHERE case_id = 'f-open'",
        "UPDATE {s}.agents SET capacity = 99",
        "INSERT INTO {s}.agent_queues VALUES ('ana', 'violencia-domestica')",
        "SELECT * FROM {s}.agent_queues",
        "SELECT * FROM {s}.agent_teams",
        "SELECT * FROM {s}.queue_teams",
        "SELECT * FROM {s}.agent_holds",
        "SELECT * FROM {s}.projection_offsets",
    ],
)
async def test_the_app_can_neither_write_nor_read_the_access_tables(
    app: Any, schema: str, sql: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await as_agent(app, "ana", sql.format(s=f'"{schema}"'))


async def test_an_app_that_names_another_agent_sees_what_that_agent_sees(
    app: Any, schema: str
) -> None:
    # The app is trusted with the name it sets (docs/read-model.md, "Access"): a login role
    # is the app's, not a person's.
    async with app.transaction():
        await app.execute(SET_AGENT, "ana")
        await app.execute(SET_AGENT, "bia")
        seen = await app.fetch(f'SELECT case_id FROM "{schema}".cases')
    assert {r[0] for r in seen} == SEES["bia"]


async def test_a_sync_replaces_the_previous_access_and_a_second_one_changes_nothing(
    pg: Any, app: Any, schema: str
) -> None:
    again = await sync(pg, schema, access_rows(routing()))
    assert [(c.table, c.added, c.removed) for c in again] == [
        ("queue_teams", 0, 0),
        ("agent_teams", 0, 0),
        ("agent_queues", 0, 0),
    ]

    without_caio = await sync(pg, schema, access_rows(routing(with_caio=False)))

    assert [(c.table, c.rows, c.removed) for c in without_caio][2] == ("agent_queues", 2, 2)
    assert await ids(app, "caio", f'SELECT case_id FROM "{schema}".cases') == {"v-caio"}


async def test_a_sync_of_an_unmigrated_schema_says_to_migrate(pg: Any, pg_schema: str) -> None:
    with pytest.raises(MissingAccessTables, match="acolhe projections migrate"):
        await sync(pg, pg_schema, access_rows(routing()))


async def test_schemas_migrated_at_once_create_the_cluster_wide_role_once(
    pg: Any, settings: Settings
) -> None:
    # 0003 with a role of this test's own, so that it does not exist yet: four schemas
    # apply it at the same time, and each CREATE ROLE but one meets the others' role.
    role = f"t_role_{uuid.uuid4().hex[:12]}"
    first, second, third = load_migrations()[:3]
    own = Migration(third.version, third.name, third.sql.replace("acolhe_agent_app", role))
    schemas = [f"t_roles_{uuid.uuid4().hex[:12]}" for _ in range(4)]
    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=4, max_size=4)
    try:
        for s in schemas:
            await migrate(pool, s, migrations=[first, second])
        applied = await asyncio.wait_for(
            asyncio.gather(*(migrate(pool, s, migrations=[first, second, own]) for s in schemas)),
            TIMEOUT_S,
        )

        assert applied == [[3]] * 4
        found = await pg.fetch("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role)
        assert [r["rolcanlogin"] for r in found] == [False]
        for s in schemas:
            assert await pg.fetchval("SELECT has_schema_privilege($1, $2, 'USAGE')", role, s)
    finally:
        await pool.close()
        for s in schemas:
            await pg.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')
        await pg.execute(f"DROP ROLE IF EXISTS {role}")


def test_the_sync_command_fills_the_access_from_the_shipped_configuration(
    stack: Any, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"t_access_cli_{uuid.uuid4().hex[:12]}"
    try:
        assert main(["projections", "migrate", "--schema", target]) == 0
        capsys.readouterr()

        assert main(["access", "sync", "--schema", target]) == 0
        first = capsys.readouterr().out
        assert main(["access", "sync", "--schema", target]) == 0
        second = capsys.readouterr().out

        queues = len(load_config().queues)
        lines = [line.split() for line in first.splitlines()]
        assert lines[0][-1] == load_config().version
        assert lines[1] == ["queue_teams", str(queues), "rows", f"(+{queues}", "-0)"]
        assert [line[0] for line in lines[2:]] == ["agent_teams", "agent_queues"]
        assert second.splitlines()[-1] == "nothing changed"
    finally:
        asyncio.run(_drop(settings, target))


async def _drop(settings: Settings, schema: str) -> None:
    conn = await asyncpg.connect(settings.postgres.dsn.reveal())
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
