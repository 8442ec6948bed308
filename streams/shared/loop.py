"""The event loop acolhe's long-running services run on.

`acolhe run` serves on uvloop's loop (libuv, by asyncpg's authors) where it is installed
(Linux and macOS): the same asyncio API, with the transports, callbacks and timers in C.
Measured on the WhatsApp connector, two connector processes side by side fed alternating
bursts of webhooks (`python -m bench.bench_webhooks --compare-loops`): 377 us of CPU a
request on asyncio's loop, 349 us on uvloop's (BENCHMARKS.md). `bench_webhooks` runs its
servers on this loop.

Before the loop starts, the garbage collector is tuned for a long-running service:
- `gc.freeze()`: what exists once the modules are imported (hundreds of thousands of
  objects: aiokafka, aiohttp, faust, the schemas) moves to a permanent generation that no
  collection traverses again; it is never garbage;
- young collections every 20,000 net allocations instead of 700 (the default ran one every
  few webhooks), the middle generation after 20 of them and the oldest after 50 of those
  (defaults 10 and 10; Python still waits for the long-lived objects to grow by a quarter).
  Only garbage in reference cycles waits longer, bounded by these counts; everything else
  is freed at once by reference counting, as before.
Measured with `python -m bench.bench_webhooks --against <checkout without it>`: 303 us
of CPU a webhook against 372 (0.81x), side by side in one run (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

T = TypeVar("T")


YOUNG_THRESHOLD: Final = 20_000


def tune_gc() -> None:
    """The collector's settings for a long-running service (module docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 50)


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, on uvloop's loop when uvloop is installed."""
    tune_gc()
    try:
        import uvloop  # absent where it does not build (Windows)
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
