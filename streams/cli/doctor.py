"""`acolhe doctor`: what this machine has, what is missing, and how to get it."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any

from streams.shared.errors import StackError
from streams.shared.settings import Settings
from streams.stack import process, tools
from streams.stack.kafka import LocalKafka
from streams.stack.postgres import LocalPostgres

Check = tuple[str, bool, str]


def register(sub: Any) -> None:
    parser = sub.add_parser("doctor", help="check this machine for what acolhe needs")
    parser.set_defaults(handler=_doctor)


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    checks.append(
        (
            "python",
            sys.version_info >= (3, 11),
            f"{sys.version.split()[0]}"
            if sys.version_info >= (3, 11)
            else "Python 3.11+ is needed",
        )
    )
    checks.append(_try("java", lambda: _describe(tools.find_java(settings.stack.java_home))))
    kafka = LocalKafka(settings.stack)
    checks.append(
        _try("kafka jars", lambda: f"Kafka {kafka.version()} ({len(kafka.classpath())} jars)")
    )
    checks.append(_try("maven", lambda: _describe(tools.find_maven())))
    checks.append(
        _try(
            "postgres binaries",
            lambda: (
                f"PostgreSQL {tools.postgres_version(tools.find_postgres_bin())} "
                f"in {tools.find_postgres_bin()}"
            ),
        )
    )
    if os.geteuid() == 0:
        ok = shutil.which("unshare") is not None
        checks.append(
            (
                "unshare (root)",
                ok,
                "found: Postgres will run as nobody in a user namespace"
                if ok
                else "missing: apt-get install -y util-linux, or run as a normal user",
            )
        )
    pg = LocalPostgres(settings.stack)
    for name, port, ours in (
        ("kafka port", settings.stack.kafka_port, kafka.pid() is not None),
        ("controller port", settings.stack.controller_port, kafka.pid() is not None),
        ("postgres port", settings.stack.postgres_port, pg.pid() is not None),
    ):
        taken = process.port_open("127.0.0.1", port)
        checks.append(
            (
                name,
                ours or not taken,
                f"{port} "
                + (
                    "used by acolhe's stack"
                    if ours
                    else "free"
                    if not taken
                    else "taken by another program: stop it or choose another "
                    "port with ACOLHE_STACK_*_PORT"
                ),
            )
        )
    state = settings.stack.state_dir
    parent = state if state.exists() else state.parent
    writable = os.access(parent, os.W_OK)
    free_gb = shutil.disk_usage(parent).free / 1e9 if parent.exists() else 0.0
    checks.append(
        (
            "state dir",
            writable and free_gb > 2,
            f"{state} ({free_gb:.1f} GB free)"
            + ("" if writable else ": not writable")
            + ("" if free_gb > 2 else ": under 2 GB free"),
        )
    )
    return checks


def _doctor(args: argparse.Namespace) -> int:
    checks = run_checks(Settings.from_env())
    for name, ok, detail in checks:
        print(f"{'ok     ' if ok else 'MISSING'} {name:18} {detail}")
    missing = [name for name, ok, _ in checks if not ok]
    if missing:
        print(
            f"\n{len(missing)} problem(s): {', '.join(missing)}. "
            "deploy/dev setup installs what it can."
        )
        return 1
    print("\neverything acolhe needs is here.")
    return 0


def _describe(tool: tools.Tool) -> str:
    return f"{tool.version} at {tool.path}"


def _try(name: str, probe: Callable[[], str]) -> Check:
    try:
        return (name, True, probe())
    except StackError as exc:
        return (name, False, str(exc))
