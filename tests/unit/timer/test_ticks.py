"""Ticks are named by their time, so restarts and twin timers agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.timer.ticks import due, make_tick, sequence_at, tick_at

SECOND = timedelta(seconds=1)


def test_a_tick_is_the_last_interval_boundary_before_now() -> None:
    now = datetime(2026, 11, 28, 12, 0, 0, 700_000, tzinfo=UTC)

    sequence = sequence_at(now, SECOND)

    assert tick_at(sequence, SECOND) == datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def test_two_timers_at_the_same_instant_make_the_same_tick() -> None:
    assert make_tick(1_795_000_000, SECOND, "timer-1") == make_tick(
        1_795_000_000, SECOND, "timer-1"
    )
    assert make_tick(1, SECOND, "timer-1").event_id != make_tick(2, SECOND, "timer-1").event_id


def test_nothing_is_due_twice_and_a_pause_sends_only_the_present() -> None:
    t0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    first = due(None, t0, SECOND)
    assert first is not None

    assert due(first, t0 + timedelta(milliseconds=300), SECOND) is None
    assert due(first, t0 + timedelta(seconds=1), SECOND) == first + 1
    assert due(first, t0 + timedelta(minutes=5), SECOND) == first + 300
