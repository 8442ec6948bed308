"""`acolhe projections rebuild`: replay the whole log into a fresh schema while the live one
keeps serving, then switch atomically.

Steps, in order (correctness depends on it):
1. drop what a failed rebuild left (`<schema>_rebuild`) and migrate that schema afresh;
2. note where every partition of the projections' topics begins and ends now: the bulk
   phase replays exactly that much, however much arrives meanwhile;
3. bulk phase, in worker processes (one per core by default; partitions are independent,
   since a row's events all live in one partition): each worker takes whole partitions,
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
import gc
import multiprocessing
import operator
import os
import queue
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka import TopicPartition

from streams.projections import access, blocking, migrations
from streams.projections.blocking import Blocking
from streams.projections.erasures import Redaction, redact
from streams.projections.folds import Change, Row, projections
from streams.projections.projector import Projector
from streams.projections.writer import Increment, quote, write
from streams.shared.contract import Contract
from streams.shared.errors import BadInput, InfrastructureError
from streams.shared.kafka import make_consumer, topic_partitions
from streams.shared.keystore import PostgresKeyStore
from streams.shared.postgres import connect, create_pool
from streams.shared.settings import Settings

FETCH: Final = 20_000
"""Records per fetch and per fold in the bulk phase."""
INDEX_BUILDERS: Final = 2
"""Sessions building the fresh schema's secondary indexes after the bulk load, side by side."""
INDEX_BUILD_MEMORY: Final = "256MB"
"""maintenance_work_mem of each index build: a 5-million-row index sorts in memory (the
default, 64MB, spills it to disk)."""
REPORT_EVERY_S: Final = 0.25


class RebuildFailed(InfrastructureError):
    """The rebuild stopped before its switch; the live read model is as it was."""


@dataclass(frozen=True)
class Job:
    """One partition of one projection's topic, from `start` up to (not including) `end`."""

    projection: str
    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


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


@dataclass(frozen=True)
class KeySpec:
    """Where the workers find the citizens' data keys (schema, master key)."""

    schema: str
    master_key: bytes


class MemoryRows:
    """A `RowSource` holding every row of one partition's replay in memory.

    `rows` hands out the stored rows themselves, not copies: a fold's changes are applied
    right after it (`apply`), so a row the fold changed in place is the row it returns.
    A `Redaction` is only noted (`erased`): the rebuild redacts at the end (step 5); a
    `Blocking` too (`blockings`), kept when the partition is written."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Row]] = defaultdict(dict)
        self.open_by_contact: dict[str, str] = {}
        self.erased: set[str] = set()
        self.blockings: list[Blocking] = []
        self._counts: dict[tuple[str, tuple[tuple[str, Any], ...]], dict[str, int]] = {}

    async def rows(self, table: str, key: str, keys: Iterable[str]) -> dict[str, Row]:
        held = self.tables[table]
        return {k: held[k] for k in keys if k in held}

    async def open_cases(self, contacts: Iterable[str]) -> list[Row]:
        cases = self.tables["cases"]
        return [cases[c] for c in map(self.open_by_contact.get, contacts) if c is not None]

    def apply(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if isinstance(change, Redaction):
                self.erased.add(change.citizen_id)
                continue
            if isinstance(change, Blocking):
                self.blockings.append(change)
                continue
            if isinstance(change, Increment):
                held = self._counts.setdefault((change.table, change.key), {})
                for column, n in change.counts.items():
                    held[column] = held.get(column, 0) + n
                continue
            row = change.row
            self.tables[change.table][row[change.key[0]]] = row  # type: ignore[assignment]
            if change.table == "cases":
                if row["status"] == "closed":
                    if self.open_by_contact.get(row["contact_id"]) == row["case_id"]:
                        del self.open_by_contact[row["contact_id"]]
                else:
                    self.open_by_contact[row["contact_id"]] = row["case_id"]

    def counts(self) -> list[Increment]:
        """The counts of the whole replay, one per row."""
        return [Increment(table, key, counts) for (table, key), counts in self._counts.items()]


def plan(ranges: Mapping[tuple[str, str, int], tuple[int, int]]) -> list[Job]:
    """The bulk phase's jobs, largest first (so that the last to finish are small ones);
    empty partitions are left out."""
    jobs = [
        Job(name, topic, partition, start, end)
        for (name, topic, partition), (start, end) in ranges.items()
        if end > start
    ]
    return sorted(jobs, key=lambda j: (-j.size, j.projection, j.partition))


# -- the bulk phase, in worker processes ----------------------------------------------------


def _worker(
    settings: Settings,
    schema: str,
    keys: KeySpec | None,
    jobs: Any,
    progress: Any,
    *,
    erasures: Any,
) -> None:
    # Progress is best effort: a worker must be able to exit with reports still unread.
    # Erasures are not: the worker's exit waits until the coordinator has them.
    progress.cancel_join_thread()
    asyncio.run(_work(settings, schema, keys, jobs, progress, erasures=erasures))


class CoordinatorGone(RebuildFailed):
    """The process that started the worker is gone (killed): the worker stops too."""


def _check_coordinator() -> None:
    parent = multiprocessing.parent_process()
    if parent is not None and not parent.is_alive():
        raise CoordinatorGone("the rebuild's coordinator is gone; this worker stops")


async def _work(
    settings: Settings,
    schema: str,
    keys: KeySpec | None,
    jobs: Any,
    progress: Any,
    *,
    erasures: Any,
) -> None:
    # A replay allocates millions of small objects that live until the partition's COPY
    # and hold no reference cycles: with the default thresholds the cyclic collector runs
    # every 700 allocations and its full passes walk every row held, about a third of
    # the replay's CPU time (measured: 92 -> 65 us a record). Rare young collections,
    # and the rows frozen after each batch (`_replay`), leave it a small share.
    gc.set_threshold(100_000, 50, 100)
    contract, close = await _contract(settings, keys)
    conn = await connect(settings.postgres)
    # Nobody listens to a schema being built: its triggers need not notify.
    await conn.execute("SELECT set_config('acolhe.live_updates', 'off', false)")
    consumer = make_consumer(
        settings.kafka,
        group_id=None,
        max_poll_records=FETCH,
        fetch_max_bytes=64 * 1024 * 1024,
        # One partition at a time: fetch much of it per round trip (the default is 1 MiB).
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        while True:
            try:
                job = jobs.get_nowait()
            except queue.Empty:
                return
            erased = await _replay(job, contract, consumer, conn, schema=schema, progress=progress)
            if erased:
                erasures.put(sorted(erased))
    finally:
        await consumer.stop()
        await conn.close()
        await close()


async def _replay(
    job: Job, contract: Contract, consumer: Any, conn: Any, *, schema: str, progress: Any
) -> set[str]:
    """Step 3 of the module docstring for one partition; the citizens whose erasure it
    holds, to redact once every partition is in (step 5)."""
    projection = projections()[job.projection]
    tp = TopicPartition(job.topic, job.partition)
    consumer.assign([tp])
    consumer.seek(tp, job.start)
    memory = MemoryRows()
    position = job.start
    while position < job.end:
        _check_coordinator()  # a killed coordinator leaves no worker replaying behind it
        fetched = await consumer.getmany(tp, timeout_ms=1000, max_records=FETCH)
        messages = [m for m in fetched.get(tp, ()) if m.offset < job.end]
        if not messages:
            continue
        position = messages[-1].offset + 1
        # A record that is not an event was dead-lettered by the live projector; the
        # rebuild skips it too.
        events, _ = await contract.read(messages, projection.reads)
        memory.apply(await projection.fold(memory, events))
        # The rows held so far live until the COPY: out of the garbage collector's sight
        # (see `_work`).
        gc.freeze()
        progress.put(len(messages))
    async with conn.transaction():
        for table, held in memory.tables.items():
            if held:
                columns = list(next(iter(held.values())))
                await conn.copy_records_to_table(
                    table,
                    schema_name=schema,
                    columns=columns,
                    records=map(operator.itemgetter(*columns), held.values()),
                )
        await write(conn, schema, memory.counts(), [], projector=projection.name)
        await blocking.apply(conn, schema, memory.blockings)
        await conn.execute(
            f"INSERT INTO {quote(schema)}.projection_offsets"
            " (projector, topic, partition, next_offset) VALUES ($1, $2, $3, $4)",
            projection.name,
            job.topic,
            job.partition,
            job.end,
        )
    return memory.erased


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


async def _contract(
    settings: Settings, keys: KeySpec | None
) -> tuple[Contract, Callable[[], Awaitable[None]]]:
    """The contract, with the key store `keys` names, and how to close both."""
    if keys is None:
        contract = await Contract.open(settings)
        return contract, contract.close
    pool = await create_pool(settings.postgres)
    store = PostgresKeyStore(pool, keys.master_key, schema=keys.schema)
    contract = await Contract.open(settings, keys=store)

    async def close() -> None:
        await contract.close()
        await pool.close()

    return contract, close


async def switch_schemas(conn: Any, schema: str, fresh: str) -> str | None:
    """Step 5. Returns the name the live schema now has, or None when there was none."""
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
