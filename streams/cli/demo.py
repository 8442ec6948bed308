"""`acolhe demo`: bring the local stack up and run a workload through it end to end.

For now the workload is the smoke flow (streams.stack.smoke); later work grows it into
citizens writing in, triage, routing and SLA clocks.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

from streams.shared.errors import InfrastructureError
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics
from streams.shared.postgres import connect
from streams.shared.settings import Settings
from streams.stack import smoke
from streams.stack.manager import Stack


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="start the local stack and run the demo workload")
    parser.add_argument("--records", type=int, default=10_000, help="records to send (10000)")
    parser.add_argument("--keys", type=int, default=500, help="distinct contacts (500)")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    if args.records < 1 or args.keys < 1:
        print("acolhe demo: --records and --keys must be at least 1")
        return 2
    settings = Settings.from_env()
    if not (settings.uses_external_kafka and settings.uses_external_postgres):
        started = time.perf_counter()
        Stack(settings).up()
        print(f"stack up in {time.perf_counter() - started:.1f}s")
    for c in Stack(settings).status():
        print(f"  {c.name:9} {'healthy' if c.healthy else 'UNHEALTHY'} {c.version} at {c.address}")
    return asyncio.run(_run(settings, args.records, args.keys))


async def _run(settings: Settings, records: int, keys: int) -> int:
    run = uuid.uuid4().hex[:8]
    topic, schema = f"acolhe.demo.smoke.{run}", f"demo_{run}"
    await ensure_topics(settings.kafka, [TopicSpec(topic, partitions=6)])
    conn = await connect(settings.postgres)
    try:
        await smoke.prepare(conn, schema)
        produce_s = await smoke.publish(settings.kafka, topic, records=records, keys=keys)
        print(
            f"published {records} records for {keys} contacts to {topic} "
            f"in {produce_s:.2f}s ({records / produce_s:,.0f}/s, idempotent, acks=all)"
        )
        consume_s = await smoke.consume_into_postgres(
            settings.kafka, conn, topic, schema, expected=records
        )
        print(
            f"consumed and wrote them to Postgres ({schema}.smoke_records) in {consume_s:.2f}s "
            f"({records / consume_s:,.0f}/s, offsets committed with the rows)"
        )
        check = await smoke.verify(conn, schema)
        print(
            f"check: {check.rows} rows, {check.distinct_records} distinct, "
            f"{check.duplicated} duplicated, {check.out_of_order_keys} keys out of order"
        )
        if not check.holds(records):
            raise InfrastructureError("the smoke flow lost, repeated or reordered records")
        print("demo ok: every record arrived exactly once, in order per contact")
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()
    await delete_topics(settings.kafka, [topic])
    return 0
