"""A keyed, stateful stream processor on aiokafka: the shell around a pure core.

Why not faust-streaming's agents and tables: measured on this 2-core machine, a faust agent
spends about 170 µs per event before any work and a table write per event adds 450 µs
(1,600 events/s; docs/processing.md), far from the 10,000 events/s the processors need.
This runtime keeps faust's contract (state per key in memory, backed by a compacted
changelog topic, restored when partitions are assigned) and works in batches.

Steps of one batch, in order (at-least-once, idempotent effects):
1. fetch up to `max_records` from the assigned partitions of the input topic;
2. decode them; a record that is not a valid event becomes `InputDeadLettered`;
3. for each event, in partition order: load the key's state, call the core's `handle`,
   keep the new state and the outputs;
4. hand the outputs to the producer (idempotent, acks=all) and go on with the next batch
   without waiting: the producer keeps each partition's records in order, and nothing
   counts as done until step 5 has seen them acknowledged. An output for a citizen erased
   meanwhile is written with its personal fields ERASED (the publisher's `write_erased`),
   never refused: the core decided it, the log records it, the processor goes on;
5. at least once a second (a checkpoint): wait until every output so far is acknowledged,
   write the states changed since the last checkpoint to the changelog (personal values
   sealed with their citizen's key, made sure of first: `streams.shared.snapshots`), wait
   for those acknowledgements, and only then commit the offsets.
A crash between checkpoints replays the inputs since the last one against the states of
that checkpoint: the cores decide the same outputs with the same derived ids, which are
dropped downstream as duplicates. Nothing accepted is lost; nothing is decided twice
differently.

Restore, before the first batch of a newly assigned partition: read its changelog partition
from the beginning to its end offset, keeping the last snapshot per key (a tombstone
deletes the key; the key CONTEXT_KEY holds the partition's context, for cores that keep one);
load the keys of the citizens whose values are sealed in them, and open them: ERASED where a
key was destroyed, and the core carries on with that. A state restored from a snapshot of
the plain format with personal values (written before sealing) is written again, sealed,
at the next checkpoint, so the compacted topic lets the clear copy go.

An input the core refuses as bad (a `BadInput` it raises, such as an event keyed to the
wrong contact) is dead-lettered with the reason like an undecodable record; the key's state
stays as it was and the batch goes on.

Metrics (streams.shared.metrics): counted once per batch after step 4, the lag read again
at most once a second, the checkpoint's age set back to 0 at the end of step 5.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRebalanceListener, TopicPartition

from schemas.events import EVENT_TYPES, ClockTicked, InputDeadLettered
from streams.shared import changelog, snapshots
from streams.shared.contract import Contract
from streams.shared.cores import Core, PartitionContext, partition_wide_of, reads_of
from streams.shared.errors import BadInput
from streams.shared.events import (
    DEAD_LETTER_TOPIC,
    EventPublisher,
    EventRoute,
    Received,
    Rejected,
    TopicRoute,
    dead_letter,
)
from streams.shared.kafka import TopicSpec, ensure_topics, make_consumer, make_producer
from streams.shared.metrics import ProcessorMetrics
from streams.shared.settings import KafkaSettings

log = logging.getLogger(__name__)
S = TypeVar("S")
MAX_IN_FLIGHT = 50_000  # outputs awaiting acks before a batch waits for them
CHANGELOG_CLEANUP_MS = str(86400_000)
"""A changelog's segments roll, and are compacted, within a day (`segment.ms`,
`max.compaction.lag.ms`): a superseded snapshot is gone within about two days."""
_HEAP_SLACK = 1024  # superseded alarms tolerated (beyond twice the live ones) before a rebuild


@dataclass
class Stats:
    events: int = 0
    outputs: int = 0
    dead_lettered: int = 0
    skipped: int = 0  # records peeked and left undecoded: not read by the core, or its own
    batches: int = 0
    busy_s: float = 0.0
    started: float = field(default_factory=time.monotonic)


class _Restore(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: Processor[Any]) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Hand over what this worker did: states written and offsets committed first.
        await self._runner.checkpoint()
        self._runner.forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Records may be fetched before this callback ends: `step` restores a partition's
        # state on its first batch instead, so no event is ever applied to a blank state.
        self._runner.forget(assigned)


class Processor(Generic[S]):
    def __init__(
        self,
        core: Core[S],
        contract: Contract,
        kafka: KafkaSettings,
        *,
        input_topic: str,
        routes: Mapping[str, EventRoute],
        group_id: str | None = None,
        changelog_topic: str | None = None,
        max_records: int = 2000,
        max_snapshot_bytes: int = 1024 * 1024,
        checkpoint_interval_s: float = 1.0,
        name: str | None = None,
    ) -> None:
        self.core = core
        # The processor's name in its metrics (`acolhe run NAME`): bounded, unlike a group.
        self.name = name or core.name.rsplit(".", 1)[-1]
        self.contract = contract
        self.kafka = kafka
        self.input_topic = input_topic
        self.routes = dict(routes)
        self.group_id = group_id or f"acolhe.{core.name}"
        self.changelog_topic = changelog_topic or f"{self.group_id}.changelog"
        self.max_records = max_records
        # A state kept under one key (the router's) can outgrow Kafka's 1 MB default.
        self.max_snapshot_bytes = max_snapshot_bytes
        self.checkpoint_interval_s = checkpoint_interval_s
        self._dirty: dict[tuple[int, str], S | None] = {}
        # Outputs handed to the producer and not yet seen acknowledged.
        self._in_flight: list[asyncio.Future[Any]] = []
        self._uncommitted: dict[TopicPartition, int] = {}
        self._last_checkpoint = time.monotonic()
        self.states: dict[int, dict[str, S]] = {}
        # Per partition, (when, key) a tick must visit; superseded entries are skipped
        # lazily, and the heap is rebuilt from `wakes` (each key's current alarm) when they
        # outnumber the live ones, so a key busy for hours does not grow it without bound.
        self.alarms: dict[int, list[tuple[datetime, str]]] = {}
        self.wakes: dict[int, dict[str, datetime]] = {}
        self.contexts: dict[int, Any] = {}
        self._dirty_contexts: set[int] = set()
        self._context_core: PartitionContext[Any] | None = (
            core if hasattr(core, "context_type") else None  # type: ignore[assignment]
        )
        self._partition_wide = partition_wide_of(core)
        self._seals = snapshots.holds_personal(core.state_type)
        self._subject_of: Any = getattr(core, "subject_of", None)
        if self._seals and self._subject_of is None:
            raise TypeError(
                f"{core.name}: its state holds personal values; the core must name whose "
                "they are (subject_of), so that its snapshots are sealed with that key"
            )
        if self._context_core is not None and snapshots.holds_personal(
            self._context_core.context_type
        ):
            raise TypeError(f"{core.name}: a partition's context must hold no personal value")
        self.stats = Stats()
        self.metrics = ProcessorMetrics(self.name, input_topic)
        self.source = f"/acolhe/{core.name}"
        self._source_bytes = self.source.encode()
        self._reads = reads_of(core)
        self._consumer: Any = None
        self._producer: Any = None
        self._publisher: EventPublisher | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        partitions = await self._input_partitions()
        await ensure_topics(
            self.kafka,
            [
                TopicSpec(
                    self.changelog_topic,
                    partitions=partitions,
                    config={
                        "cleanup.policy": "compact",
                        "min.compaction.lag.ms": "60000",
                        "max.compaction.lag.ms": CHANGELOG_CLEANUP_MS,
                        "segment.ms": CHANGELOG_CLEANUP_MS,
                        "max.message.bytes": str(self.max_snapshot_bytes + 65536),
                    },
                ),
                TopicSpec(
                    DEAD_LETTER_TOPIC, partitions=3, config={"retention.ms": str(14 * 86400_000)}
                ),
            ],
        )
        self._producer = make_producer(
            self.kafka, linger_ms=10, max_request_size=self.max_snapshot_bytes + 65536
        )
        await self._producer.start()
        self._publisher = EventPublisher(
            self._producer,
            self.contract.codec,
            self.contract.keys,
            source=self.source,
            routes={**self.routes, "InputDeadLettered": TopicRoute(DEAD_LETTER_TOPIC, "processor")},
            erased_subjects="write_erased",
        )
        self._consumer = make_consumer(
            self.kafka, group_id=self.group_id, max_poll_records=self.max_records
        )
        await self._consumer.start()
        self._consumer.subscribe([self.input_topic], listener=_Restore(self))

    async def stop(self) -> None:
        if self._consumer is not None:
            await self.checkpoint()
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
        self.metrics.close()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step(timeout_ms=200)

    # -- one batch ------------------------------------------------------------------------

    async def step(self, *, timeout_ms: int = 200) -> int:
        """Process one batch; returns how many input records it consumed."""
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        await self.metrics.lag.refresh(self._consumer)
        if not batches:
            # A quiet stream still checkpoints what it did, or its offsets would wait forever.
            if self._uncommitted and self._checkpoint_due():
                await self.checkpoint()
            return 0
        began = time.perf_counter()
        self.metrics.freshness.consumed()
        outputs: list[tuple[str, Mapping[str, Any]]] = []
        changed: dict[tuple[int, str], S | None] = {}
        dead: list[tuple[str, Mapping[str, Any]]] = []
        offsets: dict[TopicPartition, int] = {}
        consumed = 0
        missing = [tp for tp in batches if tp.partition not in self.states]
        if missing:
            await self.restore(missing)
        for tp, messages in batches.items():
            consumed += len(messages)
            offsets[tp] = messages[-1].offset + 1
            states = self.states[tp.partition]
            wanted = [m for m in messages if self._wanted(m)]
            self.stats.skipped += len(messages) - len(wanted)
            for item in await self.contract.decode(wanted):
                if isinstance(item, Rejected):
                    dead.append(("InputDeadLettered", self._dead_letter(item).to_record()))
                    continue
                try:
                    self._apply(item, states, tp.partition, changed, outputs)
                except BadInput as exc:
                    rejected = Rejected(item.topic, item.partition, item.offset, None, None, exc)
                    dead.append(("InputDeadLettered", self._dead_letter(rejected).to_record()))
        await self._publish(outputs + dead)
        self._dirty.update(changed)
        self._uncommitted.update(offsets)
        if self._checkpoint_due():
            await self.checkpoint()
        self.stats.events += consumed
        self.stats.outputs += len(outputs)
        self.stats.dead_lettered += len(dead)
        self.stats.batches += 1
        busy = time.perf_counter() - began
        self.stats.busy_s += busy
        self.metrics.batch(consumed, outputs, dead, busy)
        return consumed

    def _wanted(self, message: Any) -> bool:
        """Whether a record must be decoded and handed to the core.

        Not: the processor's own outputs read back (the state already reflects them: the
        core evolved over them when it decided them, and on a replay it decides them
        again), and the types the core does not read. A record whose first bytes are not
        an event is wanted, so that decoding it dead-letters it with the reason.
        """
        for key, value in message.headers or ():
            if key == "ce_source":
                if value == self._source_bytes:
                    return False
                break
        if self._reads is None:
            return True
        try:
            name = self.contract.codec.peek(message.value).name
        except BadInput:
            return True
        return name in self._reads

    def _apply(
        self,
        item: Received,
        states: dict[str, S],
        partition: int,
        changed: dict[tuple[int, str], S | None],
        outputs: list[tuple[str, Mapping[str, Any]]],
    ) -> None:
        """Hand one event to the core for every key it concerns; collect states and outputs.

        All or nothing per event: a BadInput raised by the core leaves every state as it was
        (the states and outputs of the keys already handled are dropped with it)."""
        event = EVENT_TYPES[item.event.name].from_record(item.event.record)
        core, ctx_core = self.core, self._context_core
        context = self._context(partition)
        keys, new_context = self._keys_for(event, partition, states, context)
        results: list[tuple[str, S | None, list[Any]]] = []
        try:
            for key in keys:
                state = states.get(key)
                if state is None:
                    state = core.initial(key)
                if ctx_core is not None:
                    after, produced = ctx_core.handle_in(new_context, state, event)
                else:
                    after, produced = core.handle(state, event)
                results.append((key, after, produced))
        except BadInput:
            if isinstance(event, ClockTicked):  # the due keys keep their alarms
                for key in keys:
                    self._keep(partition, states, key, states[key])
            raise
        if new_context is not context:
            self.contexts[partition] = new_context
            self._dirty_contexts.add(partition)
        for key, after, produced in results:
            changed[(partition, key)] = after
            outputs.extend((out.NAME, out.to_record()) for out in produced)
            self._keep(partition, states, key, after)

    def _context(self, partition: int) -> Any:
        if self._context_core is None:
            return None
        context = self.contexts.get(partition)
        if context is None:
            context = self.contexts[partition] = self._context_core.initial_context()
        return context

    def _keys_for(
        self, event: Any, partition: int, states: Mapping[str, S], context: Any
    ) -> tuple[Sequence[str], Any]:
        """The keys an event concerns, and the partition's context after it."""
        if isinstance(event, ClockTicked):
            return self._due(partition, event.tick_at), context
        ctx_core = self._context_core
        if ctx_core is not None and ctx_core.changes_context(event):
            # every key, in an order no hash decides
            return sorted(states), ctx_core.evolve_context(context, event)
        if event.NAME in self._partition_wide:
            return sorted(states), context  # every key, as above; no context to change
        key = self.core.key_of(event)
        return ([key] if key is not None else []), context

    def _keep(self, partition: int, states: dict[str, S], key: str, after: S | None) -> None:
        """Store a key's new state (or forget the key) and keep its alarm current."""
        wakes = self.wakes.setdefault(partition, {})
        alarms = self.alarms.setdefault(partition, [])
        if after is None:
            states.pop(key, None)
            wakes.pop(key, None)
            return
        states[key] = after
        wake = self.core.wakes_at(after)
        if wake is None:
            wakes.pop(key, None)
        elif wakes.get(key) != wake:
            wakes[key] = wake
            heapq.heappush(alarms, (wake, key))
        if len(alarms) > 2 * len(wakes) + _HEAP_SLACK:
            alarms[:] = [(w, k) for k, w in wakes.items()]
            heapq.heapify(alarms)

    def _due(self, partition: int, now: datetime) -> list[str]:
        """The keys whose alarm has come by `now`, each once, in time then key order."""
        alarms = self.alarms.setdefault(partition, [])
        wakes = self.wakes.setdefault(partition, {})
        due: list[str] = []
        while alarms and alarms[0][0] <= now:
            at, key = heapq.heappop(alarms)
            if wakes.get(key) != at:
                continue  # superseded by a later event of the key, or the key is gone
            del wakes[key]  # handled now; its next alarm is set again after the tick
            due.append(key)
        return due

    async def _publish(self, outputs: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Hand a batch's outputs to the producer; `checkpoint` awaits their acks."""
        if not outputs:
            return
        assert self._publisher is not None, "start() first"
        self._in_flight.extend(await self._publisher.send_many(outputs))
        if len(self._in_flight) > MAX_IN_FLIGHT:
            await self._settle()

    async def _settle(self) -> None:
        """Wait until every output handed over so far is acknowledged (or raise its error:
        the worker stops before committing, and a restart decides those inputs again)."""
        pending, self._in_flight = self._in_flight, []
        await asyncio.gather(*pending)

    def _checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_checkpoint >= self.checkpoint_interval_s

    async def checkpoint(self) -> None:
        """Wait for every output's acknowledgement, write the states changed since the last
        checkpoint, then commit the offsets.

        In this order: a crash before the commit replays the inputs since the previous
        checkpoint against the states of that checkpoint, so the cores decide again exactly
        what they decided (same outputs, same ids, dropped downstream as duplicates).
        Checkpointing once a second instead of once a batch writes each busy key once, and a
        large state (the router's) once a second instead of once a batch.
        """
        await self._settle()
        await changelog.write(
            self._producer,
            self.changelog_topic,
            await self._snapshots(),
            {
                p: snapshots.dump(self.contexts[p])
                for p in self._dirty_contexts
                if p in self.contexts
            },
        )
        if self._uncommitted:
            await self._consumer.commit(self._uncommitted)
        self._dirty.clear()
        self._dirty_contexts.clear()
        self._uncommitted.clear()
        self._last_checkpoint = time.monotonic()
        self.metrics.freshness.committed()

    async def _snapshots(self) -> dict[tuple[int, str], bytes | None]:
        """The states changed since the last checkpoint, as snapshots (None: a tombstone),
        personal values sealed with their citizen's key (made, when missing, as the
        publisher makes them; an erased citizen's values are written ERASED)."""
        if not self._seals:
            return {at: None if s is None else snapshots.dump(s) for at, s in self._dirty.items()}
        subject_of, keys = self._subject_of, self.contract.keys
        subjects = {at: subject_of(s) for at, s in self._dirty.items() if s is not None}
        wanted = {s for s in subjects.values() if s}
        if wanted:
            await keys.ensure(wanted)
        return {
            at: None if s is None else snapshots.dump(s, keys, subjects[at])
            for at, s in self._dirty.items()
        }

    def _dead_letter(self, item: Rejected) -> InputDeadLettered:
        return dead_letter(item, self.core.name)

    # -- state ----------------------------------------------------------------------------

    def forget(self, revoked: Sequence[TopicPartition]) -> None:
        for tp in revoked:
            self.states.pop(tp.partition, None)
            self.alarms.pop(tp.partition, None)
            self.wakes.pop(tp.partition, None)
            self.contexts.pop(tp.partition, None)

    async def restore(self, assigned: Sequence[TopicPartition]) -> None:
        """The states (and context) of these partitions, read back from the changelog."""
        found = await changelog.read(
            self.kafka,
            self.changelog_topic,
            [tp.partition for tp in assigned],
            max_record_bytes=self.max_snapshot_bytes + 65536,
        )
        keys = self.contract.keys
        sealed_for = {
            subject
            for raw_states, _ in found.values()
            for value in raw_states.values()
            if (subject := snapshots.subject_of(value)) is not None
        }
        if sealed_for:
            await keys.load(sealed_for)
        resealed = 0
        for partition, (raw_states, raw_context) in found.items():
            states = {
                key: snapshots.load(self.core.state_type, value, keys)
                for key, value in raw_states.items()
            }
            if self._seals:
                for key, value in raw_states.items():
                    if snapshots.format_of(value) == snapshots.PLAIN:
                        self._dirty[(partition, key)] = states[key]
                        resealed += 1
            if raw_context is not None and self._context_core is not None:
                self.contexts[partition] = snapshots.load(
                    self._context_core.context_type, raw_context
                )
            wakes = {k: w for k, st in states.items() if (w := self.core.wakes_at(st))}
            alarms = [(w, k) for k, w in wakes.items()]
            heapq.heapify(alarms)
            self.states[partition] = states
            self.alarms[partition] = alarms
            self.wakes[partition] = wakes
        log.info(
            "state restored",
            extra={
                "partitions": sorted(found),
                "keys": sum(len(s) for s, _ in found.values()),
                "resealed": resealed,
            },
        )

    async def _input_partitions(self) -> int:
        from streams.shared.kafka import topic_partitions

        return len(await topic_partitions(self.kafka, self.input_topic))
