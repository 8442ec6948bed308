"""`acolhe sla recompute`: replay the SLA clocks' whole history under other policy and
calendar files, in memory, and set what they decide beside what was recorded.

The SLA processor is deterministic (its core reads time only from events), so a replay of
`acolhe.conversations` through the same code decides what the processor would have
decided had it started with these files. Steps, in order:
1. note the end offset of every partition of the conversations topic: the replay stops
   there, however much arrives meanwhile;
2. per partition (independent: a contact's events and every broadcast change and tick are
   in it), from its first record to that end: the records the processor would decode
   (`Processor._wanted`), decoded as it decodes them, handed to a fresh `SlaCore` over the
   given files exactly as the runtime hands them (`Processor._apply`: the partition's
   context of recorded changes, ticks to the keys whose alarm is due, a refused event
   leaving every state as it was). Nothing is published: the outputs are folded into
   outcomes per clock (`streams.sla.outcomes`). With `--workers` > 1, partitions are
   replayed in worker processes, largest first;
3. read the outcomes recorded in `acolhe.sla` up to its end offsets (noted after the
   replay, so that a processor catching up meanwhile counts as far as it got).

Recorded changes (`SlaPolicyChanged`, `CalendarChanged` in the log) still apply at their
point of the log by default, over the given files as the processor applies them over its
files: a change applies when its version is above the one in force for that queue or
calendar. With `ignore_recorded_changes` they are skipped: the files alone apply from the
first record on.

Writes nothing: no Kafka topic, no changelog, no read model. Reading the whole topic is
the cost (docs/sla.md, "Recomputing history").
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from schemas.events import CalendarChanged, SlaPolicyChanged
from streams.shared.contract import Contract
from streams.shared.errors import BadInput, RetriableInfrastructureError
from streams.shared.events import Rejected
from streams.shared.kafka import fetch_until, make_consumer, topic_partitions
from streams.shared.settings import Settings
from streams.sla.calendar_file import load_calendars
from streams.sla.outcomes import OUTPUTS, ClockOutcome, Outcomes
from streams.sla.policy import SlaPolicy, load_policy

CONVERSATIONS: Final = "acolhe.conversations"
SLA: Final = "acolhe.sla"
FETCH: Final = 5000
"""Records per fetch."""
RECORDED_CHANGES: Final = frozenset((SlaPolicyChanged.NAME, CalendarChanged.NAME))


@dataclass(frozen=True)
class Files:
    """The policy and calendar files a replay starts from (paths: a worker reads them)."""

    policy: Path
    calendars: Path

    def load(self) -> SlaPolicy:
        """The policy, checked exactly as the processor's files are: BadInput (a
        `PolicyError` or `CalendarError`) naming the file, the field and the fault."""
        return load_policy(self.policy, calendars=load_calendars(self.calendars))


@dataclass(frozen=True)
class KeySpec:
    """Where the citizens' data keys are, when not the settings' key store (tests)."""

    schema: str
    master_key: bytes


@dataclass(frozen=True)
class Job:
    """One partition of the conversations topic, replayed from `start` to `end`."""

    topic: str
    partition: int
    start: int
    end: int


@dataclass
class Replayed:
    """What replaying partitions gave: the clocks' outcomes, and what was read."""

    clocks: list[ClockOutcome] = field(default_factory=list)
    records: int = 0
    events: int = 0
    refused: int = 0
    """Records the processor would dead-letter (not events, or refused by the core)."""
    skipped_changes: int = 0


@dataclass
class Recomputed:
    recorded: dict[str, ClockOutcome]
    recomputed: dict[str, ClockOutcome]
    replayed: Replayed
    partitions: int
    truncated: list[int]
    """Partitions whose first records retention deleted: their replay starts later."""
    seconds: float


Progress = Callable[[int, int], None]
"""Called with (records replayed so far, records to replay)."""


async def recompute(
    settings: Settings,
    files: Files,
    *,
    ignore_recorded_changes: bool = False,
    topic: str = CONVERSATIONS,
    sla_topic: str = SLA,
    workers: int = 1,
    keys: KeySpec | None = None,
    on_progress: Progress | None = None,
) -> Recomputed:
    """Steps 1-3 of the module docstring. Raises RetriableInfrastructureError when Kafka
    or Postgres cannot be reached, BadInput when a topic does not exist."""
    began = time.perf_counter()
    files.load()  # refused here, before any I/O, if a file is faulty
    jobs = await _plan(settings, topic)
    total = sum(j.end - j.start for j in jobs)
    replayed = Replayed()

    def counted(part: Replayed) -> None:
        replayed.clocks.extend(part.clocks)
        replayed.records += part.records
        replayed.events += part.events
        replayed.refused += part.refused
        replayed.skipped_changes += part.skipped_changes
        if on_progress is not None:
            on_progress(replayed.records, total)

    if workers <= 1 or len(jobs) <= 1:
        async with _opened(settings, keys) as contract:
            for job in jobs:
                part = await _replay(
                    settings,
                    contract,
                    job,
                    files,
                    ignore_recorded_changes=ignore_recorded_changes,
                    on_records=None
                    if on_progress is None
                    else lambda n: on_progress(replayed.records + n, total),
                )
                counted(part)
    else:
        await _in_workers(
            settings,
            keys,
            jobs,
            files,
            ignore_recorded_changes=ignore_recorded_changes,
            workers=workers,
            counted=counted,
        )
    recomputed = Outcomes()
    recomputed.update(replayed.clocks)
    recorded = await _recorded(settings, sla_topic, keys)
    return Recomputed(
        recorded=recorded.clocks,
        recomputed=recomputed.clocks,
        replayed=replayed,
        partitions=len(jobs),
        truncated=sorted(j.partition for j in jobs if j.start > 0),
        seconds=time.perf_counter() - began,
    )


async def _plan(settings: Settings, topic: str) -> list[Job]:
    """Every partition of `topic` with records, largest first."""
    async with _consumer(settings) as consumer:
        parts = [TopicPartition(topic, p) for p in await _partitions(settings, topic)]
        starts = await consumer.beginning_offsets(parts)
        ends = await consumer.end_offsets(parts)
    jobs = [Job(topic, tp.partition, starts[tp], ends[tp]) for tp in parts]
    return sorted(
        (j for j in jobs if j.end > j.start), key=lambda j: (j.start - j.end, j.partition)
    )


async def _replay(
    settings: Settings,
    contract: Contract,
    job: Job,
    files: Files,
    *,
    ignore_recorded_changes: bool,
    on_records: Callable[[int], None] | None = None,
) -> Replayed:
    """Step 2 for one partition."""
    from streams.shared.runtime import Processor
    from streams.sla.processor import SlaCore

    # The runtime's own handling, without its Kafka clients: what a worker does with a
    # record is what the replay does with it (the bench drives it the same way).
    runner: Processor[Any] = Processor(
        SlaCore(files.load()), contract, settings.kafka, input_topic=job.topic, routes={}
    )
    states: dict[str, Any] = {}
    outcomes = Outcomes()
    found = Replayed()
    tp = TopicPartition(job.topic, job.partition)
    async with _consumer(settings, max_poll_records=FETCH) as consumer:
        consumer.assign([tp])
        consumer.seek(tp, job.start)

        # To the position, not to the last record's offset: a partition whose last offsets
        # hold no record (markers, compaction) would never get there.
        async def replay() -> None:
            async for _, messages in fetch_until(consumer, {tp: job.end}):
                found.records += len(messages)
                wanted = [m for m in messages if runner._wanted(m)]
                for item in await contract.decode(wanted):
                    if isinstance(item, Rejected):
                        found.refused += 1
                        continue
                    if ignore_recorded_changes and item.event.name in RECORDED_CHANGES:
                        found.skipped_changes += 1
                        continue
                    outputs: list[tuple[str, Any]] = []
                    try:
                        runner._apply(item, states, job.partition, {}, outputs)
                    except BadInput:
                        found.refused += 1
                        continue
                    found.events += 1
                    for name, record in outputs:
                        outcomes.add(name, record)
                if on_records is not None:
                    on_records(found.records)

        await _kafka(replay())
    found.clocks = list(outcomes.clocks.values())
    return found


async def _recorded(settings: Settings, sla_topic: str, keys: KeySpec | None) -> Outcomes:
    """Step 3: the outcomes of the clocks' events in `sla_topic`."""
    outcomes = Outcomes()
    async with (
        _opened(settings, keys) as contract,
        _consumer(settings, max_poll_records=FETCH) as consumer,
    ):
        parts = [TopicPartition(sla_topic, p) for p in await _partitions(settings, sla_topic)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)

        async def fold() -> None:
            async for _, wanted in fetch_until(consumer, ends):
                for item in await contract.decode(wanted):
                    if not isinstance(item, Rejected) and item.event.name in OUTPUTS:
                        outcomes.add(item.event.name, item.event.record)

        await _kafka(fold())
    return outcomes


# -- worker processes -----------------------------------------------------------------------


async def _in_workers(
    settings: Settings,
    keys: KeySpec | None,
    jobs: list[Job],
    files: Files,
    *,
    ignore_recorded_changes: bool,
    workers: int,
    counted: Callable[[Replayed], None],
) -> None:
    """Step 2 in `workers` processes, one partition per task, largest first."""
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        tasks = [
            loop.run_in_executor(
                pool, _replay_in_worker, settings, keys, job, files, ignore_recorded_changes
            )
            for job in jobs
        ]
        for done in asyncio.as_completed(tasks):
            counted(await done)


def _replay_in_worker(
    settings: Settings, keys: KeySpec | None, job: Job, files: Files, ignore: bool
) -> Replayed:
    async def replay() -> Replayed:
        async with _opened(settings, keys) as contract:
            return await _replay(settings, contract, job, files, ignore_recorded_changes=ignore)

    return asyncio.run(replay())


# -- the boundary: Kafka and Postgres errors become an operator's message -------------------


class _opened:
    """The contract (codec and key store), closed on leaving."""

    def __init__(self, settings: Settings, keys: KeySpec | None) -> None:
        self.settings, self.keys = settings, keys
        self.contract: Contract | None = None
        self.pool: Any = None

    async def __aenter__(self) -> Contract:
        from streams.shared.keystore import PostgresKeyStore
        from streams.shared.postgres import create_pool

        try:
            if self.keys is None:
                self.contract = await Contract.open(self.settings)
            else:
                self.pool = await create_pool(self.settings.postgres)
                store = PostgresKeyStore(self.pool, self.keys.master_key, schema=self.keys.schema)
                self.contract = await Contract.open(self.settings, keys=store)
        except (OSError, TimeoutError) as exc:
            raise RetriableInfrastructureError(
                f"cannot reach PostgreSQL (the citizens' data keys) at the configured DSN: "
                f"{exc}; check that it runs (acolhe stack status) and ACOLHE_POSTGRES_DSN"
            ) from exc
        return self.contract

    async def __aexit__(self, *exc: object) -> None:
        if self.contract is not None:
            await self.contract.close()
        if self.pool is not None:
            await self.pool.close()


class _consumer:
    """A group-less consumer, started and stopped; Kafka's errors said plainly."""

    def __init__(self, settings: Settings, **overrides: object) -> None:
        self.settings = settings
        self.consumer = make_consumer(settings.kafka, group_id=None, **overrides)

    async def __aenter__(self) -> Any:
        try:
            await _kafka(self.consumer.start(), self.settings)
        except RetriableInfrastructureError:
            await self.consumer.stop()
            raise
        return self.consumer

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()


async def _kafka(call: Any, settings: Settings | None = None) -> Any:
    try:
        return await call
    except KafkaError as exc:
        where = f" at {settings.kafka.bootstrap_servers}" if settings is not None else ""
        raise RetriableInfrastructureError(
            f"cannot read from Kafka{where}: {exc}; check that the broker runs "
            "(acolhe stack status) and ACOLHE_KAFKA_BOOTSTRAP_SERVERS"
        ) from exc


async def _partitions(settings: Settings, topic: str) -> list[int]:
    """The topic's partitions; BadInput when it does not exist."""
    try:
        return await topic_partitions(settings.kafka, topic)
    except RetriableInfrastructureError as exc:
        raise RetriableInfrastructureError(
            f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: {exc.__cause__ or exc}; "
            "check that the broker runs (acolhe stack status) and ACOLHE_KAFKA_BOOTSTRAP_SERVERS"
        ) from exc
