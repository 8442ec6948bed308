"""`acolhe projections migrate | status | run PROJECTION [--schema NAME]`: the read model.

`run cases | agents | sla_clocks` projects one topic of the log into its tables until SIGTERM or
SIGINT (the schema migrated first; every batch commits its rows with its offsets, so a stop
at any moment loses nothing).

`migrate` applies the pending migrations of streams/projections/sql to the schema (created
if missing) and prints what it applied; running it again, or from several machines at
once, applies each migration once. `status` prints what is applied and what is pending,
without changing anything. Both refuse a schema whose applied migrations differ from the
shipped files (see streams.projections.migrations).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from streams.projections import migrations
from streams.shared.postgres import connect
from streams.shared.settings import Settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "projections", help="the read model: migrate its schema, run its projectors"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = actions.add_parser("migrate", help="apply the pending read-model migrations")
    _add_schema(migrate)
    migrate.add_argument(
        "--lock-timeout",
        type=float,
        default=migrations.DEFAULT_LOCK_TIMEOUT_S,
        metavar="SECONDS",
        help="give up waiting for a lock after this long (default: %(default)s)",
    )
    migrate.set_defaults(handler=_migrate)
    status = actions.add_parser("status", help="show applied and pending migrations")
    _add_schema(status)
    status.set_defaults(handler=_status)
    run = actions.add_parser("run", help="project a topic into its tables until stopped")
    run.add_argument("projection", choices=sorted(PROJECTIONS))
    _add_schema(run)
    run.set_defaults(handler=_run)


PROJECTIONS = ("agents", "cases", "sla_clocks")


def _run(args: argparse.Namespace) -> int:
    from streams.shared.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_format)
    asyncio.run(_serve(settings, args.projection, args.schema))
    return 0


async def _serve(settings: Settings, name: str, schema: str) -> None:
    import signal

    from schemas.catalog import TOPICS
    from streams.projections.folds import projections
    from streams.projections.projector import Projector
    from streams.shared.contract import Contract
    from streams.shared.kafka import TopicSpec, ensure_topics

    projection = projections()[name]
    topic = projection.topic
    await ensure_topics(settings.kafka, [TopicSpec(topic, partitions=TOPICS[topic].partitions)])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    contract = await Contract.open(settings)
    projector = Projector(settings, contract, projection, schema=schema)
    await projector.start()
    try:
        while not stop.is_set():
            await projector.step(timeout_ms=500)
    finally:
        await projector.stop()
        await contract.close()


def _add_schema(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--schema",
        default=migrations.DEFAULT_SCHEMA,
        help="the read model's schema (default: %(default)s)",
    )


def _migrate(args: argparse.Namespace) -> int:
    applied = asyncio.run(_run_migrate(Settings.from_env(), args.schema, args.lock_timeout))
    shipped = {m.version: m for m in migrations.load_migrations()}
    for version in applied:
        print(f"applied {shipped[version].label} to schema {args.schema}")
    if not applied:
        print(f"schema {args.schema} is up to date: nothing to apply")
    return 0


def _status(args: argparse.Namespace) -> int:
    report = asyncio.run(_run_status(Settings.from_env(), args.schema))
    for a in report.applied:
        when = f"{a.applied_at:%Y-%m-%d %H:%M:%S %Z}" if a.applied_at else "?"
        print(f"applied  {a.version:04d}_{a.name}  {when} by {a.applied_by}")
    for m in report.pending:
        print(f"pending  {m.label}")
    print(f"schema {args.schema}: {len(report.applied)} applied, {len(report.pending)} pending")
    return 0


async def _run_migrate(settings: Settings, schema: str, lock_timeout_s: float) -> list[int]:
    conn = await connect(settings.postgres)
    try:
        return await migrations.migrate(conn, schema, lock_timeout_s=lock_timeout_s)
    finally:
        await conn.close()


async def _run_status(settings: Settings, schema: str) -> migrations.MigrationStatus:
    conn = await connect(settings.postgres)
    try:
        return await migrations.status(conn, schema)
    finally:
        await conn.close()
