"""The worker side of `acolhe projections rebuild`'s bulk phase (step 3 of the steps in
streams.projections.rebuild): in a worker process, take whole partitions off the job queue
and, for each, fold its events in memory with the live projections' own folds
(`streams.projections.folds`, over `MemoryRows` instead of Postgres), then COPY its final
rows into the fresh tables, add its daily counts, keep its blocks and unblocks
(`blocking.apply`) and store its end offset, in one transaction; the citizens whose erasure
it holds go back to the coordinator on their own queue.

The workers are spawned processes: everything they run (`_worker`, and what it calls) lives
at this module's top level, importable in a fresh interpreter.

Must not depend on the coordinator (streams.projections.rebuild, which imports it), nor on
the live projector, the migrations or the schema switch.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import operator
import queue
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import TopicPartition

from streams.projections import blocking
from streams.projections.blocking import Blocking
from streams.projections.erasures import Redaction
from streams.projections.folds import Change, Row, projections
from streams.projections.writer import Increment, quote, write
from streams.shared.contract import Contract
from streams.shared.errors import InfrastructureError
from streams.shared.kafka import make_consumer
from streams.shared.keystore import PostgresKeyStore
from streams.shared.postgres import connect, create_pool
from streams.shared.settings import Settings

FETCH: Final = 20_000
"""Records per fetch and per fold in the bulk phase."""


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
    """Step 3 of streams.projections.rebuild's steps (this module's docstring) for one
    partition; the citizens whose erasure it holds, to redact once every partition is in
    (step 5)."""
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
