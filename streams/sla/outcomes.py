"""The outcome of each SLA clock as its events tell it, and two histories compared.

`acolhe sla recompute` (`streams.sla.recompute`) folds the clocks' events twice: those the
SLA processor recorded in `acolhe.sla`, and those a replay of the log under other files
decides. This module is the pure part: per clock (`clock_id`), its outcome and counted time
(`Outcomes`); the two compared clock by clock (`compare`), the CSV of that comparison
(`write_csv`), and the counts and compliance per queue and metric (`summarize`).

- **Outcome**: `breached` once an `SlaBreached` is seen (a goal reached late stays
  breached), else `met` once an `SlaMet` is seen, else `running`; `none` in a comparison for
  a clock one history has and the other not (a pair given or denied a target).
- **Counted time**: the largest `elapsed_ms` among the clock's events (counted time never
  goes back): at its `SlaMet` for a stopped clock, at its last warning or breach (or 0 at
  its start) for one still running.
- **Queue and priority**: those of the clock's latest event; **started at**: its earliest.
The fold is idempotent and ignores the order of a clock's events, so duplicates in the
at-least-once log change nothing.

Ids and counts only: nothing personal. Pure: no Kafka, Postgres, logging or clock.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final, Literal, TextIO
from zoneinfo import ZoneInfo

from streams.shared.errors import BadInput

Outcome = Literal["met", "breached", "running", "none"]
OUTPUTS: Final = frozenset(
    ("SlaStarted", "SlaPaused", "SlaResumed", "SlaWarned", "SlaBreached", "SlaMet")
)
"""The events the SLA clocks write, each naming its clock."""
OFFICE_TIME_ZONE: Final = ZoneInfo("America/Sao_Paulo")
"""Where a bare date of `--since`/`--until` begins."""
CSV_COLUMNS: Final = (
    "clock_id",
    "case_id",
    "queue_id",
    "priority",
    "metric",
    "started_at",
    "recorded_outcome",
    "recomputed_outcome",
    "recorded_counted_s",
    "recomputed_counted_s",
    "differs",
)


@dataclass(frozen=True, slots=True)
class ClockOutcome:
    """One clock run as its events tell it (`latest_at`: its latest event, for the queue)."""

    clock_id: str
    case_id: str
    queue_id: str
    priority: str
    metric: str
    started_at: datetime
    latest_at: datetime
    outcome: Outcome
    counted_ms: int


class Outcomes:
    """The clocks' outcomes, by clock id, folded from their events in any order."""

    def __init__(self) -> None:
        self.clocks: dict[str, ClockOutcome] = {}

    def add(self, name: str, record: Mapping[str, Any]) -> None:
        """Fold one event (its name and record); events other than the clocks' are ignored."""
        if name not in OUTPUTS:
            return
        at: datetime = record["occurred_at"]
        outcome: Outcome = "running"
        if name == "SlaBreached" or (name == "SlaMet" and not record["within_target"]):
            outcome = "breached"
        elif name == "SlaMet":
            outcome = "met"
        clock_id = str(record["clock_id"])
        seen = self.clocks.get(clock_id)
        if seen is None:
            self.clocks[clock_id] = ClockOutcome(
                clock_id=clock_id,
                case_id=str(record["case_id"]),
                queue_id=str(record["queue_id"]),
                priority=str(record["priority"]),
                metric=str(record["metric"]),
                started_at=at,
                latest_at=at,
                outcome=outcome,
                counted_ms=int(record["elapsed_ms"]),
            )
            return
        latest = at >= seen.latest_at
        self.clocks[clock_id] = ClockOutcome(
            clock_id=clock_id,
            case_id=seen.case_id,
            queue_id=str(record["queue_id"]) if latest else seen.queue_id,
            priority=str(record["priority"]) if latest else seen.priority,
            metric=seen.metric,
            started_at=min(at, seen.started_at),
            latest_at=max(at, seen.latest_at),
            outcome=_worst(seen.outcome, outcome),
            counted_ms=max(seen.counted_ms, int(record["elapsed_ms"])),
        )

    def update(self, clocks: Iterable[ClockOutcome]) -> None:
        """Take clocks folded elsewhere (another partition's replay)."""
        for clock in clocks:
            self.clocks[clock.clock_id] = clock


def _worst(a: Outcome, b: Outcome) -> Outcome:
    """A breach stands whatever follows; a goal reached ends a run."""
    if "breached" in (a, b):
        return "breached"
    return "met" if "met" in (a, b) else "running"


@dataclass(frozen=True, slots=True)
class Window:
    """Clocks started in [since, until); None: unbounded on that side."""

    since: datetime | None = None
    until: datetime | None = None

    def holds(self, at: datetime) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


def parse_instant(text: str, *, option: str) -> datetime:
    """An ISO date (midnight in São Paulo) or date and time (São Paulo time without an
    offset). Raises BadInput naming the option and the fault."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(), tzinfo=OFFICE_TIME_ZONE)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"{option} {text!r} is not an ISO date (2026-03-01) or date and time "
            "(2026-03-01T08:00:00-03:00)"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=OFFICE_TIME_ZONE)


def window_of(since: str | None, until: str | None) -> Window:
    """The window of `--since` and `--until`; BadInput when one is not a date or since is
    not before until."""
    window = Window(
        None if since is None else parse_instant(since, option="--since"),
        None if until is None else parse_instant(until, option="--until"),
    )
    if window.since is not None and window.until is not None and window.since >= window.until:
        raise BadInput(f"--since {since} is not before --until {until}: no clock starts in between")
    return window


@dataclass(frozen=True, slots=True)
class Compared:
    """One clock in both histories: a row of the CSV."""

    clock_id: str
    case_id: str
    queue_id: str
    priority: str
    metric: str
    started_at: datetime
    recorded: Outcome
    recomputed: Outcome
    recorded_ms: int | None
    recomputed_ms: int | None

    @property
    def differs(self) -> bool:
        """Whether the outcome or the counted time differ."""
        return self.recorded != self.recomputed or self.recorded_ms != self.recomputed_ms


def compare(
    recorded: Mapping[str, ClockOutcome],
    recomputed: Mapping[str, ClockOutcome],
    window: Window = Window(),
) -> list[Compared]:
    """Every clock of either history started in `window`, by start then clock id. Its id,
    case, metric, start, queue and priority come from the recorded history when it has the
    clock (a replay may count a late event from a later instant)."""
    rows = []
    for clock_id in recorded.keys() | recomputed.keys():
        was, now = recorded.get(clock_id), recomputed.get(clock_id)
        known = was or now
        assert known is not None
        if not window.holds(known.started_at):
            continue
        rows.append(
            Compared(
                clock_id=clock_id,
                case_id=known.case_id,
                queue_id=known.queue_id,
                priority=known.priority,
                metric=known.metric,
                started_at=known.started_at,
                recorded=was.outcome if was else "none",
                recomputed=now.outcome if now else "none",
                recorded_ms=was.counted_ms if was else None,
                recomputed_ms=now.counted_ms if now else None,
            )
        )
    return sorted(rows, key=lambda r: (r.started_at, r.clock_id))


def write_csv(rows: Iterable[Compared], out: TextIO) -> None:
    """The comparison as CSV, one row per clock (`CSV_COLUMNS`); counted time in seconds
    with milliseconds, empty where a history has no such clock."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            (
                r.clock_id,
                r.case_id,
                r.queue_id,
                r.priority,
                r.metric,
                r.started_at.isoformat(),
                r.recorded,
                r.recomputed,
                _seconds(r.recorded_ms),
                _seconds(r.recomputed_ms),
                "true" if r.differs else "false",
            )
        )


def _seconds(ms: int | None) -> str:
    return "" if ms is None else f"{ms / 1000:.3f}"


@dataclass(frozen=True, slots=True)
class Summary:
    """The clocks of one queue and metric: counts each way, and how many changed outcome."""

    queue_id: str
    metric: str
    clocks: int
    recorded_met: int
    recorded_breached: int
    recomputed_met: int
    recomputed_breached: int
    changed: int

    @property
    def recorded_compliance(self) -> float | None:
        return _compliance(self.recorded_met, self.recorded_breached)

    @property
    def recomputed_compliance(self) -> float | None:
        return _compliance(self.recomputed_met, self.recomputed_breached)


def _compliance(met: int, breached: int) -> float | None:
    """The share of stopped or breached clocks that met their target, in percent; None
    when none has an outcome yet (running clocks count in neither)."""
    done = met + breached
    return None if done == 0 else 100.0 * met / done


def summarize(rows: Iterable[Compared]) -> list[Summary]:
    """Per queue and metric (sorted), the counts of met and breached clocks each way."""
    counts: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        c = counts.setdefault((r.queue_id, r.metric), [0] * 6)
        c[0] += 1
        c[1] += r.recorded == "met"
        c[2] += r.recorded == "breached"
        c[3] += r.recomputed == "met"
        c[4] += r.recomputed == "breached"
        c[5] += r.recorded != r.recomputed
    return [Summary(q, m, *c) for (q, m), c in sorted(counts.items())]


def format_summary(summaries: Iterable[Summary]) -> str:
    """The summary as a fixed-width table: recorded -> recomputed for each count."""
    head = ("queue", "metric", "clocks", "met", "breached", "compliance", "changed")
    lines = [head]
    for s in summaries:
        lines.append(
            (
                s.queue_id,
                s.metric,
                str(s.clocks),
                f"{s.recorded_met} -> {s.recomputed_met}",
                f"{s.recorded_breached} -> {s.recomputed_breached}",
                f"{_percent(s.recorded_compliance)} -> {_percent(s.recomputed_compliance)}",
                str(s.changed),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"
