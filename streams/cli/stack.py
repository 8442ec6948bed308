"""`acolhe stack up | down [--purge] | status [--json]`."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import Any

import orjson

from streams.shared.settings import Settings
from streams.stack.manager import Stack


def register(sub: Any) -> None:
    parser = sub.add_parser("stack", help="run the local Kafka broker and PostgreSQL server")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    prepare = actions.add_parser(
        "prepare",
        help="resolve the Kafka jars and check the Postgres binaries, without starting anything",
    )
    prepare.set_defaults(handler=_prepare)
    up = actions.add_parser("up", help="start Kafka and Postgres (what is not running yet)")
    up.set_defaults(handler=_up)
    down = actions.add_parser("down", help="stop Kafka and Postgres")
    down.add_argument("--purge", action="store_true", help="also delete their data and logs")
    down.set_defaults(handler=_down)
    status = actions.add_parser("status", help="health, version, address, data directory")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(handler=_status)


def _prepare(args: argparse.Namespace) -> int:
    stack = Stack(Settings.from_env())
    jars = stack.kafka.classpath()
    print(f"kafka     {stack.kafka.version(jars)}: {len(jars)} jars resolved")
    print(f"postgres  {stack.postgres.version()}: binaries found")
    return 0


def _up(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    started = time.perf_counter()
    Stack(settings).up()
    print(f"stack up in {time.perf_counter() - started:.1f}s (state in {settings.stack.state_dir})")
    return _status(argparse.Namespace(json=False))


def _down(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    Stack(settings).down(purge=args.purge)
    print("stack down" + (f"; removed {settings.stack.state_dir}" if args.purge else ""))
    return 0


def _status(args: argparse.Namespace) -> int:
    components = Stack(Settings.from_env()).status()
    if args.json:
        print(orjson.dumps([asdict(c) for c in components], option=orjson.OPT_INDENT_2).decode())
    else:
        for c in components:
            state = "healthy" if c.healthy else ("unhealthy" if c.running else "stopped")
            print(
                f"{c.name:9} {state:10} version {c.version or '?':8} at {c.address:16} "
                f"pid {c.pid or '-':<8} data {c.data_dir}"
            )
            print(f"{'':9} {c.detail}")
    return 0 if all(c.healthy for c in components) else 1
