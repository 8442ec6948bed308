"""What faust-streaming costs per event on this machine, against a bare aiokafka consumer.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_faust [--n 20000]

Publishes n small records to a fresh topic, then consumes them three ways, each in a
fresh process: a bare aiokafka consumer (baseline), a faust agent that only counts, and a
faust agent that updates a table per event (what a faust table-backed processor does).
This is why acolhe's processors run on streams/shared/runtime.py: see docs/processing.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

from aiokafka import TopicPartition

from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_consumer,
    make_producer,
)
from streams.shared.settings import Settings

FAUST_APP = """
import os, time, faust
N = int(os.environ["BENCH_N"])
TOPIC = os.environ["BENCH_TOPIC"]
TABLE = os.environ["BENCH_TABLE"] == "1"
app = faust.App("bench-" + os.environ["BENCH_RUN"], broker="kafka://" + os.environ["BENCH_BROKER"],
                store="memory://", topic_partitions=6, topic_replication_factor=1,
                web_enabled=False, producer_acks=-1)
src = app.topic(TOPIC, key_type=bytes, value_type=bytes, key_serializer="raw",
                value_serializer="raw", partitions=6)
counts = app.Table("bench-counts-" + os.environ["BENCH_RUN"], default=int, partitions=6)
seen = {"n": 0, "t0": None}

@app.agent(src)
async def consume(stream):
    async for key, value in stream.items():
        if seen["t0"] is None:
            seen["t0"] = time.perf_counter()
        if TABLE:
            counts[key] += 1
        seen["n"] += 1
        if seen["n"] == N:
            print(f"RATE {N / (time.perf_counter() - seen['t0']):.0f}", flush=True)
            os._exit(0)
"""


async def publish(topic: str, n: int) -> None:
    settings = Settings.from_env()
    await ensure_topics(settings.kafka, [TopicSpec(topic, partitions=6)])
    producer = make_producer(settings.kafka, linger_ms=10)
    await producer.start()
    pending = [await producer.send(topic, b"x" * 200, key=b"k%d" % (i % 500)) for i in range(n)]
    await asyncio.gather(*pending)
    await producer.stop()


async def bare(topic: str, n: int) -> float:
    consumer = make_consumer(Settings.from_env().kafka, group_id=None)
    await consumer.start()
    parts = [TopicPartition(topic, p) for p in range(6)]
    consumer.assign(parts)
    for tp in parts:
        await consumer.seek_to_beginning(tp)
    seen, started = 0, None
    while seen < n:
        batch = await consumer.getmany(timeout_ms=500)
        started = started or time.perf_counter()
        seen += sum(len(v) for v in batch.values())
    await consumer.stop()
    return n / (time.perf_counter() - (started or time.perf_counter()))


def faust_rate(topic: str, n: int, table: bool) -> float:
    run = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"faustbench_{run}.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(FAUST_APP))
        env = dict(
            os.environ,
            BENCH_N=str(n),
            BENCH_TOPIC=topic,
            BENCH_TABLE="1" if table else "0",
            BENCH_RUN=run,
            BENCH_BROKER=Settings.from_env().kafka.bootstrap_servers,
            PYTHONPATH=folder,
        )
        faust = os.path.join(os.path.dirname(sys.executable), "faust")
        done = subprocess.run(
            [faust, "-A", f"faustbench_{run}", "worker", "-l", "warn", "--without-web"],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            cwd=folder,
            check=False,
        )
    for line in done.stdout.splitlines() + done.stderr.splitlines():
        if "RATE" in line:
            return float(line.split("RATE")[1].split()[0])
    raise RuntimeError("faust did not finish:\n" + done.stderr[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    topic = f"bench.faust.{uuid.uuid4().hex[:6]}"
    asyncio.run(publish(topic, args.n))
    try:
        base = asyncio.run(bare(topic, args.n))
        plain = faust_rate(topic, args.n, table=False)
        table = faust_rate(topic, args.n, table=True)
    finally:
        asyncio.run(delete_topics(Settings.from_env().kafka, [topic]))
    print(f"# {args.n} records of 200 bytes, 6 partitions")
    print(f"bare aiokafka consumer             {base:>10,.0f} events/s")
    print(f"faust agent, no table              {plain:>10,.0f} events/s  ({plain / base:.3f}x)")
    print(f"faust agent, one table write each  {table:>10,.0f} events/s  ({table / base:.3f}x)")


if __name__ == "__main__":
    main()
