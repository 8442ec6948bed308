"""Projectors: a topic of the log into read-model tables, exactly once.

A `Projection` says which events it reads and how a batch of them, in log order, folds into
whole rows (loading the current rows it needs); the `Projector` runs it. Steps of one batch:
1. fetch up to `max_records` from the assigned partitions;
2. decode them; a record that is not an event is logged with its reason and skipped (it
   can change no row);
3. the projection loads the current rows the batch touches and folds the events over them
   (the version of a row is the offset of the last event applied: a row's events all live
   in one partition);
4. write the final rows and the next offset of every partition read, in one transaction
   (`writer.write`).

Projections: `CaseProjection` (acolhe.conversations into cases and case_messages),
`ClockProjection` (acolhe.sla into sla_clocks) and `AgentProjection` (acolhe.routing into
agents, with agent_holds: who holds each case).
On start and on every rebalance the consumer seeks each assigned partition to the offset
stored with the rows (the beginning when none is stored): Kafka's own committed offsets
are not used, so the rows and the position can never disagree.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol, get_args

from aiokafka import ConsumerRebalanceListener, TopicPartition

from schemas.events import (
    EVENT_TYPES,
    CaseOpened,
    DeliveryStatusChanged,
    MessageReceived,
    MessageSent,
)
from streams.projections import rows, rows_cases, rows_messages
from streams.projections.migrations import migrate
from streams.projections.writer import Position, Upsert, quote, stored_positions, write
from streams.shared.contract import Contract
from streams.shared.events import Rejected
from streams.shared.kafka import make_consumer
from streams.shared.postgres import connect
from streams.shared.settings import Settings

log = logging.getLogger(__name__)
SLA_EVENTS = frozenset(t.NAME for t in get_args(rows.SlaEvent))
AGENT_EVENTS = frozenset(t.NAME for t in get_args(rows.AgentEvent))
HOLDS = "agent_holds"
CASE_EVENTS = frozenset(t.NAME for t in get_args(rows_cases.CaseEvent))
MESSAGE_EVENTS = frozenset({"DeliveryStatusChanged", "MessageReceived", "MessageSent"})


@dataclass
class ProjectorStats:
    records: int = 0
    rows: int = 0
    rejected: int = 0
    batches: int = 0


class Projection(Protocol):
    name: str
    topic: str
    reads: frozenset[str]

    async def fold(self, conn: Any, schema: str, events: list[tuple[int, Any]]) -> list[Upsert]:
        """The whole rows after these (offset, event) pairs, in log order."""
        ...


class ClockProjection:
    """acolhe.sla into sla_clocks (`rows.evolve_clock`)."""

    name = "sla_clocks"
    topic = "acolhe.sla"
    reads = SLA_EVENTS

    async def fold(self, conn: Any, schema: str, events: list[tuple[int, Any]]) -> list[Upsert]:
        by_clock: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        for offset, event in events:
            by_clock[event.clock_id].append((offset, event))
        current = await _rows(conn, schema, rows.SLA_CLOCKS, "clock_id", list(by_clock))
        out = []
        for clock_id, mine in by_clock.items():
            row = current.get(clock_id)
            for offset, event in mine:
                row = rows.evolve_clock(row, event, offset)
            if row is not None:
                out.append(rows.upsert_clock(row))
        return out


class AgentProjection:
    """acolhe.routing into agents, and agent_holds (who holds each case: a CaseClosed
    names no agent) in the same transaction (`rows.fold_agents`)."""

    name = "agents"
    topic = "acolhe.routing"
    reads = AGENT_EVENTS

    async def fold(self, conn: Any, schema: str, events: list[tuple[int, Any]]) -> list[Upsert]:
        cases = sorted({e.case_id for _, e in events if hasattr(e, "case_id")})
        held = await _rows(conn, schema, HOLDS, "case_id", cases)
        holders = {c: r["agent_id"] for c, r in held.items() if r["agent_id"] is not None}
        named = {getattr(e, "agent_id", None) for _, e in events}
        named |= {getattr(e, "from_agent_id", None) for _, e in events}
        wanted = sorted(a for a in named | set(holders.values()) if isinstance(a, str))
        agents, after = rows.fold_agents(
            await _rows(conn, schema, rows.AGENTS, "agent_id", wanted), holders, events
        )
        last: dict[str, int] = {}
        for offset, event in events:
            if hasattr(event, "case_id"):
                last[event.case_id] = offset
        out = [rows.upsert_agent(row) for row in agents.values() if row["version"] >= 0]
        out += [
            Upsert(
                HOLDS,
                ("case_id",),
                {"case_id": case, "agent_id": after.get(case), "version": version},
            )
            for case, version in last.items()
        ]
        return out


class CaseProjection:
    """acolhe.conversations into cases and case_messages (`rows_cases`, `rows_messages`).

    A citizen's message names no case: it goes to the contact's open case, known from the
    table or from the batch's own CaseOpened / CaseClosed / CaseReopened. The message that
    opens a case comes before its CaseOpened: the CaseOpened then files it in the case."""

    name = "cases"
    topic = "acolhe.conversations"
    reads = CASE_EVENTS | MESSAGE_EVENTS

    async def fold(self, conn: Any, schema: str, events: list[tuple[int, Any]]) -> list[Upsert]:
        case_ids = sorted({e.case_id for _, e in events if getattr(e, "case_id", None)})
        contacts = sorted({e.contact_id for _, e in events if isinstance(e, MessageReceived)})
        cases = await _rows(conn, schema, rows_cases.CASES, "case_id", case_ids)
        # The open cases of the contacts who wrote, whole: one query, not one per case.
        open_rows = await conn.fetch(
            f"SELECT * FROM {quote(schema)}.cases"
            " WHERE contact_id = ANY($1::text[]) AND status <> 'closed'",
            contacts,
        )
        open_cases = {r["contact_id"]: r["case_id"] for r in open_rows}
        for r in open_rows:
            cases.setdefault(r["case_id"], dict(r))
        wanted = sorted(
            {e.message_id for _, e in events if isinstance(e, DeliveryStatusChanged)}
            | {
                e.opened_by_message_id
                for _, e in events
                if isinstance(e, CaseOpened) and e.opened_by_message_id
            }
        )
        messages = await _rows(conn, schema, rows_messages.CASE_MESSAGES, "message_id", wanted)
        changed_cases: set[str] = set()
        changed_messages: set[str] = set()
        for offset, event in events:
            if isinstance(event, DeliveryStatusChanged):
                row = rows_messages.evolve_message(messages.get(event.message_id), event, offset)
                if row is not None:
                    messages[event.message_id] = row
                    changed_messages.add(event.message_id)
                continue
            if isinstance(event, MessageReceived | MessageSent):
                case_id = getattr(event, "case_id", None) or open_cases.get(event.contact_id)
                message = rows_messages.message_row(event, offset, case_id=case_id)
                messages[message["message_id"]] = message
                changed_messages.add(message["message_id"])
            else:
                case_id = event.case_id
            if case_id is None:
                continue
            after = rows_cases.evolve_case(cases.get(case_id), event, offset)
            if after is None:
                continue
            cases[case_id] = after
            changed_cases.add(case_id)
            if after["status"] == "closed":
                open_cases.pop(after["contact_id"], None)
            else:
                open_cases[after["contact_id"]] = case_id
            if isinstance(event, CaseOpened) and event.opened_by_message_id in messages:
                first = messages[event.opened_by_message_id]
                if first["case_id"] is None:
                    first["case_id"], first["version"] = case_id, offset
                    changed_messages.add(event.opened_by_message_id)
        return [rows_cases.upsert_case(cases[c]) for c in sorted(changed_cases)] + [
            rows_messages.upsert_message(messages[m]) for m in sorted(changed_messages)
        ]


async def _rows(
    conn: Any, schema: str, table: str, key: str, keys: list[str]
) -> dict[str, dict[str, Any]]:
    """The current rows of `table` for these keys (names from code, not input)."""
    if not keys:
        return {}
    found = await conn.fetch(
        f"SELECT * FROM {quote(schema)}.{quote(table)} WHERE {quote(key)} = ANY($1::text[])",
        keys,
    )
    return {r[key]: dict(r) for r in found}


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
        events: list[tuple[int, Any]] = []
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
                if item.event.name in self.projection.reads:
                    event = EVENT_TYPES[item.event.name].from_record(item.event.record)
                    events.append((item.offset, event))
        async with self._db:
            folded = await self.projection.fold(self._conn, self.schema, events)
            await write(self._conn, self.schema, folded, positions, projector=self.name)
        self.stats.records += count
        self.stats.rows += len(folded)
        self.stats.batches += 1
        return count
