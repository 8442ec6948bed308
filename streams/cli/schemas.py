"""`acolhe schemas check | release [NAME ...]`: keep the event contract evolvable.

`check` compares every current schema (schemas/avro) with every released version of its
record (schemas/releases) and exits 1 when any change would break a reader of the log.
`release` records the current versions not released yet. The rules live in schemas.evolution.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from schemas import evolution
from streams.shared.errors import BadInput

T = TypeVar("T")


def register(sub: Any) -> None:
    parser = sub.add_parser("schemas", help="check event schemas against their released versions")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="check each current schema against every release of its record"
    )
    _add_dirs(check)
    check.set_defaults(handler=_check)
    release = actions.add_parser(
        "release", help="copy the current versions not released yet into the releases directory"
    )
    release.add_argument(
        "names", nargs="*", metavar="NAME", help="records to release (default: all)"
    )
    _add_dirs(release)
    release.set_defaults(handler=_release)


def _add_dirs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--avro-dir",
        type=Path,
        default=evolution.AVRO_DIR,
        help="the current schemas, one <Record>.avsc each (default: %(default)s)",
    )
    parser.add_argument(
        "--releases-dir",
        type=Path,
        default=evolution.RELEASES_DIR,
        help="the released versions, <Record>/v<N>.avsc (default: %(default)s)",
    )


def _check(args: argparse.Namespace) -> int:
    report = _run(lambda: evolution.check_catalog(args.avro_dir, args.releases_dir))
    for record in report.records:
        version = f" v{record.version}" if record.version is not None else ""
        print(f"{record.status:8} {record.name}{version}{_state(record)}")
        for reason in (*record.errors, *record.warnings):
            print(f"{'':8}   {reason}")
    print(
        f"{len(report.records)} records: {report.count('ok')} ok, "
        f"{report.count('warning')} with warnings, {report.count('error')} with errors"
    )
    return 1 if report.has_errors else 0


def _release(args: argparse.Namespace) -> int:
    names = args.names or None
    written = _run(lambda: evolution.release(args.avro_dir, args.releases_dir, names))
    for path in written:
        print(f"released {path.parent.name} {path.stem} -> {path}")
    if not written:
        print("nothing to release: every current version is already released")
    return 0


def _state(record: evolution.RecordReport) -> str:
    if record.version is None or record.errors:
        return ""
    if record.is_released:
        return " (released)"
    older = ", ".join(f"v{n}" for n in record.releases if n < record.version)
    return f" (not released yet; checked against {older})" if older else " (new, not released yet)"


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except evolution.SchemaEvolutionError as exc:
        raise BadInput(str(exc)) from exc
