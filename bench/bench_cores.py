"""The conversation processor's work without Kafka: where a message's time goes.

    .venv/bin/python -m bench.bench_cores [--contacts 1000]

Each contact says hello and answers the bot's five questions. Measured in one thread,
events/s for: decoding with personal fields opened, the pure core (case lifecycle + triage),
encoding its outputs (sealed), and the three together; `--profile` prints the hottest
functions instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.bench_latency import ANSWERS, message
from schemas.codec import Codec, SchemaSet
from schemas.events import EVENT_TYPES
from schemas.personal import InMemoryKeyRing
from streams.conversation.processor import ConversationCore


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="with --profile: tottime or cumulative")
    args = parser.parse_args()
    codec, ring, core = Codec(SchemaSet.from_dirs()), InMemoryKeyRing(), ConversationCore()
    t0 = datetime(2026, 11, 28, 12, tzinfo=UTC)
    n = args.contacts * len(ANSWERS)
    records = [
        message(i % args.contacts, i // args.contacts, t0 + timedelta(milliseconds=i))
        for i in range(n)
    ]
    encoded = [codec.encode("MessageReceived", r, ring) for r in records]

    started = time.perf_counter()
    events = [
        EVENT_TYPES[d.name].from_record(d.record) for d in (codec.decode(b, ring) for b in encoded)
    ]
    decode = n / (time.perf_counter() - started)

    def run_core() -> list[Any]:
        states: dict[str, Any] = {}
        outputs: list[Any] = []
        for event in events:
            state = states.get(event.contact_id) or core.initial(event.contact_id)
            states[event.contact_id], produced = core.handle(state, event)
            outputs.extend(produced)
        return outputs

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_core)
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(30)
        return
    started = time.perf_counter()
    outputs = run_core()
    pure = n / (time.perf_counter() - started)
    started = time.perf_counter()
    for out in outputs:
        codec.encode(out.NAME, out.to_record(), ring)
    encode = n / (time.perf_counter() - started)
    together = 1 / (1 / decode + 1 / pure + 1 / encode)
    print(f"# {n} messages from {args.contacts} contacts, {len(outputs)} outputs")
    print(f"decode + open personal fields   {decode:>9,.0f} messages/s")
    print(f"pure core (cases + triage)      {pure:>9,.0f} messages/s")
    print(f"encode + seal the outputs       {encode:>9,.0f} messages/s")
    print(f"all three, one thread           {together:>9,.0f} messages/s")


if __name__ == "__main__":
    main()
