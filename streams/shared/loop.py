"""The event loop acolhe's long-running services run on.

`acolhe run` serves on uvloop's loop (libuv, by asyncpg's authors) where it is installed
(Linux and macOS): the same asyncio API, with the transports, callbacks and timers in C.
Measured on the WhatsApp connector, two connector processes side by side fed alternating
bursts of webhooks (`python -m bench.bench_webhooks --compare-loops`): 377 us of CPU a
request on asyncio's loop, 349 us on uvloop's (BENCHMARKS.md). `bench_webhooks` runs its
servers on this loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, on uvloop's loop when uvloop is installed."""
    try:
        import uvloop  # absent where it does not build (Windows)
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
