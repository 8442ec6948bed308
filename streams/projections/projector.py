"""The projector of SLA clocks: `acolhe.sla` into the read model's `sla_clocks`, exactly once.

Steps of one batch (the first slice of issue 6's projector; the other tables follow the
same shape):
1. fetch up to `max_records` from the assigned partitions;
2. decode them; a record that is not an event is logged with its reason and skipped (it
   can change no row);
3. load the current rows of the clocks the batch touches, in one query;
4. fold each clock's events over its row in log order (`rows.evolve_clock`; the version is
   the record's offset, and a clock's events all live in one partition, keyed by case);
5. write the final rows and the next offset of every partition read, in one transaction
   (`writer.write`).
On start and on every rebalance the consumer seeks each assigned partition to the offset
stored with the rows (the beginning when none is stored): Kafka's own committed offsets
are not used, so the rows and the position can never disagree.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, get_args

from aiokafka import ConsumerRebalanceListener, TopicPartition

from schemas.events import EVENT_TYPES
from streams.projections import rows
from streams.projections.migrations import migrate
from streams.projections.writer import Position, stored_positions, write
from streams.shared.contract import Contract
from streams.shared.events import Rejected
from streams.shared.kafka import make_consumer
from streams.shared.postgres import connect
from streams.shared.settings import Settings

log = logging.getLogger(__name__)
SLA_EVENTS = frozenset(t.NAME for t in get_args(rows.SlaEvent))


@dataclass
class ProjectorStats:
    records: int = 0
    rows: int = 0
    rejected: int = 0
    batches: int = 0


class _Seek(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: ClockProjector) -> None:
        self._projector = projector

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None  # every batch commits its rows and offsets together: nothing to flush

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._projector.seek(assigned)


class ClockProjector:
    def __init__(
        self,
        settings: Settings,
        contract: Contract,
        *,
        schema: str = "acolhe_read",
        topic: str = "acolhe.sla",
        name: str = "sla_clocks",
        group_id: str | None = None,
        max_records: int = 5000,
    ) -> None:
        self.settings = settings
        self.contract = contract
        self.schema = schema
        self.topic = topic
        self.name = name
        self.group_id = group_id or f"acolhe.projector.{name}"
        self.max_records = max_records
        self.stats = ProjectorStats()
        self._conn: Any = None
        self._consumer: Any = None
        # A rebalance may run its callback while a batch is being written: one connection,
        # one user at a time, and a seek reads the positions of every committed batch.
        self._db = asyncio.Lock()

    async def start(self) -> None:
        self._conn = await connect(self.settings.postgres)
        await migrate(self._conn, self.schema)
        self._consumer = make_consumer(
            self.settings.kafka, group_id=self.group_id, max_poll_records=self.max_records
        )
        await self._consumer.start()
        self._consumer.subscribe([self.topic], listener=_Seek(self))

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._conn is not None:
            await self._conn.close()

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
        """Project one batch; returns how many records it read (a record read again after a
        rebalance counts again)."""
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        if not batches:
            return 0
        positions: list[Position] = []
        by_clock: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        count = 0
        for tp, messages in batches.items():
            count += len(messages)
            positions.append(Position(tp.topic, tp.partition, messages[-1].offset + 1))
            for item in await self.contract.decode(messages):
                if isinstance(item, Rejected):
                    self.stats.rejected += 1
                    log.warning(
                        "record skipped: not an event",
                        extra={
                            "topic": item.topic,
                            "partition": item.partition,
                            "offset": item.offset,
                            "reason": str(item.error),
                        },
                    )
                    continue
                if item.event.name not in SLA_EVENTS:
                    continue
                event = EVENT_TYPES[item.event.name].from_record(item.event.record)
                by_clock[event.clock_id].append((item.offset, event))
        async with self._db:
            current = await self._load(list(by_clock))
            folded = []
            for clock_id, events in by_clock.items():
                row = current.get(clock_id)
                for offset, event in events:
                    row = rows.evolve_clock(row, event, offset)
                if row is not None:
                    folded.append(rows.upsert_clock(row))
            await write(self._conn, self.schema, folded, positions, projector=self.name)
        self.stats.records += count
        self.stats.rows += len(folded)
        self.stats.batches += 1
        return count

    async def _load(self, clock_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not clock_ids:
            return {}
        found = await self._conn.fetch(
            f'SELECT * FROM "{self.schema}".{rows.SLA_CLOCKS} WHERE clock_id = ANY($1::text[])',
            clock_ids,
        )
        return {r["clock_id"]: dict(r) for r in found}
