"""One rebuild job in this process: the CPU a record costs the bulk phase's worker.

    .venv/bin/python -m bench.bench_rebuild_job --topic bench.rebuild.history5m
        [--records 600000] [--partition 0]

Replays the first `--records` records of one partition of a history topic (made by
`bench.bench_rebuild --history-only`) exactly as a rebuild worker does
(`streams.projections.rebuild_worker._replay`: fetch, read, fold in memory, one COPY per table),
into a scratch schema dropped afterwards, and prints wall time and CPU time per record.
CPU time (`time.process_time`) is the figure to compare between changes: it is what two
workers share two cores with, and other work on the machine disturbs it least.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

from streams.projections import migrations
from streams.projections.rebuild_worker import FETCH, Job, _contract, _replay
from streams.shared.kafka import make_consumer
from streams.shared.postgres import connect
from streams.shared.settings import Settings

SCHEMA = "bench_rebuild_job"


class _NoProgress:
    def put(self, n: int) -> None:
        pass


async def main(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    conn = await connect(settings.postgres)
    await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    await migrations.migrate(conn, SCHEMA)
    await conn.execute("SELECT set_config('acolhe.live_updates', 'off', false)")
    contract, close = await _contract(settings, None)
    consumer: Any = make_consumer(
        settings.kafka,
        group_id=None,
        max_poll_records=FETCH,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    if not args.default_gc:
        gc.set_threshold(100_000, 50, 100)  # as a rebuild worker does (`rebuild_worker._work`)
    job = Job("cases", args.topic, args.partition, 0, args.records)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        await _replay(job, contract, consumer, conn, schema=SCHEMA, progress=_NoProgress())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows = await conn.fetchrow(
            f"SELECT (SELECT count(*) FROM {SCHEMA}.cases) AS cases,"
            f" (SELECT count(*) FROM {SCHEMA}.case_messages) AS messages"
        )
        print(
            f"{args.records:,} records of {args.topic}[{args.partition}]: wall {wall:.1f} s "
            f"({args.records / wall:,.0f}/s), CPU {cpu:.1f} s ({cpu / args.records * 1e6:.1f} us a "
            f"record); rows: {rows['cases']:,} cases, {rows['messages']:,} messages"
        )
    finally:
        await consumer.stop()
        await close()
        await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--partition", type=int, default=0)
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep Python's collector thresholds (as workers did before the fourth session)",
    )
    asyncio.run(main(parser.parse_args()))
