"""`acolhe sla recompute --policy FILE --calendars FILE [--since D] [--until D] [--out CSV]
[--workers N] [--ignore-recorded-changes]` replays the clocks' history under those files
and compares it with the recorded one (`streams.sla.recompute`); it writes nothing to Kafka
or the read model. Here only its shell, registered among `acolhe sla`'s actions by
streams.cli.sla: every argument is checked before any I/O (a faulty file, window or --out
path: exit status 2, the option or field and the fault), then the replay, the CSV and the
summary per queue and metric on stdout; Kafka or Postgres out of reach: exit status 1 with
what to check.

Must not depend on streams.cli.sla (which imports it) nor on the policy and calendar change
commands; the replay itself (streams.sla.recompute, streams.sla.outcomes) is imported when
the command runs, so that `acolhe --help` does not load it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from streams.shared.errors import BadInput
from streams.shared.settings import Settings


def register_recompute(actions: Any) -> None:
    """`recompute` among `acolhe sla`'s actions (streams.cli.sla's `register` calls it)."""
    recompute = actions.add_parser(
        "recompute",
        help="replay the clocks' history under other policy/calendar files; compare (a report)",
    )
    recompute.add_argument("--policy", type=Path, required=True, help="policy file to start from")
    recompute.add_argument(
        "--calendars", type=Path, required=True, help="calendar file to start from"
    )
    recompute.add_argument(
        "--since", default=None, metavar="ISO-DATE", help="clocks started at or after (SP time)"
    )
    recompute.add_argument(
        "--until", default=None, metavar="ISO-DATE", help="clocks started before (SP time)"
    )
    recompute.add_argument("--out", type=Path, default=None, help="CSV: one row per clock")
    recompute.add_argument(
        "--workers", type=int, default=1, help="processes replaying partitions (1)"
    )
    recompute.add_argument(
        "--ignore-recorded-changes",
        action="store_true",
        help="skip the log's SlaPolicyChanged/CalendarChanged: the files alone apply "
        "(default: they still apply at their point of the log)",
    )
    # Tests and rehearsals read topics of their own.
    recompute.add_argument("--topic", default="acolhe.conversations", help=argparse.SUPPRESS)
    recompute.add_argument("--sla-topic", default="acolhe.sla", help=argparse.SUPPRESS)
    recompute.set_defaults(handler=_recompute)


def _recompute(args: argparse.Namespace) -> int:
    from streams.sla.outcomes import compare, format_summary, summarize, window_of, write_csv
    from streams.sla.recompute import Files, recompute

    files = Files(policy=args.policy, calendars=args.calendars)
    try:
        window = window_of(args.since, args.until)
        if args.workers < 1:
            raise BadInput(f"--workers {args.workers} must be 1 or more")
        if args.out is not None:
            _check_writable(args.out)
        files.load()
    except BadInput as exc:
        print(f"acolhe sla recompute: {exc}", file=sys.stderr)
        return 2
    result = asyncio.run(
        recompute(
            Settings.from_env(),
            files,
            ignore_recorded_changes=args.ignore_recorded_changes,
            topic=args.topic,
            sla_topic=args.sla_topic,
            workers=args.workers,
            on_progress=_progress_line(),
        )
    )
    rows = compare(result.recorded, result.recomputed, window)
    if args.out is not None:
        with args.out.open("w", encoding="utf-8", newline="") as out:
            write_csv(rows, out)
    replayed = result.replayed
    changes = "ignored" if args.ignore_recorded_changes else "applied in log order"
    print(
        f"replayed {args.topic}: {result.partitions} partitions, {replayed.records:,} records,"
        f" {replayed.events:,} events handed to the clocks, {replayed.refused:,} refused,"
        f" in {result.seconds:.1f} s"
    )
    print(f"from {args.policy} and {args.calendars}; recorded changes {changes}")
    if result.truncated:
        print(f"warning: partitions {result.truncated} no longer hold their first records")
    since = args.since or "the beginning"
    until = args.until or "now"
    differ = sum(r.differs for r in rows)
    print(f"clocks started from {since} until {until}: {len(rows):,}, {differ:,} differ")
    print(format_summary(summarize(rows)))
    if args.out is not None:
        print(f"one row per clock in {args.out}")
    return 0


def _check_writable(path: Path) -> None:
    """Refuse an --out path that cannot be written, before hours of replay."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise BadInput(f"--out {path} is a directory; give a file name")
    if not folder.is_dir():
        raise BadInput(f"--out {path}: folder {folder} does not exist")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise BadInput(f"--out {path} cannot be written (permission denied)")


def _progress_line(every_s: float = 2.0) -> Any:
    """A progress line on stderr at most every `every_s` seconds, and at the end."""
    last = [0.0, -1.0]  # when, and how many records, last reported

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == last[1] or (done < total and now - last[0] < every_s):
            return
        last[:] = [now, float(done)]
        share = f" ({100 * done / total:.0f}%)" if total else ""
        print(f"replayed {done:,} of {total:,} records{share}", file=sys.stderr)

    return report
