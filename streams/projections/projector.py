"""Projectors: a topic of the log into read-model tables, exactly once.

A `Projection` (streams.projections.folds) says which events it reads and how a batch of
them, in log order, folds into whole rows and counts; the `Projector` runs it. Steps of
one batch:
1. fetch up to `max_records` from the assigned partitions;
2. decode them; a record that is not an event is dead-lettered with its reason (it can
   change no row), and the dead letters are acknowledged before the batch commits;
3. open a transaction and lock the positions stored for the topic (`locked_positions`);
   if a stored position is not where the batch starts (another projector of the same name
   wrote past it: a zombie after a rebalance, or a rebuild switched the schema), roll
   back and seek every partition of the batch to its stored position: nothing of the
   batch is applied twice or skipped;
4. the projection loads the current rows the batch touches, in that transaction, and
   folds the events over them (the version of a row is the offset of the last event
   applied: a row's events all live in one partition);
5. keep the blocks and unblocks the batch read (`CitizenBlocked`, `CitizenUnblocked`) in
   `blocked_citizens` (`blocking.apply`: the latest per citizen wins): before the rows, so
   that their live-update triggers (0005) see the blocks as the batch ends them and say
   nothing of a case the batch leaves blocked;
6. write the final rows, the counts and the next offset of every partition read
   (`writer.write`);
7. redact the messages of the citizens whose erasure (`ErasureRequested`) the batch read
   (`erasures.redact`; the fold names each once): after the rows, so that the batch's own
   rows are covered, and before the commit, so that blocks, rows, offsets and redaction
   commit together (a copy read again redacts nothing more); then commit.

On start and on every rebalance the consumer seeks each assigned partition to the offset
stored with the rows (the beginning when none is stored): Kafka's own committed offsets
are not used, so the rows and the position can never disagree.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition

from streams.projections import blocking
from streams.projections.blocking import Blocking
from streams.projections.erasures import Redaction, redact
from streams.projections.folds import PostgresRows, Projection
from streams.projections.migrations import migrate
from streams.projections.writer import Position, locked_positions, stored_positions, write
from streams.shared.contract import Contract
from streams.shared.events import DEAD_LETTER_TOPIC, Rejected, TopicRoute, dead_letter
from streams.shared.kafka import make_consumer, make_producer
from streams.shared.metrics import ProjectorMetrics
from streams.shared.postgres import connect
from streams.shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ProjectorStats:
    records: int = 0
    rows: int = 0
    rejected: int = 0
    batches: int = 0
    moved: int = 0
    """Batches dropped because the stored position was not where they started."""


class _Seek(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: Projector) -> None:
        self._projector = projector

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None  # every batch commits its rows and offsets together: nothing to flush

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._projector.seek(assigned)


class Projector:
    def __init__(
        self,
        settings: Settings,
        contract: Contract,
        projection: Projection,
        *,
        schema: str = "acolhe_read",
        topic: str | None = None,
        group_id: str | None = None,
        max_records: int = 5000,
    ) -> None:
        self.settings = settings
        self.contract = contract
        self.projection = projection
        self.schema = schema
        self.topic = topic or projection.topic
        self.name = projection.name
        self.group_id = group_id or f"acolhe.projector.{self.name}"
        self.max_records = max_records
        self.stats = ProjectorStats()
        self.metrics = ProjectorMetrics(self.name, self.topic)
        self._conn: Any = None
        self._consumer: Any = None
        self._producer: Any = None
        # A rebalance may run its callback while a batch is being written: one connection,
        # one user at a time, and a seek reads the positions of every committed batch.
        self._db = asyncio.Lock()

    async def start(self) -> None:
        self._conn = await connect(self.settings.postgres)
        await migrate(self._conn, self.schema)
        self._producer = make_producer(self.settings.kafka)
        await self._producer.start()
        self._consumer = make_consumer(
            self.settings.kafka, group_id=self.group_id, max_poll_records=self.max_records
        )
        await self._consumer.start()
        self._consumer.subscribe([self.topic], listener=_Seek(self))

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        if self._conn is not None:
            await self._conn.close()
        self.metrics.close()

    async def seek(self, assigned: list[TopicPartition]) -> None:
        async with self._db:
            stored = await stored_positions(self._conn, self.schema, self.name)
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, offset)

    async def positions(self) -> dict[tuple[str, int], int]:
        """The next offset stored with the rows, per (topic, partition)."""
        async with self._db:
            return await stored_positions(self._conn, self.schema, self.name)

    async def step(self, *, timeout_ms: int = 200) -> int:
        """Project one batch (steps 1-7 of the module docstring); returns how many records
        it read (a record read again after a rebalance counts again; a dropped batch 0)."""
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        await self.metrics.lag.refresh(self._consumer)
        if not batches:
            return 0
        began = time.perf_counter()
        self.metrics.freshness.consumed()
        starts: dict[int, int] = {}
        positions: list[Position] = []
        events: list[tuple[int, Any]] = []
        rejected: list[Rejected] = []
        count = 0
        for tp, messages in batches.items():
            count += len(messages)
            starts[tp.partition] = messages[0].offset
            positions.append(Position(tp.topic, tp.partition, messages[-1].offset + 1))
            read, bad = await self.contract.read(messages, self.projection.reads)
            events += read
            rejected += bad
        await self._dead_letter(rejected)
        async with self._db, self._conn.transaction():
            stored = await locked_positions(self._conn, self.schema, self.name, self.topic)
            moved = {p: stored[p] for p, start in starts.items() if stored.get(p, start) != start}
            if moved:
                return await self._rewind(batches, stored)
            folded = await self.projection.fold(PostgresRows(self._conn, self.schema), events)
            # Blocks first: the rows' live-update triggers then see the citizen as the end
            # of the batch has them (a change after a block in the log says nothing; one
            # before it is followed by the block's `hidden` anyway). Order-free otherwise.
            blocks = [c for c in folded if isinstance(c, Blocking)]
            await blocking.apply(self._conn, self.schema, blocks)
            changes = [c for c in folded if not isinstance(c, Redaction | Blocking)]
            await write(self._conn, self.schema, changes, positions, projector=self.name)
            erased = [c.citizen_id for c in folded if isinstance(c, Redaction)]
            redacted = await redact(self._conn, self.schema, erased) if erased else 0
        if erased:
            log.info(
                "erasure applied to the read model: the citizen's messages redacted",
                extra={
                    "projector": self.name,
                    "schema": self.schema,
                    "topic": self.topic,
                    "erasures": len(erased),
                    "redacted": redacted,
                },
            )
        for b in blocks:
            log.info(
                "block applied to the read model"
                if b.blocked
                else "unblock applied to the read model",
                extra={"projector": self.name, "schema": self.schema, "event_id": b.event_id},
            )
        self.stats.records += count
        self.stats.rows += len(changes)
        self.stats.batches += 1
        self.metrics.batch(count, (c.table for c in changes), time.perf_counter() - began)
        return count

    async def _rewind(
        self, batches: dict[TopicPartition, list[Any]], stored: dict[int, int]
    ) -> int:
        """Drop a batch that does not start at the stored positions: every partition of it
        goes back to where the rows say it is (the transaction writes nothing)."""
        self.stats.moved += 1
        self.metrics.rewound()
        # Expected after a rebalance whose callback seeked while a batch was in flight, and
        # after a rebuild's switch: information, not a fault.
        log.info(
            "batch does not start at the stored positions; rewinding to them",
            extra={"projector": self.name, "schema": self.schema, "positions": stored},
        )
        for tp, messages in batches.items():
            self._consumer.seek(tp, stored.get(tp.partition, messages[0].offset))
        return 0

    async def _dead_letter(self, rejected: list[Rejected]) -> None:
        """Dead-letter the records that are not events, acknowledged before the batch
        commits (a crash in between dead-letters them again, with the same ids)."""
        if not rejected:
            return
        self.stats.rejected += len(rejected)
        self.metrics.dead_lettered(type(item.error).__name__ for item in rejected)
        for item in rejected:
            log.warning(
                "record dead-lettered: not an event",
                extra={
                    "topic": item.topic,
                    "partition": item.partition,
                    "offset": item.offset,
                    "reason": str(item.error),
                },
            )
        publisher = self.contract.publisher(
            self._producer,
            source=f"acolhe.projector.{self.name}",
            routes={"InputDeadLettered": TopicRoute(DEAD_LETTER_TOPIC, "processor")},
        )
        name = f"projector.{self.name}"
        sent = await publisher.send_many(
            [("InputDeadLettered", dead_letter(item, name).to_record()) for item in rejected]
        )
        await asyncio.gather(*sent)
