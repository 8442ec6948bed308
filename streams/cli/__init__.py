"""The `acolhe` command: one entry point, one sub-command module each.

Errors from acolhe become a one-line message on stderr and exit status 2 (usage) or 1
(everything else), never a traceback, unless ACOLHE_DEBUG is set.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from streams.cli import access, deadletters, demo, doctor, projections, run, sla, stack
from streams.cli import export as export_cmd
from streams.cli import privacy as privacy_cmd
from streams.cli import schemas as schemas_cmd
from streams.shared.errors import AcolheError, ConfigurationError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acolhe",
        description="Event-sourced message backbone for remote citizen service.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stack.register(sub)
    doctor.register(sub)
    demo.register(sub)
    run.register(sub)
    schemas_cmd.register(sub)
    sla.register(sub)
    projections.register(sub)
    access.register(sub)
    privacy_cmd.register(sub)
    export_cmd.register(sub)
    deadletters.register(sub)
    settings = sub.add_parser("settings", help="print the settings in force (secrets masked)")
    settings.set_defaults(handler=_print_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"acolhe: configuration error: {exc}", file=sys.stderr)
        return 2
    except AcolheError as exc:
        if os.environ.get("ACOLHE_DEBUG"):
            raise
        print(f"acolhe: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("acolhe: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("ACOLHE_DEBUG"):
            raise
        print(
            f"acolhe: internal error: {exc!r}; rerun with ACOLHE_DEBUG=1 for the traceback "
            "and report it",
            file=sys.stderr,
        )
        return 70
    return code


def _print_settings(args: argparse.Namespace) -> int:
    from streams.shared.settings import Settings

    for key, value in Settings.from_env().describe().items():
        print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
