"""`acolhe export --out DIR [--since T] [--until T] [--type NAME]... [--queue Q]... [--area A]...
[--citizen CITIZEN_ID]... [--format avro|parquet|csv]... [--personal omit|pseudonymize]
[--authorized-key FILE] [--include-blocked] [--force]`.

Writes the events of a time range of the log into one file per event type and format
(docs/export.md). Times are ISO-8601: `2026-11-30T12:00:00-03:00`, `2026-11-30T15:00Z`;
without an offset they are UTC, and a date alone is midnight UTC of that day. The range is
[since, until) on each event's occurred_at; without --since from the start of the log,
without --until up to its end when the export starts. Blocked citizens' events are left out
(as acolhe.privacy says when the export starts) unless --include-blocked is given with the
authorized key. `--citizen` keeps only the events about those citizens (a data subject's
access request, LGPD art. 18 II and V); a blocked one needs --include-blocked.

Everything the command can refuse (an unknown type or area, an empty range, a citizen id
of the wrong form, a folder it cannot use, a key that is not authorized) is refused before
anything is read or written, with a one-line message and exit status 2; so is a blocked
citizen asked for without --include-blocked, once acolhe.privacy is read (nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from streams.export.plan import DEFAULT_FORMATS, FORMATS, ExportOptions, ExportReport, Personal
from streams.shared.errors import BadInput, RuleViolation
from streams.shared.settings import Settings

USAGE_ERROR = 2


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="write a time range of the log to Avro, Parquet or CSV files for analysts",
        description="Write the events of a time range of the log into one file per event "
        "type and format; personal fields are left out or pseudonymized unless an "
        "authorized key is given (docs/export.md).",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder")
    parser.add_argument(
        "--since", metavar="TIME", help="first instant (ISO-8601; UTC if no offset)"
    )
    parser.add_argument("--until", metavar="TIME", help="end instant, not included")
    parser.add_argument(
        "--type", dest="types", action="append", metavar="EVENT", help="an event type (repeat)"
    )
    parser.add_argument(
        "--queue", dest="queues", action="append", metavar="QUEUE", help="a queue id (repeat)"
    )
    parser.add_argument(
        "--area", dest="areas", action="append", metavar="AREA", help="a legal area (repeat)"
    )
    parser.add_argument(
        "--citizen",
        dest="citizens",
        action="append",
        metavar="CITIZEN_ID",
        help="keep only the events about this citizen (citizen-...; repeat): a data "
        "subject's access request",
    )
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=FORMATS,
        help=f"a file format (repeat; default: {' and '.join(DEFAULT_FORMATS)})",
    )
    parser.add_argument(
        "--personal",
        choices=get_args(Personal),
        default="pseudonymize",
        help="what to do with personal fields without an authorized key (default: %(default)s)",
    )
    parser.add_argument(
        "--authorized-key",
        type=Path,
        metavar="FILE",
        help="a key whose SHA-256 is in ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256: personal "
        "fields in clear",
    )
    parser.add_argument(
        "--include-blocked",
        action="store_true",
        help="export blocked citizens' events too (left out by default); needs --authorized-key",
    )
    parser.add_argument(
        "--force", action="store_true", help="write into a folder that is not empty"
    )
    parser.set_defaults(handler=_export)


def parse_time(text: str, flag: str) -> datetime:
    """An ISO-8601 instant; UTC when it has no offset (a date alone: its midnight UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(
            f"{flag} {text!r} is not an ISO-8601 time, e.g. 2026-11-30, 2026-11-30T12:00Z "
            "or 2026-11-30T09:00:00-03:00"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment


def options_from(args: argparse.Namespace) -> ExportOptions:
    """The export the arguments ask for (checked further by the exporter)."""
    key: bytes | None = None
    if args.authorized_key is not None:
        try:
            key = args.authorized_key.read_bytes()
        except OSError as exc:
            raise BadInput(
                f"cannot read the authorized key {args.authorized_key}: {exc.strerror or exc}"
            ) from exc
    return ExportOptions(
        out_dir=args.out,
        since=parse_time(args.since, "--since") if args.since else None,
        until=parse_time(args.until, "--until") if args.until else None,
        event_types=frozenset(args.types) if args.types else None,
        queues=frozenset(args.queues) if args.queues else None,
        areas=frozenset(args.areas) if args.areas else None,
        citizens=frozenset(args.citizens) if args.citizens else None,
        formats=tuple(dict.fromkeys(args.formats)) if args.formats else DEFAULT_FORMATS,
        personal=args.personal,
        authorized_key=key,
        force=args.force,
        include_blocked=args.include_blocked,
    )


def _export(args: argparse.Namespace) -> int:
    from streams.export.files import prepare_out_dir
    from streams.export.plan import resolve
    from streams.export.privacy import check_authorized_key

    made = not args.out.exists()
    try:
        options = options_from(args)
        resolve(options)
        settings = Settings.from_env()
        if options.authorized_key is not None:
            check_authorized_key(options.authorized_key, settings.export.authorized_key_sha256)
        prepare_out_dir(options.out_dir, force=options.force)
        report = asyncio.run(_run(settings, options))
    except (BadInput, RuleViolation) as exc:
        if made:  # refused after the folder was checked (a blocked citizen): leave no trace
            _remove_if_empty(args.out)
        print(f"acolhe export: {exc}", file=sys.stderr)
        return USAGE_ERROR
    for line in summary(report, options):
        print(line)
    return 0


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):  # not there, or not empty: nothing of ours to remove
        path.rmdir()


async def _run(settings: Settings, options: ExportOptions) -> ExportReport:
    from streams.export import export
    from streams.shared.contract import Contract

    contract = await Contract.open(settings)
    try:
        return await export(settings, contract, options)
    finally:
        await contract.close()


def summary(report: ExportReport, options: ExportOptions) -> list[str]:
    """What the command prints: events and files per type, and how long it took."""
    since = options.since.isoformat() if options.since else "the start of the log"
    until = options.until.isoformat() if options.until else "its end"
    personal = {
        "clear": "in clear (authorized key)",
        "pseudonymize": "pseudonymized or left out",
        "omit": "left out",
    }[report.personal]
    lines = [
        f"exported {report.events} events from {since} to {until} into {report.out_dir} "
        f"in {report.seconds:.1f} s; personal fields {personal}"
    ]
    width = max((len(n) for n in report.types), default=0)
    for name, written in sorted(report.types.items()):
        files = ", ".join(p.name for p in written.files)
        lines.append(f"  {name:{width}}  {written.events:>9}  {files}")
    if not report.types:
        lines.append("  no event matched: only manifest.json was written")
    if report.rejected:
        lines.append(
            f"warning: {report.rejected} records were not valid events and were left out "
            "(undecodable, or sealed fields that fail authentication)"
        )
    if report.citizens:
        lines.append(
            f"  only the events about the {report.citizens} citizen(s) asked for (--citizen); "
            "manifest.json counts them and names none"
        )
    if report.blocked_citizens:
        lines.append(
            f"  blocked citizens: {report.blocked_citizens}, {report.blocked_left_out} of their "
            "events left out (--include-blocked with the authorized key exports them)"
        )
    elif options.include_blocked:
        lines.append("  blocked citizens' events included (--include-blocked)")
    if report.missing_topics:
        lines.append(f"warning: no such topic: {', '.join(report.missing_topics)}")
    return lines
