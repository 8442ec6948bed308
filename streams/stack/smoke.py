"""A smoke flow through the real stack: Kafka in, Postgres out, every record exactly once.

Steps, in order:
1. publish `records` keyed records with an idempotent producer (acks=all); record i has
   key `contact-{i % keys}` and per-key sequence `i // keys`;
2. consume them back from assigned partitions, starting at the offsets stored in
   Postgres (none the first time);
3. for each batch, in one Postgres transaction: COPY the rows in and store the next
   offset of each partition, so a crash between batches neither loses nor repeats a row;
4. stop when `records` rows are in, or fail after `timeout_s`.

`verify` then checks from Postgres alone: every record once, and per key in order.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import TopicPartition

from streams.shared.errors import InfrastructureError
from streams.shared.kafka import make_consumer, make_producer, topic_partitions
from streams.shared.postgres import copy_rows
from streams.shared.settings import KafkaSettings

DDL = """
CREATE TABLE IF NOT EXISTS {schema}.smoke_records (
    arrival     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         text    NOT NULL,
    seq         integer NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint  NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.smoke_offsets (
    topic       text    NOT NULL,
    kafka_partition integer NOT NULL,
    next_offset bigint  NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);
"""


@dataclass(frozen=True)
class SmokeCheck:
    rows: int
    distinct_records: int
    duplicated: int
    out_of_order_keys: int

    def holds(self, expected: int) -> bool:
        return (
            self.rows == expected
            and self.distinct_records == expected
            and self.duplicated == 0
            and self.out_of_order_keys == 0
        )


async def prepare(conn: Any, schema: str) -> None:
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await conn.execute(DDL.format(schema=f'"{schema}"'))


async def publish(kafka: KafkaSettings, topic: str, *, records: int, keys: int) -> float:
    """Publish the records; returns the seconds it took until all were acknowledged."""
    producer = make_producer(kafka)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for i in range(records):
            key = f"contact-{i % keys}"
            value = orjson.dumps({"key": key, "seq": i // keys})
            pending.append(await producer.send(topic, value=value, key=key.encode()))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def consume_into_postgres(
    kafka: KafkaSettings,
    conn: Any,
    topic: str,
    schema: str,
    *,
    expected: int,
    timeout_s: float = 120.0,
) -> float:
    """Copy the topic into Postgres until `expected` rows are in; returns the seconds taken."""
    consumer = make_consumer(kafka, group_id=None)
    await consumer.start()
    started = time.perf_counter()
    try:
        assigned = [TopicPartition(topic, p) for p in await topic_partitions(kafka, topic)]
        consumer.assign(assigned)
        stored = dict(
            await conn.fetch(
                f'SELECT kafka_partition, next_offset FROM "{schema}".smoke_offsets '
                "WHERE topic = $1",
                topic,
            )
        )
        for tp in assigned:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)
        count = await conn.fetchval(f'SELECT count(*) FROM "{schema}".smoke_records')
        deadline = time.monotonic() + timeout_s
        while count < expected:
            if time.monotonic() > deadline:
                raise InfrastructureError(
                    f"only {count} of {expected} records reached Postgres in {timeout_s:.0f}s"
                )
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, messages in batches.items():
                rows = []
                for m in messages:
                    body = orjson.loads(m.value)
                    rows.append((body["key"], body["seq"], m.partition, m.offset))
                async with conn.transaction():
                    await copy_rows(
                        conn,
                        "smoke_records",
                        ("key", "seq", "kafka_partition", "kafka_offset"),
                        rows,
                        schema=schema,
                    )
                    await conn.execute(
                        f'INSERT INTO "{schema}".smoke_offsets AS o VALUES ($1, $2, $3) '
                        "ON CONFLICT (topic, kafka_partition) "
                        "DO UPDATE SET next_offset = EXCLUDED.next_offset",
                        topic,
                        tp.partition,
                        messages[-1].offset + 1,
                    )
                count += len(rows)
    finally:
        await consumer.stop()
    return time.perf_counter() - started


async def verify(conn: Any, schema: str) -> SmokeCheck:
    """Check, from Postgres alone, that every record arrived once and each key in order."""
    s = f'"{schema}".smoke_records'
    rows = await conn.fetchval(f"SELECT count(*) FROM {s}")
    distinct = await conn.fetchval(f"SELECT count(*) FROM (SELECT DISTINCT key, seq FROM {s}) d")
    duplicated = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM {s} GROUP BY key, seq HAVING count(*) > 1) d"
    )
    out_of_order = await conn.fetchval(
        f"""SELECT count(DISTINCT key) FROM (
              SELECT key, seq, row_number() OVER (PARTITION BY key ORDER BY arrival) - 1 AS pos
              FROM {s}) r
            WHERE seq <> pos"""
    )
    return SmokeCheck(rows, distinct, duplicated, out_of_order)
