"""Events/s through the conversation processor (case lifecycle + triage bot) on the real
broker, against a bare aiokafka consume-and-produce loop over the same records.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_processing [--messages 60000] [--contacts 6000]

Steps: publish the messages (contacts writing their first message, then answering the
bot; a tenth urgent) to a fresh 6-partition topic; copy them with the bare loop (the
ceiling: consume, produce, acks, no decoding); then run the conversation processor over
the same topic from the start (decode, pure core, outputs and state changelog published
and acknowledged, offsets committed). One process, one core for Python; Kafka and
Postgres run on the same 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

from aiokafka import TopicPartition

from schemas.events import MessageReceived
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

ANSWERS = ("oi", "meu ex marido não paga a pensão", "1", "2", "2", "1 e 2", "obrigada")
URGENT = "socorro meu marido me ameaçou de morte agora"


def messages(total: int, contacts: int) -> list[dict[str, Any]]:
    from bench.samples import message_received

    out = []
    for i in range(total):
        contact, turn = i % contacts, i // contacts
        text = URGENT if contact % 10 == 0 and turn == 0 else ANSWERS[turn % len(ANSWERS)]
        record = message_received(i)
        record.update(
            event_id=f"bench-{i}",
            correlation_id=f"bench-{contact}",
            contact_id=f"contact-{contact}",
            subject_id=f"citizen-{contact}",
            provider_message_id=f"wamid-{i}",
            text=text,
            kind="text",
            attachments=[],
        )
        out.append(MessageReceived.from_record(record).to_record())
    return out


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


async def main(total: int, contacts: int) -> None:
    settings = Settings.from_env()
    run = uuid.uuid4().hex[:6]
    src, copy, out = f"bench.in.{run}", f"bench.copy.{run}", f"bench.out.{run}"
    await ensure_topics(settings.kafka, [TopicSpec(t, partitions=6) for t in (src, copy, out)])
    contract = await Contract.open(settings)
    try:
        producer = make_producer(settings.kafka, linger_ms=10)
        await producer.start()
        records = messages(total, contacts)
        started = time.perf_counter()
        publisher = contract.publisher(
            producer, source="/bench", routes={"MessageReceived": TopicRoute(src, "contact_id")}
        )
        for i in range(0, total, 5000):
            await publisher.publish_many([("MessageReceived", r) for r in records[i : i + 5000]])
        publish_rate = total / (time.perf_counter() - started)
        await producer.stop()

        ceiling = await bare_loop(settings, src, copy, total)

        names = (
            "CaseOpened",
            "CaseReopened",
            "CaseResumed",
            "CasePutOnHold",
            "CaseClosed",
            "MessageSent",
            "CaseTriaged",
            "InputDeadLettered",
        )
        routes = {n: TopicRoute(out, "event_id") for n in names}
        proc = Processor(
            ConversationCore(),
            contract,
            settings.kafka,
            input_topic=src,
            routes=routes,
            group_id=f"bench.conversation.{run}",
        )
        await proc.start()
        try:
            await proc.step(timeout_ms=5000)  # join the group and restore (nothing) first
            started = time.perf_counter()
            base = proc.stats.events
            while proc.stats.events < total:
                await proc.step(timeout_ms=500)
            elapsed = time.perf_counter() - started
            rate = (proc.stats.events - base) / elapsed
        finally:
            await proc.stop()
        print(f"# {os.cpu_count()} cores; {total} messages from {contacts} contacts")
        print(f"publish (codec + sealing + idempotent producer)  {publish_rate:>10,.0f} events/s")
        print(f"bare aiokafka consume+produce (ceiling)          {ceiling:>10,.0f} events/s")
        print(
            f"conversation processor (cases + triage)          {rate:>10,.0f} events/s"
            f"  ({rate / ceiling:.2f}x the ceiling; {proc.stats.outputs} outputs,"
            f" {proc.stats.busy_s / max(proc.stats.batches, 1) * 1000:.0f} ms per batch)"
        )
    finally:
        await contract.close()
        await delete_topics(settings.kafka, [src, copy, out])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--contacts", type=int, default=6_000)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.contacts))
