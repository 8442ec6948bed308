"""SLA clocks at scale: ticks with a million open cases, and memory as cases close.

    .venv/bin/python -m bench.bench_sla [--cases 1000000]

No Kafka: the processor's own state handling (`Processor._keep`, the alarm heap, `_due`)
and the SLA core, in one thread, as a worker runs them between fetches. Steps:
1. open `--cases` cases, their openings spread over one business morning (08:00 to
   12:00, São Paulo time) on Monday 2 March 2026; measure the time per opening and the
   memory (RSS) they take;
2. deliver ticks a minute apart from 12:00 to 18:00 (first-response warnings and breaches
   ring for the cases due): time per tick with nothing due, and with the most due;
3. close every case: time per close, keys left, memory (RSS) after.
The baseline is a tick that rings nothing: the price of having a million open cases
rather than one.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas.events import CaseClosed, CaseOpened, ClockTicked
from streams.shared.runtime import Processor
from streams.sla.processor import SlaCore

SP = ZoneInfo("America/Sao_Paulo")
MONDAY = datetime(2026, 3, 2, 8, tzinfo=SP).astimezone(UTC)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def opened(i: int, spread_s: float, cases: int) -> CaseOpened:
    at = MONDAY + timedelta(seconds=spread_s * i / cases)
    return CaseOpened(
        event_id=f"opened-{i}",
        occurred_at=at,
        correlation_id=f"opened-{i}",
        case_id=f"case-{i}",
        citizen_id=f"citizen-{i}",
        contact_id=f"contact-{i}",
        channel="whatsapp",
        opened_by_message_id=f"message-{i}",
    )


def tick(at: datetime) -> ClockTicked:
    return ClockTicked(
        event_id=f"tick-{at.isoformat()}",
        occurred_at=at,
        correlation_id="timer",
        source="timer",
        sequence=int(at.timestamp()),
        tick_at=at,
        interval_ms=60_000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.cases
    core = SlaCore()
    nothing: Any = None  # no contract, no Kafka: only the state handling is used
    proc: Processor[Any] = Processor(core, nothing, nothing, input_topic="bench", routes={})
    states: dict[str, Any] = {}
    gc.collect()
    before = rss_mb()

    started = time.perf_counter()
    outputs = 0
    for i in range(n):
        event = opened(i, 4 * 3600, n)
        key = event.contact_id
        state, produced = core.handle(core.initial(key), event)
        proc._keep(0, states, key, state)
        outputs += len(produced)
    open_s = time.perf_counter() - started
    gc.collect()
    with_cases = rss_mb()
    print(f"# {n:,} open cases, openings spread over 08:00-12:00 on Monday 2 March 2026")
    print(
        f"open:  {open_s / n * 1e6:7.1f} µs per case ({outputs:,} SlaStarted);"
        f" memory {with_cases - before:,.0f} MB ({(with_cases - before) * 1e6 / n:,.0f}"
        f" bytes per open case)"
    )

    rung: list[tuple[int, float]] = []
    at = datetime(2026, 3, 2, 12, tzinfo=SP).astimezone(UTC)
    while at <= datetime(2026, 3, 2, 18, tzinfo=SP).astimezone(UTC):
        heartbeat = tick(at)
        began = time.perf_counter()
        count = 0
        for key in proc._due(0, heartbeat.tick_at):
            state, out = core.handle(states[key], heartbeat)
            proc._keep(0, states, key, state)
            count += len(out)
        rung.append((count, time.perf_counter() - began))
        at += timedelta(minutes=1)
    quiet = [s for p, s in rung if p == 0]
    busy = max(rung)
    total = sum(p for p, _ in rung)
    print(
        f"ticks: {len(rung)} a minute apart, {total:,} warnings and breaches;"
        f" a tick that rings nothing {statistics.median(quiet) * 1e6:,.1f} µs (median),"
        f" the busiest {busy[1] * 1000:,.1f} ms for {busy[0]:,} events"
        f" ({busy[1] / max(busy[0], 1) * 1e6:.1f} µs each)"
    )

    started = time.perf_counter()
    for i in range(n):
        key = f"contact-{i}"
        closed = CaseClosed(
            event_id=f"closed-{i}",
            occurred_at=at,
            correlation_id=f"opened-{i}",
            case_id=f"case-{i}",
            reason="resolved",
            contact_id=key,
        )
        state, _ = core.handle(states[key], closed)
        proc._keep(0, states, key, state)
    close_s = time.perf_counter() - started
    gc.collect()
    print(
        f"close: {close_s / n * 1e6:7.1f} µs per case; keys left {len(states):,},"
        f" alarms left {len(proc.wakes.get(0, {})):,}; memory {rss_mb() - before:,.0f} MB"
        " above the start (the allocator keeps freed pages for reuse)"
    )


if __name__ == "__main__":
    main()
