"""Who may see and hear what: the access tables derived from the routing configuration, the
`acolhe access sync` command's arguments, and the live-update channels and payloads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from streams.cli import build_parser, main
from streams.cli.access import report
from streams.projections.access import TableChange, access_rows, changes
from streams.projections.live import Change, Changes, LiveUpdatesLost, channel, parse
from streams.projections.migrations import DEFAULT_SCHEMA
from streams.routing.config import DEFAULT_PATH, load_config, parse_config
from streams.shared.errors import BadInput


def step(roles: list[str], timeout: int | None) -> dict[str, Any]:
    return {"pool": "p", "roles": roles, "timeout_seconds": timeout}


def agent(agent_id: str, areas: list[str], roles: list[str], regions: list[str]) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "areas": areas,
        "roles": roles,
        "regions": regions,
        "capacity": 3,
    }


# Two queues with a specialist first step, then specialists and generalists, then
# supervisors too: Ana and Bia are their queues' specialists, Caio a generalist of both
# areas, Sara a supervisor of family cases, Rui serves nothing.
CONFIG = parse_config(
    {
        "version": "test-1",
        "fallback_queue": "familia-capital",
        "queues": [
            {
                "queue_id": "familia-capital",
                "areas": ["familia"],
                "regions": ["sao_paulo"],
                "rule": "load_balancing",
                "escalation": [
                    step(["specialist"], 60),
                    step(["specialist", "generalist"], 60),
                    step(["specialist", "generalist", "supervisor"], None),
                ],
            },
            {
                "queue_id": "violencia-domestica",
                "areas": ["violencia_domestica"],
                "rule": "longest_idle",
                "escalation": [step(["specialist"], 60), step(["generalist"], None)],
            },
        ],
        "routes": [],
        "agents": [
            agent("ana", ["familia"], ["specialist"], ["sao_paulo"]),
            agent("bia", ["violencia_domestica"], ["specialist"], []),
            agent("caio", ["familia", "violencia_domestica"], ["generalist"], ["sao_paulo"]),
            agent("sara", ["familia"], ["supervisor"], []),
            agent("rui", ["familia"], ["specialist"], ["campinas"]),
        ],
    }
)


# -- access rows ------------------------------------------------------------------------------


def test_each_queue_is_its_own_team_of_its_first_steps_pool() -> None:
    rows = access_rows(CONFIG)

    assert rows.queue_teams == (
        ("familia-capital", "familia-capital"),
        ("violencia-domestica", "violencia-domestica"),
    )
    assert rows.agent_teams == (
        ("ana", "familia-capital"),
        ("bia", "violencia-domestica"),
    )


def test_an_agent_serves_every_queue_whose_pools_they_are_in() -> None:
    rows = access_rows(CONFIG)

    assert rows.agent_queues == (
        ("ana", "familia-capital"),
        ("bia", "violencia-domestica"),
        ("caio", "familia-capital"),
        ("caio", "violencia-domestica"),
        ("sara", "familia-capital"),
    )


def test_helpers_and_supervisors_serve_a_queue_without_being_of_its_team() -> None:
    rows = access_rows(CONFIG)
    teams = {a for a, _ in rows.agent_teams}
    serving = {a for a, _ in rows.agent_queues}

    assert {"caio", "sara"} <= serving - teams
    assert "rui" not in serving  # another region: the router never gives them these cases


def test_the_shipped_configuration_gives_every_queue_a_team_with_members() -> None:
    config = load_config(DEFAULT_PATH)
    rows = access_rows(config)
    members = {team for _, team in rows.agent_teams}

    assert {q for q, _ in rows.queue_teams} == set(config.queues)
    assert members == {team for _, team in rows.queue_teams}
    vd_team = {a for a, t in rows.agent_teams if t == "violencia-domestica"}
    vd_queue = {a for a, q in rows.agent_queues if q == "violencia-domestica"}
    assert vd_team == {"vd-01", "vd-02", "vd-03", "vd-04"}
    assert vd_queue - vd_team == {"vd-05", "vd-sup-01"}  # the generalist and the supervisor


def test_deriving_twice_gives_the_same_rows_and_no_changes() -> None:
    first, second = access_rows(CONFIG), access_rows(CONFIG)

    assert first == second
    assert changes(first.agent_queues, second.agent_queues) == (set(), set())
    added, removed = changes([("ana", "q1"), ("bia", "q2")], [("ana", "q1"), ("caio", "q2")])
    assert (added, removed) == ({("caio", "q2")}, {("bia", "q2")})


def test_the_report_says_what_a_sync_changed() -> None:
    done = [TableChange("queue_teams", 2, 0, 0), TableChange("agent_queues", 5, 1, 2)]

    lines = report(done)

    assert lines[1].split() == ["agent_queues", "5", "rows", "(+1", "-2)"]
    assert report([TableChange("queue_teams", 2, 0, 0)])[-1] == "nothing changed"


# -- the command's arguments ------------------------------------------------------------------


def test_sync_defaults_to_the_shipped_config_and_the_default_schema() -> None:
    args = build_parser().parse_args(["access", "sync"])

    assert args.routing_config == DEFAULT_PATH
    assert args.schema == DEFAULT_SCHEMA
    assert args.handler is not None


def test_sync_refuses_a_schema_name_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["access", "sync", "--schema", "Robert'); DROP"])

    assert exit_.value.code == 2
    assert "invalid schema name" in capsys.readouterr().err


def test_access_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["access"])

    assert exit_.value.code == 2
    assert "ACTION" in capsys.readouterr().err


def test_a_bad_routing_config_is_refused_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "routing.json"
    broken.write_text(json.dumps({"version": "x"}), encoding="utf-8")

    code = main(["access", "sync", "--routing-config", str(broken)])

    assert code == 1
    assert "missing agents, fallback_queue, queues, routes" in capsys.readouterr().err
    assert main(["access", "sync", "--routing-config", str(tmp_path / "none.json")]) == 1
    assert "cannot read it" in capsys.readouterr().err


# -- live-update channels and payloads ----------------------------------------------------------


@pytest.mark.parametrize("subject", ["ana", "Ana Souza", "agente/ção" * 20, 'x"; LISTEN y'])
def test_a_channel_fits_postgres_whatever_the_id(subject: str) -> None:
    name = channel("acolhe_read", "agent", subject)

    assert re.fullmatch(r"acolhe_agent_[0-9a-f]{40}", name)
    assert len(name.encode()) <= 63


def test_channels_differ_by_schema_kind_and_id() -> None:
    names = {
        channel(schema, kind, subject)
        for schema in ("acolhe_read", "acolhe_read_rebuild")
        for kind in ("agent", "queue")
        for subject in ("ana", "bia")
    }

    assert len(names) == 8


def test_a_payload_parses_into_a_change_and_its_schema() -> None:
    payload = json.dumps(
        {
            "schema": "acolhe_read",
            "case_id": "case-1",
            "version": 42,
            "change": "assigned",
            "status": "assigned",
            "queue_id": "familia-capital",
            "priority": "high",
        }
    )

    schema, change = parse(payload, kind="agent", subject="ana")

    assert schema == "acolhe_read"
    assert change == Change(
        kind="agent",
        subject="ana",
        change="assigned",
        case_id="case-1",
        version=42,
        status="assigned",
        queue_id="familia-capital",
        priority="high",
    )


@pytest.mark.parametrize("payload", ["", "[]", '{"schema": "s"}', '{"change": "assigned"}'])
def test_a_payload_that_is_not_a_change_is_refused(payload: str) -> None:
    with pytest.raises(BadInput, match="payload"):
        parse(payload, kind="queue", subject="q1")


async def test_a_reader_that_falls_behind_is_told_to_read_everything_anew() -> None:
    changes = Changes("ana", max_pending=2)
    for n in range(3):
        changes.deliver(Change(kind="queue", subject="q1", change="entered", case_id=f"c{n}"))
    changes.deliver(Change(kind="agent", subject="ana", change="assigned", case_id="c9"))

    first = await anext(changes)
    after = await anext(changes)

    assert (first.change, first.subject) == ("resync", "ana")
    assert (after.change, after.case_id) == ("assigned", "c9")


async def test_a_lost_connection_ends_the_changes_with_an_error() -> None:
    changes = Changes("ana", max_pending=2)
    changes.deliver(Change(kind="agent", subject="ana", change="taken", case_id="c1"))
    changes.deliver(LiveUpdatesLost("closed"))

    assert (await anext(changes)).change == "taken"
    with pytest.raises(LiveUpdatesLost):
        await anext(changes)
