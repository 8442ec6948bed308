"""The timer service: writes a `ClockTicked` into every partition of each processor's input
topic, so each partition sees time in order with its other events.

Steps of one beat, in order:
1. read the wall clock (the only place acolhe does, for decisions);
2. if a new interval has begun, make its tick (id and sequence derived from its time);
3. send it to every partition of every configured topic and wait for all acknowledgements;
4. count the broadcast in the metrics (streams.shared.metrics), only once it is all acknowledged;
5. sleep until the next interval boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.codec import Codec
from schemas.envelope import cloudevent_headers
from streams.shared.metrics import TimerMetrics
from streams.timer.ticks import due, make_tick, tick_at

log = logging.getLogger(__name__)


class Timer:
    def __init__(
        self,
        producer: Any,
        codec: Codec,
        partitions: dict[str, Sequence[int]],
        *,
        interval: timedelta = timedelta(seconds=1),
        source: str = "timer-1",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._producer = producer
        self._codec = codec
        self._partitions = partitions
        self._interval = interval
        self._source = source
        self._clock = clock
        self.last_sent: int | None = None
        self.metrics = TimerMetrics(partitions)

    async def beat(self) -> int | None:
        """Send the tick that is due, if any; returns its sequence."""
        sequence = due(self.last_sent, self._clock(), self._interval)
        if sequence is None:
            return None
        tick = make_tick(sequence, self._interval, self._source)
        record = tick.to_record()
        value = self._codec.encode(tick.NAME, record)
        headers = cloudevent_headers(
            name=tick.NAME,
            record=record,
            source=f"/acolhe/streams/timer/{self._source}",
            subject=self._source,
            content_type=self._codec.content_type,
        )
        pending = [
            await self._producer.send(
                topic, value=value, key=self._source.encode(), partition=p, headers=headers
            )
            for topic, parts in self._partitions.items()
            for p in parts
        ]
        await asyncio.gather(*pending)
        self.metrics.acknowledged()
        self.last_sent = sequence
        return sequence

    async def run(self, stop: asyncio.Event) -> None:
        """Beat on every interval boundary until `stop` is set."""
        while not stop.is_set():
            sent = await self.beat()
            if sent is not None:
                log.debug("tick sent", extra={"sequence": sent})
            current = self.last_sent if self.last_sent is not None else 0
            wait = (tick_at(current + 1, self._interval) - self._clock()).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.001))
