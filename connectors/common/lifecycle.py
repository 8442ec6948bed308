"""How a connector's loops live and die together.

A connector runs several loops side by side (its HTTP or SMTP face, the outbound loop, an
IMAP poller). One failing must stop them all: a connector half up would take input in and
never deliver replies, and its health check would still answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def stop_all_on_failure(loop: Awaitable[None], stop: asyncio.Event) -> None:
    """Run one of a service's loops; if it fails, set `stop` so the others stop too, then
    let the failure through (to the service's task group)."""
    try:
        await loop
    except BaseException:
        stop.set()
        raise
