"""Encode and decode rates of acolhe's event codec, against orjson in the same run.

    .venv/bin/python -m bench.bench_codec [--n 50000] [--json]

For each sample event it measures, single-threaded, in events/s:
- `orjson`: orjson.dumps / orjson.loads of the same record (the baseline: a fast,
  schemaless JSON codec; personal fields in clear, no framing);
- `avro`: fastavro's schemaless writer/reader alone, personal fields already sealed bytes;
- `acolhe`: the codec, with framing, schema resolution and, for events with personal
  fields, AES-GCM sealing/opening of each of them; `peek` reads only the frame and the
  envelope's event_id and occurred_at (compared with orjson's full decode);
- `read`: the event as its Python type, by the compiled reader (`Codec.read`), against the
  general path (`decode`, then `from_record`) in the same run.
Ratios are against orjson measured in the same process, so they compare across machines.
"""

from __future__ import annotations

import argparse
import io
import platform
import time
from collections.abc import Callable
from typing import Any

import fastavro  # the bench measures the library under the codec as one of its baselines
import orjson

from bench.samples import message_received, routing_decided
from schemas.codec import Codec, SchemaSet
from schemas.events import EVENT_TYPES
from schemas.personal import InMemoryKeyRing


def rate(fn: Callable[[int], object], n: int) -> float:
    """Calls per second of fn(i) over n calls (best of 3 runs)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, time.perf_counter() - started)
    return n / best


def measure(name: str, make: Callable[[int], dict[str, Any]], n: int) -> dict[str, float]:
    codec = Codec(SchemaSet.from_dirs())
    ring = InMemoryKeyRing()
    schema = codec.schemas.current(name)
    records = [make(i) for i in range(n)]
    encoded = [codec.encode(name, r, ring) for r in records]
    sealed = [codec.decode(b).record for b in encoded]  # personal fields as sealed bytes
    as_json = [orjson.dumps(r) for r in records]
    avro_bodies = [b[10:] for b in encoded]
    parsed = schema.parsed

    def avro_write(i: int) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, sealed[i])
        return out.getvalue()

    return {
        "orjson_encode": rate(lambda i: orjson.dumps(records[i]), n),
        "orjson_decode": rate(lambda i: orjson.loads(as_json[i]), n),
        "avro_encode": rate(avro_write, n),
        "avro_decode": rate(
            lambda i: fastavro.schemaless_reader(io.BytesIO(avro_bodies[i]), parsed), n
        ),
        "acolhe_encode": rate(lambda i: codec.encode(name, records[i], ring), n),
        "acolhe_decode": rate(lambda i: codec.decode(encoded[i], ring), n),
        "acolhe_peek": rate(lambda i: codec.peek(encoded[i]), n),
        "acolhe_read": rate(lambda i: codec.read(encoded[i], ring), n),
        "acolhe_decode_event": rate(
            lambda i: EVENT_TYPES[name].from_record(codec.decode(encoded[i], ring).record), n
        ),
        "bytes_json": sum(map(len, as_json)) / n,
        "bytes_acolhe": sum(map(len, encoded)) / n,
        "personal_fields": float(len(schema.personal)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {
        "MessageReceived (personal fields sealed)": measure(
            "MessageReceived", message_received, args.n
        ),
        "RoutingDecided (no personal fields)": measure("RoutingDecided", routing_decided, args.n),
    }
    if args.json:
        print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
        return
    machine = platform.processor() or platform.machine()
    print(f"# {machine}, Python {platform.python_version()}, n={args.n}")
    for event, r in results.items():
        print(f"\n{event}: {r['bytes_acolhe']:.0f} bytes Avro vs {r['bytes_json']:.0f} bytes JSON")
        print(f"  {'':8} {'orjson':>12} {'avro only':>12} {'acolhe':>12} {'acolhe/orjson':>14}")
        for op in ("encode", "decode"):
            o, a, c = r[f"orjson_{op}"], r[f"avro_{op}"], r[f"acolhe_{op}"]
            print(f"  {op:8} {o:>10,.0f}/s {a:>10,.0f}/s {c:>10,.0f}/s {c / o:>13.2f}x")
        peek = r["acolhe_peek"]
        print(
            f"  {'peek':8} {'':>12} {'':>12} {peek:>10,.0f}/s {peek / r['orjson_decode']:>13.2f}x"
        )
        read, general = r["acolhe_read"], r["acolhe_decode_event"]
        print(
            f"  {'read':8} compiled {read:,.0f}/s vs decode + from_record {general:,.0f}/s:"
            f" {read / general:.2f}x"
        )


if __name__ == "__main__":
    main()
