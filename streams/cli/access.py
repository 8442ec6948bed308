"""`acolhe access sync [--routing-config FILE] [--schema NAME]`: who may see what.

Agent apps read the read model under row-level security (0003_access.sql): an agent sees
the cases of the queues they serve, and confidential cases only when they hold them or are
of the queue's team. `sync` fills the tables those rules read (queue_teams, agent_teams,
agent_queues) from the routing configuration (streams.projections.access says how), in
one transaction that replaces their previous contents; running it again changes nothing.
Steps: read and check the configuration (a bad file is refused before connecting), derive
the rows, write them, print per table how many rows it holds and what changed.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from streams.projections import migrations
from streams.projections.access import AccessRows, TableChange, access_rows, sync
from streams.projections.sqltext import InvalidSchemaName, check_schema_name
from streams.routing.config import DEFAULT_PATH, load_config
from streams.shared.postgres import connect
from streams.shared.settings import Settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "access", help="agent apps' access to the read model: sync it from the routing config"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync_cmd = actions.add_parser(
        "sync", help="replace the access tables with what the routing configuration says"
    )
    sync_cmd.add_argument(
        "--routing-config",
        type=Path,
        default=DEFAULT_PATH,
        metavar="FILE",
        help="the routing configuration (default: the shipped config.default.json)",
    )
    sync_cmd.add_argument(
        "--schema",
        type=_schema_name,
        default=migrations.DEFAULT_SCHEMA,
        help="the read model's schema (default: %(default)s)",
    )
    sync_cmd.set_defaults(handler=_sync)


def _schema_name(value: str) -> str:
    try:
        return check_schema_name(value)
    except InvalidSchemaName as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _sync(args: argparse.Namespace) -> int:
    config = load_config(args.routing_config)
    rows = access_rows(config)
    done = asyncio.run(_run_sync(Settings.from_env(), args.schema, rows))
    print(f"schema {args.schema}: access from routing config {config.version}")
    for line in report(done):
        print(line)
    return 0


def report(done: list[TableChange]) -> list[str]:
    """One line per table: its rows now, and what the sync added and removed."""
    lines = [f"{c.table:13} {c.rows:6} rows  (+{c.added} -{c.removed})" for c in done]
    if not any(c.added or c.removed for c in done):
        lines.append("nothing changed")
    return lines


async def _run_sync(settings: Settings, schema: str, rows: AccessRows) -> list[TableChange]:
    conn = await connect(settings.postgres)
    try:
        return await sync(conn, schema, rows)
    finally:
        await conn.close()
