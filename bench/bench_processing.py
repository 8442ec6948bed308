"""Events/s through the conversation processor (case lifecycle + triage bot) on the real
broker, against a bare aiokafka consume-and-produce loop over the same records.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_processing [--workload day|triage|routing|sla|all]
        [--cases 1500] [--messages 60000] [--contacts 6000] [--routed 20000]

Workloads (bench/workloads.py):
- `day`: what `acolhe.conversations` carries over the lives of `--cases` cases, from
  DOMAIN.md's figures (about 50 messages a case; the bot's dialogue, the agent's
  conversation, WhatsApp's three statuses per outbound message, the router's copies, the
  close). As in production, the processor writes its outputs into the topic it reads, so
  they come back to it.
- `triage`: `--messages` messages from `--contacts` contacts, every one a triage answer
  (the bot's worst case); outputs go to a topic of their own.
- `sla`: the SLA clocks (streams.sla) over the same day as `day`, with the CaseOpened
  the conversation processor writes; their outputs go to a topic of their own (acolhe.sla
  in production).
- `routing`: the router on what `acolhe.routing` carries: the 40 agents of the default
  configuration coming online, then `--routed` triaged cases across the areas (a tenth
  urgent), each closed 150 cases later; its outputs (queued, decided, assigned) written
  back into its one-partition topic, as in production.

Steps, per workload: publish the records to a fresh 6-partition topic; copy them with the
bare loop (the ceiling: consume, produce, acks, no decoding); then run the conversation
processor over the same topic from the start (peek, decode what it reads, pure core,
outputs and state changelog published and acknowledged, offsets committed), until it has
consumed every record, its own outputs read back included. One process, one core for
Python; Kafka and Postgres run on the same 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from bench import workloads
from streams.conversation.processor import ConversationCore
from streams.routing.processor import ROUTER_SNAPSHOT_BYTES, RoutingCore
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_consumer,
    make_producer,
)
from streams.shared.runtime import Processor
from streams.shared.settings import Settings
from streams.sla.processor import SlaCore

OUTPUTS = (
    "CaseOpened",
    "CaseReopened",
    "CaseResumed",
    "CasePutOnHold",
    "CaseClosed",
    "MessageSent",
    "CaseTriaged",
)


async def bare_loop(settings: Settings, src: str, dst: str, total: int, partitions: int) -> float:
    consumer = make_consumer(settings.kafka, group_id=None)
    producer = make_producer(settings.kafka, linger_ms=10)
    await consumer.start()
    await producer.start()
    try:
        parts = [TopicPartition(src, p) for p in range(partitions)]
        consumer.assign(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)
        started, n = time.perf_counter(), 0
        while n < total:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            pending = [
                await producer.send(dst, m.value, key=m.key) for ms in batch.values() for m in ms
            ]
            n += len(pending)
            await asyncio.gather(*pending)
        return total / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


@dataclass
class Workload:
    core: Any
    key: str  # the field that keys the records (and the processor's state)
    outputs: tuple[str, ...]
    events: list[workloads.Event]
    described: str
    read_back: bool  # the outputs go into the topic the processor reads, as in production
    partitions: int = 6
    output_key: str | None = None  # the outputs' key field, when not `key`


def workload_of(name: str, args: Any) -> Workload:
    if name == "sla":
        return Workload(
            SlaCore(),
            "contact_id",
            ("SlaStarted", "SlaPaused", "SlaResumed", "SlaWarned", "SlaBreached", "SlaMet"),
            workloads.office_day(args.cases, with_openings=True),
            f"the lives of {args.cases} cases (with their CaseOpened), through the SLA clocks",
            read_back=False,  # its outputs go to acolhe.sla, which it does not read
            output_key="case_id",
        )
    if name == "routing":
        core = RoutingCore()
        return Workload(
            core,
            "case_id",
            ("CaseQueued", "RoutingDecided", "CaseAssigned"),
            workloads.routing_day(sorted(core.config.agents), args.routed),
            f"{args.routed} cases triaged and closed, {len(core.config.agents)} agents",
            read_back=True,
            partitions=1,
        )
    if name == "day":
        return Workload(
            ConversationCore(),
            "contact_id",
            OUTPUTS,
            workloads.office_day(args.cases),
            f"the lives of {args.cases} cases",
            read_back=True,
        )
    return Workload(
        ConversationCore(),
        "contact_id",
        OUTPUTS,
        workloads.triage_only(args.messages, args.contacts),
        f"{args.messages} triage messages from {args.contacts} contacts",
        read_back=False,
    )


async def run(settings: Settings, contract: Contract, name: str, args: Any) -> None:
    run_id = uuid.uuid4().hex[:6]
    src, copy, out = f"bench.in.{run_id}", f"bench.copy.{run_id}", f"bench.out.{run_id}"
    w = workload_of(name, args)
    await ensure_topics(
        settings.kafka, [TopicSpec(t, partitions=w.partitions) for t in (src, copy, out)]
    )
    try:
        total = len(w.events)
        mix = Counter(n for n, _ in w.events)
        producer = make_producer(settings.kafka, linger_ms=10)
        await producer.start()
        started = time.perf_counter()
        publisher = contract.publisher(
            producer,
            source="/bench",
            routes={n: TopicRoute(src, "agent_id" if "Agent" in n else w.key) for n in mix},
        )
        for i in range(0, total, 5000):
            await publisher.publish_many(w.events[i : i + 5000])
        publish_rate = total / (time.perf_counter() - started)
        await producer.stop()

        ceiling = await bare_loop(settings, src, copy, total, w.partitions)

        proc = Processor(
            w.core,
            contract,
            settings.kafka,
            input_topic=src,
            routes={
                n: TopicRoute(src if w.read_back else out, w.output_key or w.key) for n in w.outputs
            },
            group_id=f"bench.{name}.{run_id}",
            max_snapshot_bytes=ROUTER_SNAPSHOT_BYTES,
        )
        rate = await drain(proc, total, read_back=w.read_back)
        st = proc.stats
        print(f"## workload {name}: {w.described}")
        print(f"# {total:,} records: " + ", ".join(f"{n} {c:,}" for n, c in mix.most_common()))
        print(
            f"# processor consumed {st.events:,} records ({st.skipped:,} peeked and skipped:"
            f" not read by it, or {'its outputs read back' if w.read_back else 'none'}),"
            f" wrote {st.outputs:,} outputs, dead-lettered {st.dead_lettered},"
            f" {st.busy_s / max(st.batches, 1) * 1000:.0f} ms per batch"
        )
        print(f"publish (codec + sealing + idempotent producer)  {publish_rate:>10,.0f} events/s")
        print(f"bare aiokafka consume+produce (ceiling)          {ceiling:>10,.0f} events/s")
        label = {"routing": "router", "sla": "SLA clocks"}.get(
            name, "conversation processor (cases + triage)"
        )
        print(f"{label:<48} {rate:>10,.0f} events/s  ({rate / ceiling:.2f}x the ceiling)")
    finally:
        await delete_topics(settings.kafka, [src, copy, out])


async def drain(proc: Processor[Any], total: int, *, read_back: bool) -> float:
    """Run the processor until it consumed every record (and its outputs, when they come
    back to it); events/s from its first batch to its last."""
    await proc.start()
    try:
        await proc.step(timeout_ms=5000)  # join the group and restore (nothing) first
        started = time.perf_counter()
        base = proc.stats.events
        while proc.stats.events < total + (proc.stats.outputs if read_back else 0):
            await proc.step(timeout_ms=500)
        return (proc.stats.events - base) / (time.perf_counter() - started)
    finally:
        await proc.stop()


async def main(args: Any) -> None:
    settings = Settings.from_env()
    contract = await Contract.open(settings)
    try:
        print(f"# {os.cpu_count()} cores")
        every = ("day", "triage", "routing", "sla")
        chosen = every if args.workload == "all" else (args.workload,)
        for workload in chosen:
            await run(settings, contract, workload, args)
    finally:
        await contract.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--workload", choices=("day", "triage", "routing", "sla", "all"), default="all"
    )
    parser.add_argument("--cases", type=int, default=1500, help="day: cases (~130 records each)")
    parser.add_argument("--messages", type=int, default=60_000, help="triage: messages")
    parser.add_argument("--contacts", type=int, default=6_000, help="triage: contacts")
    parser.add_argument("--routed", type=int, default=20_000, help="routing: cases")
    asyncio.run(main(parser.parse_args()))
