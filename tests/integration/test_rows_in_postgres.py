"""Rows built by the pure projection land in the real read-model tables: the column names,
types, defaults and CHECKs of sla_clocks and agents accept them, they read back as built,
and the sla_board view and SLA_AT_RISK_TODAY count them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.events import (
    AgentCapacityChanged,
    AgentPresenceChanged,
    CaseAssigned,
    CaseClosed,
    CaseReleased,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaResumed,
    SlaStarted,
    SlaWarned,
)
from streams.projections.migrations import migrate
from streams.projections.queries import SLA_AT_RISK_TODAY
from streams.projections.rows import (
    AGENT_COLUMNS,
    SLA_CLOCK_COLUMNS,
    AgentEvent,
    SlaEvent,
    evolve_clock,
    fold_agents,
    upsert_agent,
    upsert_clock,
)
from streams.projections.writer import Position, write

TIMEOUT_S = 60.0
# 10:00 in São Paulo on Tuesday 1 December 2026: the office day is 2026-12-01.
T0 = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def terms(clock: str, minutes: int, elapsed_ms: int, deadline: datetime | None) -> dict[str, Any]:
    return {
        "event_id": f"{clock}-{minutes}",
        "occurred_at": at(minutes),
        "correlation_id": "corr",
        "case_id": f"case-{clock}",
        "clock_id": clock,
        "queue_id": "familia-capital",
        "metric": "first_response",
        "priority": "high",
        "policy_id": "atendimento-geral",
        "policy_version": 1,
        "calendar_id": "office-hours",
        "target_ms": 7_200_000,
        "elapsed_ms": elapsed_ms,
        "deadline_at": deadline,
    }


def clocks(now: datetime) -> dict[str, dict[str, Any]]:
    """Four clocks of one case partition, in log order: one met in time, one breached and
    paused, one breached then met late, one running (warned) with its deadline `now`."""
    log: list[SlaEvent] = [
        SlaStarted(**terms("met", 0, 0, at(120))),
        SlaMet(**terms("met", 30, 1_800_000, None), within_target=True),
        SlaStarted(**terms("late", 0, 0, at(120))),
        SlaBreached(**terms("late", 120, 7_200_000, None)),
        SlaPaused(**terms("late", 130, 7_800_000, None), pause_reason="waiting_on_citizen"),
        SlaResumed(**terms("late", 190, 7_800_000, None), paused_ms=3_600_000),
        SlaMet(**terms("late", 200, 8_400_000, None), within_target=False),
        SlaStarted(**terms("held", 0, 0, None)),
        SlaResumed(**terms("held", 10, 0, at(130)), paused_ms=600_000),
        SlaBreached(**terms("held", 130, 7_200_000, None)),
        SlaPaused(**terms("held", 140, 7_800_000, None), pause_reason="documents_pending"),
        SlaStarted(**terms("open", 0, 0, now)),
        SlaWarned(**terms("open", 90, 5_400_000, now), warning_ms=5_400_000),
    ]
    rows: dict[str, dict[str, Any]] = {}
    for version, event in enumerate(log, start=100):
        rows[event.clock_id] = evolve_clock(rows.get(event.clock_id), event, version)
    return rows


def routing_log() -> list[AgentEvent]:
    common: dict[str, Any] = {"correlation_id": "corr", "occurred_at": at(0)}
    return [
        AgentPresenceChanged(
            **common, event_id="p1", agent_id="ana", presence="available", changed_at=at(0)
        ),
        AgentCapacityChanged(**common, event_id="k1", agent_id="ana", capacity=3, changed_at=at(0)),
        CaseAssigned(
            **{**common, "occurred_at": at(5)},
            event_id="a1",
            case_id="c1",
            agent_id="ana",
            queue_id="familia-capital",
            routing_decision_id="d1",
        ),
        CaseAssigned(
            **{**common, "occurred_at": at(6)},
            event_id="a2",
            case_id="c2",
            agent_id="ana",
            queue_id="familia-capital",
            routing_decision_id="d2",
        ),
        CaseAssigned(
            **{**common, "occurred_at": at(7)},
            event_id="a3",
            case_id="c3",
            agent_id="bia",
            queue_id="familia-capital",
            routing_decision_id="d3",
        ),
        CaseClosed(**common, event_id="x1", case_id="c1", reason="resolved"),
        CaseReleased(
            **common,
            event_id="r3",
            case_id="c3",
            agent_id="bia",
            queue_id="familia-capital",
            reason="agent_offline",
        ),
    ]


async def read(pg: Any, schema: str, table: str, key: str, columns: tuple[str, ...]) -> Any:
    names = ", ".join(columns)
    found = await pg.fetch(f'SELECT {names} FROM "{schema}".{table} ORDER BY {key}')
    return {r[key]: dict(r) for r in found}


async def test_clock_rows_fit_the_table_and_the_board_counts_them(pg: Any, pg_schema: str) -> None:
    await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = clocks(now)
    positions = [Position("acolhe.sla", 0, 113)]

    upserts = [upsert_clock(r) for r in rows.values()]
    await asyncio.wait_for(write(pg, pg_schema, upserts, positions, projector="sla"), TIMEOUT_S)
    await write(pg, pg_schema, upserts, positions, projector="sla")  # redelivered: no change

    stored = await read(pg, pg_schema, "sla_clocks", "clock_id", SLA_CLOCK_COLUMNS)
    assert stored == rows
    assert {k: r["status"] for k, r in stored.items()} == {
        "held": "paused",
        "late": "met",
        "met": "met",
        "open": "running",
    }
    assert stored["late"]["paused_ms"] == 3_600_000
    assert (stored["held"]["breached_at"], stored["held"]["pause_reason"]) == (
        at(130),
        "documents_pending",
    )
    assert await pg.fetchval(
        f'SELECT count(*) FROM "{pg_schema}".sla_clocks WHERE updated_at IS NOT NULL'
    ) == len(rows)

    board = await pg.fetch(
        "SELECT day, at_risk, warned, breached, met, met_within_target"
        f' FROM "{pg_schema}".sla_board WHERE queue_id = $1 ORDER BY day',
        "familia-capital",
    )
    today = await pg.fetchval(f'SELECT "{pg_schema}".office_day($1)', now)
    marks = {r["day"]: tuple(r)[1:] for r in board}
    assert marks.pop(date(2026, 12, 1)) == (0, 0, 2, 2, 1)
    assert marks == {today: (1, 1, 0, 0, 0)}
    at_risk = await pg.fetch(SLA_AT_RISK_TODAY.render(pg_schema), ["familia-capital"])
    assert [(r["clock_id"], r["warned"]) for r in at_risk] == [("open", True)]


async def test_agent_rows_fit_the_table_and_read_back_as_built(pg: Any, pg_schema: str) -> None:
    await asyncio.wait_for(migrate(pg, pg_schema), TIMEOUT_S)
    log = list(enumerate(routing_log(), start=40))
    rows, holders = fold_agents({}, {}, log)

    await asyncio.wait_for(
        write(
            pg,
            pg_schema,
            [upsert_agent(r) for r in rows.values()],
            [Position("acolhe.routing", 0, 47)],
            projector="agents",
        ),
        TIMEOUT_S,
    )

    stored = await read(pg, pg_schema, "agents", "agent_id", AGENT_COLUMNS)
    assert stored == rows
    assert stored["ana"] == {
        "agent_id": "ana",
        "presence": "available",
        "presence_since": at(0),
        "capacity": 3,
        "open_cases": 1,
        "last_assigned_at": at(6),
        "version": 45,
    }
    assert (stored["bia"]["open_cases"], stored["bia"]["presence"]) == (0, "offline")
    assert holders == {"c2": "ana"}

    # The next batch starts from the stored rows (as the projector loads them).
    loaded = await pg.fetch(f'SELECT * FROM "{pg_schema}".agents')
    again, _ = fold_agents({r["agent_id"]: dict(r) for r in loaded}, holders, log)
    assert again == rows
