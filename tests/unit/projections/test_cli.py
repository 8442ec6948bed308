"""`acolhe projections migrate | status` parse their options (registered in streams.cli)."""

from __future__ import annotations

import argparse

from streams.cli import projections
from streams.projections.migrations import DEFAULT_LOCK_TIMEOUT_S, DEFAULT_SCHEMA


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="acolhe")
    projections.register(root.add_subparsers(dest="command", required=True))
    return root


def test_migrate_targets_the_default_schema_unless_told() -> None:
    args = parser().parse_args(["projections", "migrate"])

    assert args.schema == DEFAULT_SCHEMA
    assert args.lock_timeout == DEFAULT_LOCK_TIMEOUT_S
    assert args.handler is not None


def test_status_takes_a_schema() -> None:
    args = parser().parse_args(["projections", "status", "--schema", "acolhe_read_rebuild"])

    assert args.schema == "acolhe_read_rebuild"
    assert args.action == "status"
