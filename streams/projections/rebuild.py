"""`acolhe projections rebuild`: replay the whole log into a fresh schema while the live one
keeps serving, then switch atomically.

Steps, in order (correctness depends on it):
1. drop what a failed rebuild left (`<schema>_rebuild`) and migrate that schema afresh;
2. note where every partition of the projections' topics begins and ends now: the bulk
   phase replays exactly that much, however much arrives meanwhile;
3. bulk phase, in worker processes (one per core by default; partitions are independent,
   since a row's events all live in one partition; the workers' side is
   streams.projections.rebuild_worker): each worker takes whole partitions,
   largest first, folds the partition's events in memory with the live projections' own
   folds (`streams.projections.folds`, over a `MemoryRows` source instead of Postgres),
   and then COPYs the partition's final rows into the fresh tables, adds its daily counts
   and stores the partition's end offset, in one transaction. No upsert, no staging: each
   row is written once, and a partition is either all there or not at all. The citizens
   whose erasure (`ErasureRequested`) the partition holds go back to the coordinator; the
   blocks and unblocks it holds (`CitizenBlocked`, `CitizenUnblocked`) are kept in
   `blocked_citizens` in that same transaction (`blocking.apply`: the latest per citizen
   wins, whichever partition commits last);
4. catch-up phase: the live projector code runs on the fresh schema from the stored
   offsets to the topics' current ends (what arrived during the bulk phase), applying the
   erasures it reads as a live projector does (`Projector.step`);
5. redact, in the fresh schema and one transaction, the messages of every citizen whose
   erasure the bulk phase read, once each (`erasures.redact`): a worker may have opened
   their messages before the erasure destroyed the key, and `acolhe erase` may have
   redacted the fresh schema before the COPY. After the catch-up, so that what it wrote
   of theirs is covered too; before the switch, so that agents never see it;
6. switch, in one transaction: lock the live schema's projection_offsets (waiting for any
   live projector's batch in flight, whose transaction locks its rows), copy the access
   tables (`access.TABLES`: filled by `acolhe access sync`, not from the log, so agents
   see after the switch what they saw before), rename the live schema to
   `<schema>_previous` (dropping an older one) and the fresh one to `<schema>`.
   Agent apps' next query reads the fresh schema; a query running keeps its snapshot.
   A live projector's next batch finds the stored positions are not where it stands and
   rewinds to them (`Projector.step`), so nothing is lost or applied twice.
The live schema is never written by the rebuild before step 6; a failure before it leaves
the live read model as it was (and the fresh schema for inspection, dropped next time).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka import TopicPartition

from streams.projections import access, migrations
from streams.projections.erasures import redact
from streams.projections.folds import projections
from streams.projections.projector import Projector
from streams.projections.rebuild_worker import (
    FETCH,
    CoordinatorGone,
    Job,
    KeySpec,
    MemoryRows,
    RebuildFailed,
    _contract,
    _worker,
)
from streams.projections.writer import quote
from streams.shared.errors import BadInput
from streams.shared.kafka import make_consumer, topic_partitions
from streams.shared.postgres import connect
from streams.shared.settings import Settings

__all__ = [  # the worker side's names too, as callers have imported them from here
    "FETCH",
    "INDEX_BUILDERS",
    "INDEX_BUILD_MEMORY",
    "REPORT_EVERY_S",
    "CoordinatorGone",
    "Job",
    "KeySpec",
    "MemoryRows",
    "Progress",
    "RebuildFailed",
    "RebuildReport",
    "build_indexes",
    "drop_secondary_indexes",
    "plan",
    "rebuild",
    "switch_schemas",
]

INDEX_BUILDERS: Final = 2
"""Sessions building the fresh schema's secondary indexes after the bulk load, side by side."""
INDEX_BUILD_MEMORY: Final = "256MB"
"""maintenance_work_mem of each index build: a 5-million-row index sorts in memory (the
default, 64MB, spills it to disk)."""
REPORT_EVERY_S: Final = 0.25


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    elapsed_s: float
    phase: str

    @property
    def rate(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def left_s(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate > 0 else None


@dataclass
class RebuildReport:
    schema: str
    previous: str | None
    events: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    bulk_s: float = 0.0
    catch_up_events: int = 0
    catch_up_s: float = 0.0
    switch_s: float = 0.0
    workers: int = 0
    erasures: int = 0
    """Citizens whose erasure the bulk phase read, redacted before the switch (step 5)."""

    @property
    def rate(self) -> float:
        return self.events / self.bulk_s if self.bulk_s > 0 else 0.0


def plan(ranges: Mapping[tuple[str, str, int], tuple[int, int]]) -> list[Job]:
    """The bulk phase's jobs, largest first (so that the last to finish are small ones);
    empty partitions are left out."""
    jobs = [
        Job(name, topic, partition, start, end)
        for (name, topic, partition), (start, end) in ranges.items()
        if end > start
    ]
    return sorted(jobs, key=lambda j: (-j.size, j.projection, j.partition))


# -- the coordinator ------------------------------------------------------------------------


async def rebuild(
    settings: Settings,
    *,
    schema: str = migrations.DEFAULT_SCHEMA,
    topics: Mapping[str, str] | None = None,
    workers: int | None = None,
    keys: KeySpec | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    switch: bool = True,
) -> RebuildReport:
    """Steps 1-6 of the module docstring. `topics` maps projection names to the topic each
    reads (default: every projection, on its own topic); `keys` where the data keys are
    (default: the settings' key store)."""
    topics = (
        dict(topics) if topics is not None else {p.name: p.topic for p in projections().values()}
    )
    fresh = f"{schema}_rebuild"
    workers = workers or os.cpu_count() or 1
    conn = await connect(settings.postgres)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote(fresh)} CASCADE")
        await migrations.migrate(conn, fresh)
        ranges = await _ranges(settings, topics)
        jobs = plan(ranges)
        report = RebuildReport(schema=schema, previous=None, workers=min(workers, len(jobs)))
        report.events = sum(j.size for j in jobs)
        began = time.perf_counter()
        deferred = await drop_secondary_indexes(conn, fresh)
        erased = await _bulk(
            settings,
            fresh,
            keys=keys,
            jobs=jobs,
            workers=report.workers,
            on_progress=on_progress,
            total=report.events,
        )
        await build_indexes(settings, deferred)
        report.bulk_s = time.perf_counter() - began
        began = time.perf_counter()
        report.catch_up_events = await _catch_up(settings, fresh, keys, topics)
        report.catch_up_s = time.perf_counter() - began
        if erased:  # step 5, with the indexes built: SUBJECTS_SQL and REDACT_SQL use them
            async with conn.transaction():
                await redact(conn, fresh, sorted(erased))
        report.erasures = len(erased)
        for table in (
            "cases",
            "case_messages",
            "sla_clocks",
            "agents",
            "agent_holds",
            "daily_stats",
            "blocked_citizens",
        ):
            report.rows[table] = await conn.fetchval(
                f"SELECT count(*) FROM {quote(fresh)}.{quote(table)}"
            )
        if switch:
            began = time.perf_counter()
            report.previous = await switch_schemas(conn, schema, fresh)
            report.switch_s = time.perf_counter() - began
        else:
            report.schema = fresh
        return report
    finally:
        await conn.close()


async def _ranges(
    settings: Settings, topics: Mapping[str, str]
) -> dict[tuple[str, str, int], tuple[int, int]]:
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        out = {}
        for name, topic in topics.items():
            try:
                found = await topic_partitions(settings.kafka, topic)
            except BadInput as exc:
                raise RebuildFailed(f"{exc}: there is no log to rebuild {name} from") from exc
            parts = [TopicPartition(topic, p) for p in sorted(found)]
            starts = await consumer.beginning_offsets(parts)
            ends = await consumer.end_offsets(parts)
            for tp in parts:
                out[(name, topic, tp.partition)] = (starts[tp], ends[tp])
        return out
    finally:
        await consumer.stop()


async def drop_secondary_indexes(conn: Any, schema: str) -> list[str]:
    """The fresh schema's indexes other than primary keys, dropped for the bulk phase; the
    statements that make them again. The bulk phase COPYs millions of rows into empty
    tables: Postgres builds an index from all of them at once (sorted) for less than it
    costs to insert each row into it, and nothing reads the fresh schema meanwhile. The
    primary keys stay: the catch-up phase's upserts need them."""
    found = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " JOIN pg_class c ON c.relname = i.indexname"
        " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = i.schemaname"
        " JOIN pg_index x ON x.indexrelid = c.oid"
        " WHERE i.schemaname = $1 AND NOT x.indisprimary AND NOT x.indisunique",
        schema,
    )
    for row in found:
        await conn.execute(f"DROP INDEX {quote(schema)}.{quote(row['indexname'])}")
    return [row["indexdef"] for row in found]


async def build_indexes(
    settings: Settings, definitions: Iterable[str], *, connections: int = INDEX_BUILDERS
) -> None:
    """Run the CREATE INDEX statements `connections` at a time, each session with
    `INDEX_BUILD_MEMORY` to sort in: a table's indexes build side by side (CREATE INDEX
    takes a SHARE lock, which does not block another one)."""
    pending = list(definitions)

    async def builder() -> None:
        conn = await connect(settings.postgres)
        try:
            await conn.execute(f"SET maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
            while pending:
                await conn.execute(pending.pop(0))
        finally:
            await conn.close()

    await asyncio.gather(*(builder() for _ in range(min(connections, len(pending)))))


async def _bulk(
    settings: Settings,
    fresh: str,
    *,
    keys: KeySpec | None,
    jobs: list[Job],
    workers: int,
    on_progress: Callable[[Progress], None] | None,
    total: int,
) -> set[str]:
    """Step 3: the workers replay the jobs; progress is reported as they go. Returns the
    citizens whose erasure the jobs read."""
    erased: set[str] = set()
    if not jobs:
        return erased
    ctx = multiprocessing.get_context("spawn")
    job_queue = ctx.Queue()
    progress = ctx.Queue()
    erasures = ctx.Queue()
    for job in jobs:
        job_queue.put(job)
    procs = [
        ctx.Process(
            target=_worker,
            args=(settings, fresh, keys, job_queue, progress),
            kwargs={"erasures": erasures},
            daemon=True,
        )
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    began = time.perf_counter()
    done = 0
    try:
        while True:
            while True:
                try:
                    done += progress.get_nowait()
                except queue.Empty:
                    break
            erased |= _drain(erasures)
            if on_progress is not None:
                on_progress(Progress(done, total, time.perf_counter() - began, "replay"))
            if all(not p.is_alive() for p in procs):
                break
            await asyncio.sleep(REPORT_EVERY_S)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RebuildFailed(
            f"{len(failed)} rebuild worker(s) failed (exit codes {failed}); the live read model"
            f" is unchanged; see the workers' errors above, fix the cause and run the rebuild again"
        )
    # What a worker sent just before it exited: its exit waited for the queue's pipe.
    return erased | _drain(erasures)


def _drain(erasures: Any) -> set[str]:
    out: set[str] = set()
    while True:
        try:
            out.update(erasures.get_nowait())
        except queue.Empty:
            return out


async def _catch_up(
    settings: Settings, fresh: str, keys: KeySpec | None, topics: Mapping[str, str]
) -> int:
    """Step 4: the live projectors' code, on the fresh schema, up to the current ends."""
    contract, close = await _contract(settings, keys)
    try:
        ranges = await _ranges(settings, topics)
        read = 0
        for name, topic in topics.items():
            until = {(t, p): end for (n, t, p), (_, end) in ranges.items() if n == name}
            proj = Projector(
                settings,
                contract,
                projections()[name],
                schema=fresh,
                topic=topic,
                group_id=f"acolhe.rebuild.{name}.{os.getpid()}.{time.time_ns()}",
            )
            await proj.start()
            try:
                while True:
                    stored = await proj.positions()
                    if all(stored.get(tp, 0) >= end for tp, end in until.items()):
                        break
                    read += await proj.step(timeout_ms=500)
            finally:
                await proj.stop()
        return read
    finally:
        await close()


async def switch_schemas(conn: Any, schema: str, fresh: str) -> str | None:
    """Step 6. Returns the name the live schema now has, or None when there was none."""
    previous = f"{schema}_previous"
    async with conn.transaction():
        live = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema)
        if live:
            await conn.execute(
                f"LOCK TABLE {quote(schema)}.projection_offsets IN ACCESS EXCLUSIVE MODE"
            )
            for table in access.TABLES:  # not from the log: `acolhe access sync` fills them
                if not await conn.fetchval(
                    "SELECT to_regclass($1) IS NOT NULL", f"{quote(schema)}.{quote(table)}"
                ):
                    continue  # a live schema older than migration 0003 has none to carry
                await conn.execute(
                    f"INSERT INTO {quote(fresh)}.{quote(table)}"
                    f" SELECT * FROM {quote(schema)}.{quote(table)}"
                )
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote(previous)} CASCADE")
            await conn.execute(f"ALTER SCHEMA {quote(schema)} RENAME TO {quote(previous)}")
        await conn.execute(f"ALTER SCHEMA {quote(fresh)} RENAME TO {quote(schema)}")
    return previous if live else None
