"""The read model's batch writer against a raw COPY of the same rows, in the same run.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_writer [--rows 200000] [--keys 50000] [--batch 5000]

Rows of a small `cases`-like table, `--keys` distinct keys updated over and over (each
row a newer version of its key), written in batches of `--batch`: first with a plain
binary COPY into an unindexed table (the ceiling: Postgres taking rows as fast as it can),
then with `streams.projections.writer.write` (newest row per key, COPY into a staging
table, upsert of newer versions only, the offsets stored in the same transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from streams.projections.writer import Position, Upsert, write
from streams.shared.postgres import connect
from streams.shared.settings import Settings


async def main(total: int, keys: int, batch: int) -> None:
    conn = await connect(Settings.from_env().postgres)
    schema = f"bench_writer_{uuid.uuid4().hex[:6]}"
    await conn.execute(
        f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {schema}.cases (case_id text PRIMARY KEY, status text NOT NULL,
            agent_id text, version bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE {schema}.raw (case_id text, status text, agent_id text, version bigint);
        CREATE TABLE {schema}.projection_offsets (projector text, topic text,
            partition int, next_offset bigint NOT NULL,
            PRIMARY KEY (projector, topic, partition));
        """
    )
    try:
        rows = [(f"case-{i % keys}", "queued", "ana", i) for i in range(total)]
        started = time.perf_counter()
        for i in range(0, total, batch):
            await conn.copy_records_to_table("raw", records=rows[i : i + batch], schema_name=schema)
        raw = total / (time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(0, total, batch):
            upserts = [
                Upsert(
                    "cases",
                    ("case_id",),
                    {"case_id": r[0], "status": r[1], "agent_id": r[2], "version": r[3]},
                )
                for r in rows[i : i + batch]
            ]
            await write(conn, schema, upserts, [Position("bench", 0, i + batch)], projector="b")
        writer = total / (time.perf_counter() - started)
        print(f"# {total:,} rows over {keys:,} keys, batches of {batch:,}")
        print(f"raw COPY (ceiling)                      {raw:>10,.0f} rows/s")
        print(
            f"writer (newest per key, COPY, upsert)   {writer:>10,.0f} rows/s"
            f"  ({writer / raw:.2f}x the ceiling)"
        )
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.keys, args.batch))
