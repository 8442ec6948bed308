"""Rebuilding the read model from a history of millions of messages, against a raw COPY of
the same rows into the same tables, measured in the same run.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_rebuild [--messages 5000000] [--workers 2]
        [--live-records 1000000] [--keep]

1. History: office-day case lives (bench.workloads.office_day: 42 messages a case, with
   WhatsApp's statuses, the routing copies and the openings, 121 records a case), sealed
   and published to a fresh 12-partition topic like acolhe.conversations, until
   `--messages` messages are in it. Each case is its own contact and citizen.
2. Rebuild: `streams.projections.rebuild.rebuild` of the cases projection (cases,
   case_messages, daily_stats) from that topic into a fresh schema, `--workers` processes.
3. Ceiling: the rebuilt tables dumped with binary COPY to files, then loaded with binary
   COPY into a freshly migrated schema (same tables, same indexes): Postgres taking the
   very rows the rebuild wrote, with nothing to read, decode or fold. Twice: with the
   indexes in place during the load, and with the secondary indexes dropped first and
   built after (as the rebuild's bulk phase does); the faster one is the ceiling.
4. Live projection: the incremental projector (`streams.projections.projector`, batches
   of 5,000, upserts with version guards) over the first `--live-records` records.

Prints events/s of each and the rebuild's share of the ceiling (COPY time / rebuild time).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
import uuid
from typing import Any

from aiokafka import TopicPartition

from bench.workloads import office_day
from streams.projections import migrations
from streams.projections.folds import CaseProjection
from streams.projections.projector import Projector
from streams.projections.rebuild import Progress, build_indexes, drop_secondary_indexes, rebuild
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_consumer,
    make_producer,
    topic_partitions,
)
from streams.shared.postgres import connect
from streams.shared.settings import Settings

MESSAGES_PER_CASE = 42
TABLES = ("cases", "case_messages", "daily_stats", "projection_offsets")
CHUNK = 1000  # cases published at a time


def publish_in_parallel(
    settings: Settings, topic: str, cases: int, processes: int
) -> tuple[int, float]:
    """Publish the history from `processes` processes, each a slice of the cases."""
    ctx = multiprocessing.get_context("spawn")
    share = -(-cases // processes)
    slices = [(i * share, min(share, cases - i * share)) for i in range(processes)]
    began = time.perf_counter()
    with ctx.Pool(processes) as pool:
        counts = pool.starmap(_publish_slice, [(settings, topic, a, n) for a, n in slices if n > 0])
    return sum(counts), time.perf_counter() - began


def _publish_slice(settings: Settings, topic: str, first: int, cases: int) -> int:
    return asyncio.run(publish_history(settings, topic, cases, first=first))[0]


async def publish_history(
    settings: Settings, topic: str, cases: int, *, first: int = 0
) -> tuple[int, float]:
    contract = await Contract.open(settings)
    producer = make_producer(settings.kafka, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    began = time.perf_counter()
    records = 0
    try:
        routes: dict[str, Any] = {}
        for start in range(first, first + cases, CHUNK):
            n = min(CHUNK, first + cases - start)
            chunk = office_day(n, with_openings=True, first=start)
            for name, _ in chunk:
                routes.setdefault(name, TopicRoute(topic, "contact_id"))
            publisher = contract.publisher(producer, source="/bench", routes=routes)
            await publisher.publish_many(chunk)
            records += len(chunk)
            if (start - first) // CHUNK % 10 == 0:
                rate = records / (time.perf_counter() - began)
                print(f"  published {records:,} records ({rate:,.0f}/s)", flush=True)
    finally:
        await producer.stop()
        await contract.close()
    return records, time.perf_counter() - began


async def _records(settings: Settings, topic: str) -> int:
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in await topic_partitions(settings.kafka, topic)]
        starts = await consumer.beginning_offsets(parts)
        ends = await consumer.end_offsets(parts)
        return sum(ends[tp] - starts[tp] for tp in parts)
    finally:
        await consumer.stop()


async def raw_copy(
    settings: Settings, rebuilt: str, *, indexes_after: bool = False
) -> tuple[float, int]:
    """Dump the rebuilt tables, load them into a freshly migrated schema; the load's time.
    `indexes_after`: drop the secondary indexes before the load and build them after it,
    inside the time (what the rebuild's bulk phase does)."""
    conn = await connect(settings.postgres)
    target = f"bench_copy_{uuid.uuid4().hex[:6]}"
    rows = 0
    try:
        await migrations.migrate(conn, target)
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for table in TABLES:
                path = os.path.join(tmp, f"{table}.bin")
                columns = await _columns(conn, rebuilt, table)
                await conn.copy_from_table(
                    table, schema_name=rebuilt, columns=columns, output=path, format="binary"
                )
                files[table] = (path, columns)
                rows += await conn.fetchval(f'SELECT count(*) FROM "{rebuilt}"."{table}"')
            began = time.perf_counter()
            async with conn.transaction():
                deferred = await drop_secondary_indexes(conn, target) if indexes_after else []
                for table, (path, columns) in files.items():
                    await conn.copy_to_table(
                        table, schema_name=target, columns=columns, source=path, format="binary"
                    )
            await build_indexes(settings, deferred)  # as the rebuild does, once loaded
            return time.perf_counter() - began, rows
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
        await conn.close()


async def _columns(conn: Any, schema: str, table: str) -> list[str]:
    found = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1"
        " AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position",
        schema,
        table,
    )
    return [r["column_name"] for r in found]


async def live_projection(settings: Settings, topic: str, records: int) -> tuple[int, float]:
    contract = await Contract.open(settings)
    schema = f"bench_live_{uuid.uuid4().hex[:6]}"
    projector = Projector(
        settings,
        contract,
        CaseProjection(),
        schema=schema,
        topic=topic,
        group_id=f"bench.live.{schema}",
    )
    await projector.start()
    conn = await connect(settings.postgres)
    try:
        began = time.perf_counter()
        idle = 0
        while projector.stats.records < records and idle < 5:
            # A step reads nothing at the end of the log, or when it rewinds after a rebalance.
            idle = 0 if await projector.step(timeout_ms=1000) else idle + 1
        return projector.stats.records, time.perf_counter() - began
    finally:
        await projector.stop()
        await contract.close()
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    cases = -(-args.messages // MESSAGES_PER_CASE)
    topic = args.topic or f"bench.rebuild.{uuid.uuid4().hex[:6]}"
    schema = f"bench_rebuilt_{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings.kafka, [TopicSpec(topic, 12)])
    try:
        print(f"# {cases:,} cases, {cases * MESSAGES_PER_CASE:,} messages, topic {topic}")
        held = await _records(settings, topic)
        if held:
            print(f"history: {held:,} records already in {topic}")
        else:
            records, took = await asyncio.to_thread(
                publish_in_parallel, settings, topic, cases, args.publishers
            )
            print(
                f"history: {records:,} records published in {took:.0f} s ({records / took:,.0f}/s)"
            )
        if args.history_only:
            return
        if args.live_only:
            n, live_s = await live_projection(settings, topic, args.live_records)
            print(f"live projector: {n:,} records in {live_s:.1f} s ({n / live_s:,.0f} records/s)")
            return
        last = [0.0]

        def show(p: Progress) -> None:
            if p.elapsed_s - last[0] >= 10:
                last[0] = p.elapsed_s
                print(f"  rebuild {p.done:,}/{p.total:,} ({p.rate:,.0f}/s)", flush=True)

        began = time.perf_counter()
        report = await rebuild(
            settings,
            schema=schema,
            topics={"cases": topic},
            workers=args.workers,
            on_progress=show,
        )
        total_s = time.perf_counter() - began
        rows = sum(report.rows.values())
        print(
            f"rebuild: {report.events:,} records in {total_s:.1f} s ({report.events / total_s:,.0f}"
            f" records/s; replay {report.bulk_s:.1f} s, catch-up {report.catch_up_s:.1f} s,"
            f" switch {report.switch_s * 1000:.0f} ms; {report.workers} workers)"
        )
        print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in report.rows.items() if n))
        ceilings = []
        for indexes_after in (False, True):
            copy_s, copied = await raw_copy(settings, schema, indexes_after=indexes_after)
            how = "secondary indexes built after" if indexes_after else "indexes kept"
            print(
                f"raw COPY of the same {copied:,} rows into the same tables ({how}):"
                f" {copy_s:.1f} s ({copied / copy_s:,.0f} rows/s; {report.events / copy_s:,.0f}"
                f" records/s)"
            )
            ceilings.append(copy_s)
        copy_s = min(ceilings)
        print(f"rebuild vs ceiling (the faster load): {copy_s / total_s:.2f}x  (rows {rows:,})")
        if args.live_records:
            n, live_s = await live_projection(settings, topic, args.live_records)
            print(
                f"live projector: {n:,} records in {live_s:.1f} s ({n / live_s:,.0f} records/s,"
                f" {n / live_s / (report.events / total_s):.2f}x the rebuild)"
            )
    finally:
        if not args.keep and not args.topic:
            conn = await connect(settings.postgres)
            try:
                for name in (schema, f"{schema}_previous", f"{schema}_rebuild"):
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            finally:
                await conn.close()
            await delete_topics(settings.kafka, [topic])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--live-records", type=int, default=1_000_000)
    parser.add_argument("--publishers", type=int, default=2, help="processes publishing")
    parser.add_argument("--keep", action="store_true", help="keep the topic and schemas")
    parser.add_argument(
        "--topic", help="the history's topic: reused when it holds records, kept afterwards"
    )
    parser.add_argument("--history-only", action="store_true", help="publish the history and stop")
    parser.add_argument("--live-only", action="store_true", help="measure the live projector only")
    asyncio.run(main(parser.parse_args()))
