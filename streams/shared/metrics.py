"""Prometheus metrics of the processors, the projectors and the timer, and the HTTP face
that serves them.

For operators: urgent cases must reach a professional fast, so a worker falling behind
(lag), stuck before its commit (checkpoint age), setting inputs aside (dead letters), an
urgent clock breaching, or the timer no longer ticking (then no clock can breach) must show
at once (deploy/prometheus/acolhe-rules.yml alerts on them). The metrics live in
prometheus-client's default registry, as the connectors' do (connectors.common.http), and
are served on `/metrics`, with `/healthz`, by a small aiohttp application on the service's
own event loop (`served`), so the values computed when scraped read the worker's state
without a lock.

Labels are bounded: a processor's or projector's name, a topic and partition, an event
type, an error type, a table, and the SLA clocks' queue, metric and priority (queues are
configuration). Never an id of a case, contact or citizen. Every acolhe process shares this
registry, so a metric only one kind of process can tell has a label and no series until
that process sets one: an unlabelled gauge would show 0 in every other process.

Cost: counters are added once per batch (`collections.Counter` over the batch, then one
`inc` per label set), children are looked up once and kept; the lag is read from the
consumer's fetch state at most once a second; the ages are computed only when scraped.

Must not depend on the domain cores, Postgres or the schemas' codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Final

from aiohttp import web
from aiokafka.errors import IllegalStateError
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)

LAG_REFRESH_S: Final = 1.0
"""How often the lag gauges are read again from the consumer (at most)."""
_BATCH_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# -- processors (streams.shared.runtime) ------------------------------------------------------

PROCESSOR_CONSUMED = Counter(
    "acolhe_processor_records_consumed_total",
    "Input records a processor consumed (decoded or skipped), by processor and topic.",
    ["processor", "topic"],
)
PROCESSOR_EMITTED = Counter(
    "acolhe_processor_events_emitted_total",
    "Events a processor decided and handed to the producer, by event type (a replay after "
    "a crash counts them again; downstream drops the duplicates).",
    ["processor", "event_type"],
)
PROCESSOR_DEAD_LETTERED = Counter(
    "acolhe_processor_dead_lettered_total",
    "Inputs a processor set aside in acolhe.deadletter, by the error's type.",
    ["processor", "error_type"],
)
PROCESSOR_BATCH_SECONDS = Histogram(
    "acolhe_processor_batch_seconds",
    "Time to apply one batch, from its records in hand to its outputs handed over (and its "
    "checkpoint, when one was due).",
    ["processor"],
    buckets=_BATCH_BUCKETS,
)
PROCESSOR_LAG = Gauge(
    "acolhe_processor_consumer_lag",
    "Records of an assigned partition not yet consumed: the partition's end (last stable "
    "offset) minus the consumer's position.",
    ["processor", "topic", "partition"],
)
PROCESSOR_CHECKPOINT_AGE = Gauge(
    "acolhe_processor_checkpoint_age_seconds",
    "Seconds since the last checkpoint while consumed inputs wait for one; 0 when all "
    "consumed inputs are committed.",
    ["processor"],
)
SLA_EVENTS = Counter(
    "acolhe_sla_events_total",
    "SLA clocks warned, breached and met, by queue, metric and priority.",
    ["event_type", "queue", "metric", "priority"],
)
SLA_EVENT_TYPES: Final = frozenset({"SlaWarned", "SlaBreached", "SlaMet"})

# -- projectors (streams.projections.projector) -----------------------------------------------

PROJECTOR_APPLIED = Counter(
    "acolhe_projector_records_applied_total",
    "Records of committed batches (their rows and offsets written together), by topic.",
    ["projector", "topic"],
)
PROJECTOR_ROWS = Counter(
    "acolhe_projector_rows_written_total",
    "Row changes (whole rows and counts) handed to the writer in committed batches, by table.",
    ["projector", "table"],
)
PROJECTOR_DEAD_LETTERED = Counter(
    "acolhe_projector_dead_lettered_total",
    "Records a projector set aside in acolhe.deadletter (not events), by the error's type.",
    ["projector", "error_type"],
)
PROJECTOR_REWINDS = Counter(
    "acolhe_projector_rewinds_total",
    "Batches dropped because the stored position was not where they started.",
    ["projector"],
)
PROJECTOR_BATCH_SECONDS = Histogram(
    "acolhe_projector_batch_seconds",
    "Time to project one batch, from its records in hand to its commit.",
    ["projector"],
    buckets=_BATCH_BUCKETS,
)
PROJECTOR_LAG = Gauge(
    "acolhe_projector_consumer_lag",
    "Records of an assigned partition not yet read: the partition's end (last stable "
    "offset) minus the consumer's position.",
    ["projector", "topic", "partition"],
)
PROJECTOR_COMMIT_AGE = Gauge(
    "acolhe_projector_commit_age_seconds",
    "Seconds since the last commit while a batch is in hand; 0 between batches.",
    ["projector"],
)


class Freshness:
    """How long consumed work has waited for its commit: the clock starts at the last
    commit and counts only while something consumed is not committed yet."""

    def __init__(self) -> None:
        self.committed_at = time.monotonic()
        self.waiting = False

    def consumed(self) -> None:
        self.waiting = True

    def committed(self) -> None:
        self.committed_at = time.monotonic()
        self.waiting = False

    def age(self) -> float:
        return time.monotonic() - self.committed_at if self.waiting else 0.0


class Lag:
    """The lag gauge's children of one consumer: set for the partitions it holds, removed
    for those it no longer holds (another worker reports them)."""

    def __init__(self, gauge: Gauge, name: str) -> None:
        self._gauge = gauge
        self._name = name
        self._shown: set[tuple[str, int]] = set()
        self._read_at = 0.0

    async def refresh(self, consumer: Any, *, force: bool = False) -> None:
        """Read the lag of every assigned partition again, if a second has passed.

        The end is the last stable offset (the consumers read committed), else the high
        watermark, both from the consumer's last fetch of the partition; a partition not
        fetched yet is left out until it is."""
        now = time.monotonic()
        if not force and now - self._read_at < LAG_REFRESH_S:
            return
        self._read_at = now
        ends: dict[Any, int] = {}
        for tp in consumer.assignment():  # no await in this loop: the assignment holds
            end = consumer.last_stable_offset(tp)
            if end is None or end < 0:
                end = consumer.highwater(tp)
            if end is not None:
                ends[tp] = end
        lags: dict[tuple[str, int], int] = {}
        for tp, end in ends.items():
            try:
                # At once while the position is valid; one being reset is skipped.
                async with asyncio.timeout(0.05):
                    position = await consumer.position(tp)
            except (TimeoutError, IllegalStateError):  # or revoked meanwhile
                continue
            lags[(tp.topic, tp.partition)] = max(0, end - position)
        for topic, partition in self._shown - lags.keys():
            self._remove(topic, partition)
        for (topic, partition), lag in lags.items():
            self._gauge.labels(self._name, topic, str(partition)).set(lag)
        self._shown = set(lags)

    def clear(self) -> None:
        for topic, partition in self._shown:
            self._remove(topic, partition)
        self._shown = set()

    def _remove(self, topic: str, partition: int) -> None:
        with contextlib.suppress(KeyError):
            self._gauge.remove(self._name, topic, str(partition))


class ProcessorMetrics:
    """One processor's metrics: `batch` once per batch, `lag.refresh` once per step."""

    def __init__(self, name: str, topic: str) -> None:
        self.name = name
        self.freshness = Freshness()
        self.lag = Lag(PROCESSOR_LAG, name)
        self._consumed = PROCESSOR_CONSUMED.labels(name, topic)
        self._seconds = PROCESSOR_BATCH_SECONDS.labels(name)
        self._emitted: dict[str, Any] = {}
        PROCESSOR_CHECKPOINT_AGE.labels(name).set_function(self.freshness.age)

    def batch(
        self,
        consumed: int,
        outputs: Sequence[tuple[str, Mapping[str, Any]]],
        dead: Sequence[tuple[str, Mapping[str, Any]]],
        seconds: float,
    ) -> None:
        self._consumed.inc(consumed)
        self._seconds.observe(seconds)
        if outputs:
            counts = Tally(map(itemgetter(0), outputs))
            for event_type, n in counts.items():
                child = self._emitted.get(event_type)
                if child is None:
                    child = self._emitted[event_type] = PROCESSOR_EMITTED.labels(
                        self.name, event_type
                    )
                child.inc(n)
            if not SLA_EVENT_TYPES.isdisjoint(counts):
                count_sla_events(outputs)
        if dead:
            for error_type, n in Tally(str(r["error_type"]) for _, r in dead).items():
                PROCESSOR_DEAD_LETTERED.labels(self.name, error_type).inc(n)

    def close(self) -> None:
        """Forget what only a running processor can say (its lag, its checkpoint's age)."""
        self.lag.clear()
        with contextlib.suppress(KeyError):
            PROCESSOR_CHECKPOINT_AGE.remove(self.name)


def count_sla_events(outputs: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
    """SLA_EVENTS for the clocks' outcomes among `outputs`."""
    tally = Tally(
        (name, str(r["queue_id"]), str(r["metric"]), str(r["priority"]))
        for name, r in outputs
        if name in SLA_EVENT_TYPES
    )
    for labels, n in tally.items():
        SLA_EVENTS.labels(*labels).inc(n)


class ProjectorMetrics:
    """One projector's metrics: `batch` once per committed batch, `lag.refresh` per step."""

    def __init__(self, name: str, topic: str) -> None:
        self.name = name
        self.freshness = Freshness()
        self.lag = Lag(PROJECTOR_LAG, name)
        self._applied = PROJECTOR_APPLIED.labels(name, topic)
        self._seconds = PROJECTOR_BATCH_SECONDS.labels(name)
        self._rows: dict[str, Any] = {}
        PROJECTOR_COMMIT_AGE.labels(name).set_function(self.freshness.age)

    def batch(self, records: int, tables: Iterable[str], seconds: float) -> None:
        """A committed batch: its records and the tables of its row changes."""
        self.freshness.committed()
        self._applied.inc(records)
        self._seconds.observe(seconds)
        for table, n in Tally(tables).items():
            child = self._rows.get(table)
            if child is None:
                child = self._rows[table] = PROJECTOR_ROWS.labels(self.name, table)
            child.inc(n)

    def dead_lettered(self, error_types: Iterable[str]) -> None:
        for error_type, n in Tally(error_types).items():
            PROJECTOR_DEAD_LETTERED.labels(self.name, error_type).inc(n)

    def rewound(self) -> None:
        self.freshness.committed()  # nothing of the batch is waiting any more
        PROJECTOR_REWINDS.labels(self.name).inc()

    def close(self) -> None:
        self.lag.clear()
        with contextlib.suppress(KeyError):
            PROJECTOR_COMMIT_AGE.remove(self.name)


# -- the timer (streams.timer.service) --------------------------------------------------------

TIMER_TICKS = Counter(
    "acolhe_timer_ticks_total",
    "Tick records the broker acknowledged, one per partition of each broadcast, by topic.",
    ["topic"],
)
TIMER_LAST_TICK = Gauge(
    "acolhe_timer_last_tick_timestamp_seconds",
    "Unix time at which the broker acknowledged the last tick broadcast (every partition of "
    "it), by topic; no series before the first.",
    ["topic"],
)


class TimerMetrics:
    """The timer's metrics: `acknowledged` once per broadcast, when the broker has
    acknowledged every record of it (a broadcast that fails counts nothing)."""

    def __init__(self, partitions: Mapping[str, Sequence[int]]) -> None:
        self._ticks = [(TIMER_TICKS.labels(t), len(parts)) for t, parts in partitions.items()]
        self._topics = list(partitions)
        self._last: list[Any] = []  # created at the first acknowledgement, not before

    def acknowledged(self) -> None:
        now = time.time()
        for child, n in self._ticks:
            child.inc(n)
        if not self._last:
            self._last = [TIMER_LAST_TICK.labels(t) for t in self._topics]
        for child in self._last:
            child.set(now)


# -- the HTTP face ----------------------------------------------------------------------------

METRICS_HOST: Final = "0.0.0.0"  # noqa: S104 (on purpose: see below)
"""Every address: in a container or a pod, Prometheus scrapes from elsewhere, and a port is
served only when ACOLHE_METRICS_PORT asks for one. The metrics hold no personal data."""


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@contextlib.asynccontextmanager
async def served(port: int, host: str = METRICS_HOST) -> AsyncIterator[None]:
    """Serve `/metrics` and `/healthz` on `port` while the block runs (0: serve nothing).

    On the running event loop: a scrape is answered between two awaits of the worker, so a
    worker whose loop is stuck answers nothing (Prometheus's `up` falls to 0)."""
    if port == 0:
        yield
        return
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("serving metrics", extra={"host": host, "port": port})
        yield
    finally:
        await runner.cleanup()
