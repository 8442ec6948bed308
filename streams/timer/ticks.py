"""What a tick is, as pure functions: its sequence number and event id come from its time.

A tick's sequence is the number of whole intervals since the Unix epoch, so a restarted
timer, or two timers running at once, produce the same ids for the same instant and
downstream drops the copies. Must not depend on Kafka or the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.envelope import derive_event_id
from schemas.events import ClockTicked

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def tick_at(sequence: int, interval: timedelta) -> datetime:
    return EPOCH + sequence * interval


def sequence_at(now: datetime, interval: timedelta) -> int:
    """The sequence of the last tick at or before `now`."""
    return (now - EPOCH) // interval


def make_tick(sequence: int, interval: timedelta, source: str) -> ClockTicked:
    at = tick_at(sequence, interval)
    event_id = derive_event_id(
        "streams.timer", source, str(int(interval.total_seconds() * 1000)), str(sequence)
    )
    return ClockTicked(
        event_id=event_id,
        occurred_at=at,
        correlation_id=event_id,
        causation_id=None,
        source=source,
        sequence=sequence,
        tick_at=at,
        interval_ms=int(interval.total_seconds() * 1000),
    )


def due(last_sent: int | None, now: datetime, interval: timedelta) -> int | None:
    """The tick to send now, if any: the latest one not sent yet. After a pause the timer
    sends one tick for the present, not every missed one: the processors handle a jump."""
    current = sequence_at(now, interval)
    if last_sent is not None and current <= last_sent:
        return None
    return current
