"""Exporting a history for analysts (`acolhe export`), against reading the same records
from Kafka and doing nothing with them, measured in the same run.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_export [--messages 200000] [--topic NAME]
        [--format avro --format parquet] [--personal pseudonymize] [--keep]

1. History: bench_rebuild's office-day case lives (42 messages a case, with WhatsApp's
   statuses, the routing copies and the openings; 121 records a case), sealed and published
   to a 12-partition topic like acolhe.conversations; reused when `--topic` holds records.
2. Ceiling: a plain consumer, with the export's own options (`make_consumer`, batches of
   `exporter.MAX_RECORDS`), reads every record of the topic, partition after partition, and
   does nothing with them: what Kafka and aiokafka cost before anything is decoded.
3. Export: `streams.export.exporter.export` of every event type on acolhe.conversations,
   read from that topic, into a temporary folder, in the given formats (default avro and
   parquet, as `acolhe export`) with personal fields pseudonymized (the default).

Prints records/s of each and the export's share of the ceiling (read time / export time).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import TopicPartition

from bench.bench_rebuild import MESSAGES_PER_CASE, _records, publish_in_parallel
from streams.export.exporter import MAX_RECORDS, export
from streams.export.plan import ExportOptions
from streams.shared.contract import Contract
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_consumer,
    topic_partitions,
)
from streams.shared.settings import Settings

CONVERSATIONS = "acolhe.conversations"


async def read_ceiling(settings: Settings, topic: str) -> tuple[int, float]:
    """Every record of `topic`, read and dropped, partition after partition."""
    consumer = make_consumer(
        settings.kafka,
        group_id=None,
        max_poll_records=MAX_RECORDS,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in await topic_partitions(settings.kafka, topic)]
        ends = await consumer.end_offsets(parts)
        began = time.perf_counter()
        read = 0
        for tp in parts:
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=MAX_RECORDS)
                read += sum(len(records) for records in batch.values())
        return read, time.perf_counter() - began
    finally:
        await consumer.stop()


async def run_export(
    settings: Settings, topic: str, out: Path, formats: tuple[str, ...], personal: str
) -> tuple[int, int, float]:
    contract = await Contract.open(settings)
    try:
        options = ExportOptions(
            out_dir=out,
            topics=(CONVERSATIONS,),
            topic_names={CONVERSATIONS: topic},
            formats=formats,  # type: ignore[arg-type]
            personal=personal,  # type: ignore[arg-type]
        )
        began = time.perf_counter()
        report = await export(settings, contract, options)
        seconds = time.perf_counter() - began
    finally:
        await contract.close()
    written = sum(t.events for t in report.types.values())
    return report.records_read, written, seconds


async def main(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    cases = -(-args.messages // MESSAGES_PER_CASE)
    topic = args.topic or f"bench.export.{uuid.uuid4().hex[:6]}"
    formats = tuple(args.format or ("avro", "parquet"))
    await ensure_topics(settings.kafka, [TopicSpec(topic, 12)])
    try:
        held = await _records(settings, topic)
        if held:
            print(f"history: {held:,} records already in {topic}")
        else:
            print(f"# {cases:,} cases, {cases * MESSAGES_PER_CASE:,} messages, topic {topic}")
            published, seconds = publish_in_parallel(settings, topic, cases, args.publishers)
            print(f"history: {published:,} records published in {seconds:.0f} s")
        read, read_s = await read_ceiling(settings, topic)
        print(
            f"ceiling: {read:,} records read and dropped in {read_s:.1f} s: {read / read_s:,.0f}/s"
        )
        with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
            got, written, export_s = await run_export(
                settings, topic, Path(tmp) / "out", formats, args.personal
            )
            size = sum(f.stat().st_size for f in (Path(tmp) / "out").iterdir())
        print(
            f"export ({' + '.join(formats)}, personal {args.personal}): {got:,} records read, "
            f"{written:,} events written ({size / 1e6:,.1f} MB) in {export_s:.1f} s: "
            f"{got / export_s:,.0f} records/s"
        )
        print(f"export vs ceiling: {read_s / export_s:.2f}x")
    finally:
        if not args.keep and not args.topic:
            await delete_topics(settings.kafka, [topic])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--topic", help="the history's topic: reused when it holds records")
    parser.add_argument(
        "--format", action="append", choices=("avro", "parquet", "csv"), help="(repeat)"
    )
    parser.add_argument("--personal", choices=("omit", "pseudonymize"), default="pseudonymize")
    parser.add_argument("--publishers", type=int, default=2, help="processes publishing")
    parser.add_argument("--keep", action="store_true", help="keep the topic")
    asyncio.run(main(parser.parse_args()))
