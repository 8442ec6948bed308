"""Events/s through the conversation processor (case lifecycle + triage bot) on the real
broker, against a bare aiokafka consume-and-produce loop over the same records.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_processing [--workload day|triage|both] [--cases 1500]
                                                [--messages 60000] [--contacts 6000]

Workloads (bench/workloads.py):
- `day`: what `acolhe.conversations` carries over the lives of `--cases` cases, from
  DOMAIN.md's figures (about 50 messages a case; the bot's dialogue, the agent's
  conversation, WhatsApp's three statuses per outbound message, the router's copies, the
  close). As in production, the processor writes its outputs into the topic it reads, so
  they come back to it.
- `triage`: `--messages` messages from `--contacts` contacts, every one a triage answer
  (the bot's worst case); outputs go to a topic of their own.

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
from typing import Any

from aiokafka import TopicPartition

from bench import workloads
from streams.conversation.processor import ConversationCore
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

OUTPUTS = (
    "CaseOpened",
    "CaseReopened",
    "CaseResumed",
    "CasePutOnHold",
    "CaseClosed",
    "MessageSent",
    "CaseTriaged",
)


async def bare_loop(settings: Settings, src: str, dst: str, total: int) -> float:
    consumer = make_consumer(settings.kafka, group_id=None)
    producer = make_producer(settings.kafka, linger_ms=10)
    await consumer.start()
    await producer.start()
    try:
        parts = [TopicPartition(src, p) for p in range(6)]
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


async def run(settings: Settings, contract: Contract, workload: str, args: Any) -> None:
    run_id = uuid.uuid4().hex[:6]
    src, copy, out = f"bench.in.{run_id}", f"bench.copy.{run_id}", f"bench.out.{run_id}"
    await ensure_topics(settings.kafka, [TopicSpec(t, partitions=6) for t in (src, copy, out)])
    try:
        if workload == "day":
            events = workloads.office_day(args.cases)
            described = f"the lives of {args.cases} cases"
            output_topic = src  # production: the outputs land in the topic the processor reads
        else:
            events = workloads.triage_only(args.messages, args.contacts)
            described = f"{args.messages} triage messages from {args.contacts} contacts"
            output_topic = out
        total = len(events)
        mix = Counter(name for name, _ in events)
        producer = make_producer(settings.kafka, linger_ms=10)
        await producer.start()
        started = time.perf_counter()
        publisher = contract.publisher(
            producer, source="/bench", routes={n: TopicRoute(src, "contact_id") for n in mix}
        )
        for i in range(0, total, 5000):
            await publisher.publish_many(events[i : i + 5000])
        publish_rate = total / (time.perf_counter() - started)
        await producer.stop()

        ceiling = await bare_loop(settings, src, copy, total)

        routes = {n: TopicRoute(output_topic, "contact_id") for n in OUTPUTS}
        proc = Processor(
            ConversationCore(),
            contract,
            settings.kafka,
            input_topic=src,
            routes=routes,
            group_id=f"bench.conversation.{run_id}",
        )
        read_back = output_topic == src
        await proc.start()
        try:
            await proc.step(timeout_ms=5000)  # join the group and restore (nothing) first
            started = time.perf_counter()
            base = proc.stats.events
            while proc.stats.events < total + (proc.stats.outputs if read_back else 0):
                await proc.step(timeout_ms=500)
            elapsed = time.perf_counter() - started
            rate = (proc.stats.events - base) / elapsed
        finally:
            await proc.stop()
        st = proc.stats
        print(f"## workload {workload}: {described}")
        print(f"# {total:,} records: " + ", ".join(f"{n} {c:,}" for n, c in mix.most_common()))
        print(
            f"# processor consumed {st.events:,} records ({st.skipped:,} peeked and skipped:"
            f" statuses and {'its outputs read back' if read_back else 'none of its own'}),"
            f" wrote {st.outputs:,} outputs, dead-lettered {st.dead_lettered},"
            f" {st.busy_s / max(st.batches, 1) * 1000:.0f} ms"
            " per batch"
        )
        print(f"publish (codec + sealing + idempotent producer)  {publish_rate:>10,.0f} events/s")
        print(f"bare aiokafka consume+produce (ceiling)          {ceiling:>10,.0f} events/s")
        print(
            f"conversation processor (cases + triage)          {rate:>10,.0f} events/s"
            f"  ({rate / ceiling:.2f}x the ceiling)"
        )
    finally:
        await delete_topics(settings.kafka, [src, copy, out])


async def main(args: Any) -> None:
    settings = Settings.from_env()
    contract = await Contract.open(settings)
    try:
        print(f"# {os.cpu_count()} cores")
        chosen = ("day", "triage") if args.workload == "both" else (args.workload,)
        for workload in chosen:
            await run(settings, contract, workload, args)
    finally:
        await contract.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workload", choices=("day", "triage", "both"), default="both")
    parser.add_argument("--cases", type=int, default=1500, help="day: cases (~130 records each)")
    parser.add_argument("--messages", type=int, default=60_000, help="triage: messages")
    parser.add_argument("--contacts", type=int, default=6_000, help="triage: contacts")
    asyncio.run(main(parser.parse_args()))
