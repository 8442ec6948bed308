"""`acolhe deadletters list|show|replay`: what was set aside on acolhe.deadletter, and
putting back what a processor rejected once the cause is fixed (docs/processing.md, "Dead
letters").

- `list [--since T] [--until T] [--error-type T]... [--processor P]... [--limit N] [--json]`:
  one line per dead letter and the count per error type; never a payload.
- `show EVENT_ID [--payload]`: every field (headers' names and sizes, not their values);
  `--payload` writes the raw payload, alone, to stdout, with a warning on stderr.
- `replay EVENT_ID... | --error-type T / --processor P / --since T [--until T]
  [--dry-run] [--force]`: the records a processor rejected, written again into their
  source partition (streams/deadletters/replay.py has the steps).

Refusals (a bad time, an unknown id, a dead letter that has no source topic, one replayed
already without --force) exit with status 2 and the reason; Kafka or Postgres failing
exits with 1 and what to check (`streams.cli.main`), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from streams.cli.export import parse_time
from streams.deadletters import select
from streams.deadletters.ledger import SCHEMA
from streams.deadletters.select import Selection
from streams.shared.errors import BadInput, RuleViolation
from streams.shared.events import DEAD_LETTER_TOPIC
from streams.shared.settings import Settings

USAGE_ERROR = 2
PAYLOAD_WARNING = (
    "acolhe deadletters show: warning: the payload is the input exactly as received and may "
    "hold personal data in clear (LGPD): keep it off shared screens, tickets and chats, and "
    "delete any copy when done"
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "deadletters",
        help="list, inspect and replay the inputs set aside on acolhe.deadletter",
        description="The inputs connectors and processors set aside with the reason "
        "(acolhe.deadletter, kept 14 days): list them, inspect one, and put back on their "
        "topic the records a processor rejected once the cause is fixed.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="one line per dead letter; never the payload")
    _add_filters(listing)
    listing.add_argument(
        "--limit", type=_positive, metavar="N", help="only the N most recent matches"
    )
    listing.add_argument("--json", action="store_true", help="one JSON document on stdout")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="every field of one dead letter")
    show.add_argument("event_id", metavar="EVENT_ID")
    show.add_argument(
        "--payload",
        action="store_true",
        help="write the raw payload (and nothing else) to stdout: it may hold personal data",
    )
    show.set_defaults(handler=_show)

    replay = actions.add_parser(
        "replay",
        help="write rejected records back to their source topic",
        description="Write the records a processor rejected back into their topic and "
        "partition (the same bytes, key and headers), for the fixed processor to read. "
        "Choose them by id, or by --error-type, --processor and --since. Inputs a "
        "connector refused were never on a topic and are refused.",
    )
    replay.add_argument("event_ids", nargs="*", metavar="EVENT_ID")
    _add_filters(replay)
    replay.add_argument(
        "--dry-run", action="store_true", help="say what would be replayed; write nothing"
    )
    replay.add_argument(
        "--force", action="store_true", help="replay a record already replayed, again"
    )
    replay.add_argument("--ops-schema", default=SCHEMA, help=argparse.SUPPRESS)
    replay.set_defaults(handler=_replay)

    for action in (listing, show, replay):
        # Tests read and write topics of their own.
        action.add_argument("--topic", default=DEAD_LETTER_TOPIC, help=argparse.SUPPRESS)
        action.set_defaults(handler=_piped(action.get_default("handler")))


def _piped(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A handler whose reader may stop early (`| head`): no error for the pipe it closed."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            code = handler(args)
            sys.stdout.flush()
        except BrokenPipeError:
            # Python flushes stdout again at exit: point it at nothing (Python's docs, signal).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        return code

    return run


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="TIME", help="dead-lettered at or after (ISO-8601)")
    parser.add_argument("--until", metavar="TIME", help="dead-lettered before (ISO-8601)")
    parser.add_argument(
        "--error-type", dest="error_types", action="append", metavar="T", help="repeatable"
    )
    parser.add_argument(
        "--processor", dest="processors", action="append", metavar="P", help="repeatable"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def selection_from(args: argparse.Namespace) -> Selection:
    """The filters asked for (BadInput for a time that does not parse, or an empty range)."""
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    if since is not None and until is not None and until <= since:
        raise BadInput("--until must be after --since")
    return Selection(
        since=since,
        until=until,
        error_types=frozenset(args.error_types) if args.error_types else None,
        processors=frozenset(args.processors) if args.processors else None,
    )


# -- list ------------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    try:
        selection = selection_from(args)
    except BadInput as exc:
        print(f"acolhe deadletters list: {exc}", file=sys.stderr)
        return USAGE_ERROR
    found = asyncio.run(_read(Settings.from_env(), args.topic, selection))
    listing = select.select(found.records, selection, limit=args.limit)
    if args.json:
        print(json.dumps(select.listing_json(listing), ensure_ascii=False, indent=2))
    else:
        for entry in listing.shown:
            print(select.line(entry))
        for text in select.summary(listing):
            print(text)
    _warn_about(found)
    return 0


async def _read(settings: Settings, topic: str, selection: Selection) -> Any:
    from streams.deadletters.reading import open_contract, read_dead_letters

    contract = await open_contract(settings)
    try:
        return await read_dead_letters(settings, contract, topic, since=selection.since)
    finally:
        await contract.close()


def _warn_about(found: Any) -> None:
    if not found.topic_exists:
        print("acolhe deadletters: the dead-letter topic does not exist yet", file=sys.stderr)
    if found.not_dead_letters:
        print(
            f"acolhe deadletters: warning: {found.not_dead_letters} records on the topic are "
            "not InputDeadLettered events and were left out",
            file=sys.stderr,
        )


# -- show ------------------------------------------------------------------------------------


def _show(args: argparse.Namespace) -> int:
    selection = Selection(event_ids=frozenset({args.event_id}))
    found = asyncio.run(_read(Settings.from_env(), args.topic, selection))
    listing = select.select(found.records, selection)
    if not listing.shown:
        print(
            f"acolhe deadletters show: no dead letter {args.event_id} on {args.topic} (they are "
            "kept 14 days; `acolhe deadletters list` shows those there)",
            file=sys.stderr,
        )
        return USAGE_ERROR
    entry = listing.shown[0]
    if args.payload:
        if select.needs_original(entry.record):
            print(
                "acolhe deadletters show: the dead letter keeps no copy of the record (its "
                f"processor refused the event it decoded); it is at {select.origin(entry.record)}",
                file=sys.stderr,
            )
            return USAGE_ERROR
        print(PAYLOAD_WARNING, file=sys.stderr)
        sys.stdout.flush()
        sys.stdout.buffer.write(entry.record.payload)
        sys.stdout.buffer.flush()
        return 0
    why_not = select.refusal(entry.record)
    for text in select.describe(entry, is_replayable=why_not is None, why_not=why_not):
        print(text)
    return 0


# -- replay ----------------------------------------------------------------------------------


def _replay(args: argparse.Namespace) -> int:
    from streams.projections.sqltext import InvalidSchemaName, check_schema_name

    try:
        selection = selection_from(args)
        check_schema_name(args.ops_schema)
        if args.event_ids and selection.is_narrowed:
            raise BadInput("give dead letter ids or filters (--error-type, ...), not both")
        if not args.event_ids and not selection.is_narrowed:
            raise BadInput(
                "name the dead letters to replay: their ids, or --error-type, --processor "
                "or --since (`acolhe deadletters list` shows them)"
            )
        report = asyncio.run(_run_replay(Settings.from_env(), args, selection))
    except (BadInput, InvalidSchemaName) as exc:
        print(f"acolhe deadletters replay: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except RuleViolation as exc:
        print(f"acolhe deadletters replay: {exc}; nothing was replayed", file=sys.stderr)
        return USAGE_ERROR
    verb = "would replay" if report.dry_run else "replayed"
    if report.dry_run:
        for plan in report.planned:
            print(f"{verb} {plan.dead_letter.event_id}  {plan.where}{_also(plan)}")
    for plan, offset in report.replayed:
        print(
            f"{verb} {plan.dead_letter.event_id}  {plan.where} -> "
            f"{plan.where.topic}/{plan.where.partition}@{offset}{_also(plan)}"
        )
    for event_id, why in report.left_out:
        print(f"left out {event_id}: {why}", file=sys.stderr)
    count = len(report.planned) if report.dry_run else len(report.replayed)
    print(f"{count} records {verb}, {len(report.left_out)} left out")
    if args.event_ids and report.left_out:  # taken by another replay meanwhile
        return USAGE_ERROR
    return 0


def _also(plan: Any) -> str:
    if not plan.also:
        return ""
    return " (also for " + ", ".join(f"{r.event_id} of {r.processor}" for r in plan.also) + ")"


async def _run_replay(settings: Settings, args: argparse.Namespace, selection: Selection) -> Any:
    from streams.deadletters.reading import open_contract
    from streams.deadletters.replay import replay

    contract = await open_contract(settings)
    try:
        return await replay(
            settings,
            contract,
            topic=args.topic,
            event_ids=args.event_ids,
            selection=selection,
            force=args.force,
            dry_run=args.dry_run,
            ops_schema=args.ops_schema,
        )
    finally:
        await contract.close()
