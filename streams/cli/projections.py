"""`acolhe projections migrate | status | run PROJECTION [--schema NAME]`: the read model.

`run cases | agents | sla_clocks` projects one topic of the log into its tables until SIGTERM or
SIGINT (the schema migrated first; every batch commits its rows with its offsets, so a stop
at any moment loses nothing), serving Prometheus `/metrics` and `/healthz` on
ACOLHE_METRICS_PORT when it is set (docs/read-model.md, "Metrics").

`rebuild` replays the whole log into a fresh schema with one worker process per core, catches
up, and switches it in atomically, with a progress bar (rate and time left) on stderr; see
streams.projections.rebuild for the steps.

`migrate` applies the pending migrations of streams/projections/sql to the schema (created
if missing) and prints what it applied; running it again, or from several machines at
once, applies each migration once. `status` prints what is applied and what is pending,
without changing anything. Both refuse a schema whose applied migrations differ from the
shipped files (see streams.projections.migrations).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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
    rebuild = actions.add_parser(
        "rebuild",
        help="replay the whole log into a fresh schema, then switch it in atomically",
    )
    _add_schema(rebuild)
    rebuild.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes for the replay (default: one per core)",
    )
    rebuild.add_argument(
        "--no-switch",
        action="store_true",
        help="leave the rebuilt tables in SCHEMA_rebuild and the live schema as it is",
    )
    rebuild.set_defaults(handler=_rebuild)


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
    from streams.shared import metrics
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
    try:
        async with metrics.served(settings.metrics_port):
            await projector.start()
            try:
                while not stop.is_set():
                    await projector.step(timeout_ms=500)
            finally:
                await projector.stop()
    finally:
        await contract.close()


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _rebuild(args: argparse.Namespace) -> int:
    import signal

    from streams.projections.rebuild import rebuild

    # SIGTERM unwinds like Ctrl-C, so that the workers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = Settings.from_env()
    bar = ProgressBar(sys.stderr)
    report = asyncio.run(
        rebuild(
            settings,
            schema=args.schema,
            workers=args.workers,
            on_progress=bar.show,
            switch=not args.no_switch,
        )
    )
    bar.finish()
    print(
        f"replayed {report.events:,} records in {report.bulk_s:.1f} s"
        f" ({report.rate:,.0f}/s, {report.workers} workers);"
        f" caught up {report.catch_up_events:,} more in {report.catch_up_s:.1f} s"
    )
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in report.rows.items()))
    if report.erasures:
        print(f"erasures applied: {report.erasures:,} citizen(s)' messages redacted")
    if args.no_switch:
        print(f"rebuilt schema {report.schema}; {args.schema} unchanged (--no-switch)")
    else:
        kept = f"; the old one is kept as {report.previous}" if report.previous else ""
        print(
            f"switched {args.schema} to the rebuilt tables in {report.switch_s * 1000:.0f} ms{kept}"
        )
    return 0


class ProgressBar:
    """Rate and time left of a rebuild, redrawn in place on a terminal, one line every
    five seconds elsewhere (a log file, CI)."""

    WIDTH = 30

    def __init__(self, out: Any) -> None:
        self._out = out
        self._tty = bool(getattr(out, "isatty", lambda: False)())
        self._last = 0.0

    def show(self, progress: Any) -> None:
        if not self._tty and progress.elapsed_s - self._last < 5 and progress.done < progress.total:
            return
        self._last = progress.elapsed_s
        line = render_progress(progress, self.WIDTH)
        self._out.write(f"\r{line}" if self._tty else f"{line}\n")
        self._out.flush()

    def finish(self) -> None:
        if self._tty:
            self._out.write("\n")
            self._out.flush()


def render_progress(progress: Any, width: int = 30) -> str:
    """`[#########.....]  61%  3,051,200/5,000,000 records  81,234/s  0:00:24 left`."""
    share = progress.done / progress.total if progress.total else 1.0
    filled = int(share * width)
    left = progress.left_s
    eta = "?" if left is None else _clock(left)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%}"
        f"  {progress.done:,}/{progress.total:,} records  {progress.rate:,.0f}/s  {eta} left"
    )


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


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
