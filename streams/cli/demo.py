"""`acolhe demo`: bring the local stack up and run a workload through it end to end.

The workload: the smoke flow (Kafka in, Postgres out, exactly once), then a simulated day
(streams.demo.day): citizens write in over WhatsApp, the bot triages them, the router
assigns their cases while agents come and go, and a tick three days later closes the
cases of citizens who went silent. Later work adds SLA clocks and projections.
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
    parser.add_argument(
        "--citizens", type=int, default=300, help="citizens in the simulated day (300; 0 skips it)"
    )
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    if args.records < 1 or args.keys < 1 or args.citizens < 0:
        print("acolhe demo: --records and --keys must be at least 1, --citizens at least 0")
        return 2
    settings = Settings.from_env()
    if not (settings.uses_external_kafka and settings.uses_external_postgres):
        started = time.perf_counter()
        Stack(settings).up()
        print(f"stack up in {time.perf_counter() - started:.1f}s")
    for c in Stack(settings).status():
        print(f"  {c.name:9} {'healthy' if c.healthy else 'UNHEALTHY'} {c.version} at {c.address}")
    code = asyncio.run(_run(settings, args.records, args.keys))
    if code == 0 and args.citizens:
        code = asyncio.run(_day(settings, args.citizens))
    return code


async def _day(settings: Settings, citizens: int) -> int:
    from collections import Counter

    from streams.demo.day import run_day
    from streams.shared.contract import Contract

    print(
        f"\nsimulated day: {citizens} citizens write in; the office logs in, lunches, changes shift"
    )
    started = time.perf_counter()
    contract = await Contract.open(settings)
    try:
        day = await run_day(settings, contract, citizens)
    finally:
        await contract.close()
    areas = Counter(t["area"] for t in day.triaged.values())
    urgent = sum(1 for t in day.triaged.values() if t["priority"] == "urgent")
    reasons = Counter(r.split(";")[0] for r in day.waiting.values())
    print(f"  {len(day.events)} events in {time.perf_counter() - started:.1f}s")
    print(f"  cases opened {len(day.opened)}, triaged {len(day.triaged)} ({urgent} urgent)")
    print(f"  by area: {', '.join(f'{a} {n}' for a, n in areas.most_common())}")
    print(f"  assigned {len(day.assigned)} to {len(set(day.assigned.values()))} agents")
    print(f"  waiting {len(day.waiting)}: {', '.join(f'{r} {n}' for r, n in reasons.items())}")
    print(f"  closed by the inactivity rule {len(day.closed)}")
    if day.unaccounted:
        raise InfrastructureError(
            f"{len(day.unaccounted)} cases are neither assigned, waiting nor closed"
        )
    print("demo ok: every case is assigned, waiting with a reason, or closed by a rule")
    return 0


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
