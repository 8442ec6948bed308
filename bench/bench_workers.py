"""Does the conversation processor scale with workers? Events/s with 1 and 2 worker processes.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_workers [--messages 40000] [--contacts 4000]

For each worker count: start the workers (one consumer group, 6 partitions) on an empty
topic, publish the messages (as in bench_processing), and time from the first publish until
the group has committed every offset. Kafka and Postgres share the same 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
import uuid
from typing import Any

from bench.workloads import triage_only
from streams.conversation.processor import ConversationCore
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    group_lag,
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


def worker(src: str, out: str, group: str, stop: Any) -> None:
    async def go() -> None:
        settings = Settings.from_env()
        contract = await Contract.open(settings)
        proc = Processor(
            ConversationCore(),
            contract,
            settings.kafka,
            input_topic=src,
            routes={n: TopicRoute(out, "event_id") for n in OUTPUTS},
            group_id=group,
        )
        await proc.start()
        while not stop.is_set():
            await proc.step(timeout_ms=100)
        await proc.stop()
        await contract.close()

    asyncio.run(go())


async def measure(workers: int, total: int, contacts: int) -> float:
    settings = Settings.from_env()
    run = uuid.uuid4().hex[:6]
    src, out, group = f"bench.w.in.{run}", f"bench.w.out.{run}", f"bench.w.{run}"
    await ensure_topics(settings.kafka, [TopicSpec(src, 6), TopicSpec(out, 6)])
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    procs = [context.Process(target=worker, args=(src, out, group, stop)) for _ in range(workers)]
    for p in procs:
        p.start()
    await asyncio.sleep(8)  # the workers join the group and take their partitions
    contract = await Contract.open(settings)
    producer = make_producer(settings.kafka, linger_ms=10)
    await producer.start()
    records = triage_only(total, contacts)
    publisher = contract.publisher(
        producer, source="/bench", routes={"MessageReceived": TopicRoute(src, "contact_id")}
    )
    started = time.perf_counter()
    for i in range(0, total, 5000):
        await publisher.publish_many(records[i : i + 5000])
    await producer.stop()
    while await group_lag(settings.kafka, group, src) > 0:  # noqa: ASYNC110 - polls the group
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop.set()
    for p in procs:
        p.join(timeout=60)
    await contract.close()
    await delete_topics(settings.kafka, [src, out])
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--contacts", type=int, default=4_000)
    args = parser.parse_args()
    one = asyncio.run(measure(1, args.messages, args.contacts))
    two = asyncio.run(measure(2, args.messages, args.contacts))
    print(f"# {args.messages} messages from {args.contacts} contacts, 6 partitions")
    print(f"1 worker process    {one:>8,.0f} events/s")
    print(f"2 worker processes  {two:>8,.0f} events/s  ({two / one:.2f}x)")


if __name__ == "__main__":
    main()
