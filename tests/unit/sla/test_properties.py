"""Invariants of the SLA clocks over any timeline of replies, messages, holds, ticks and closing.

(a) The outcome of every clock (warned, breached, met and the counted time at the goal)
    equals a direct computation from the timeline: `business_seconds` summed over the
    intervals in which the clock ran. It shares no code with the clocks but the calendar.
(b) Replaying the same events gives the same outputs, also across a snapshot and restore,
    and redelivering every event right after itself changes nothing.
(c) Ticks every minute or one tick at the end give the same events at the same instants:
    only the causes (and so the event ids) differ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.envelope import derive_event_id
from schemas.events import (
    CaseClosed,
    CasePutOnHold,
    CaseQueued,
    CaseResumed,
    ClockTicked,
    HoldReason,
    MessageReceived,
    MessageSent,
    Priority,
    SlaBreached,
    SlaMet,
    SlaMetric,
    SlaStarted,
    SlaWarned,
)
from streams.shared import snapshots
from streams.sla.calendar import business_seconds
from streams.sla.clocks import CaseClocks, Input, Output, clock_id_for
from streams.sla.policy import PRIORITIES

from . import builders as b

HOLDS: tuple[HoldReason, ...] = (
    "waiting_on_citizen",
    "documents_pending",
    "external",
    "inactivity",
)
KINDS = ("agent", "citizen", "bot", "resume", "tick", *(f"hold:{r}" for r in HOLDS))
BASE = b.sp(2, 9)  # a Monday a week before Carnival; timelines reach past Good Friday

Step = tuple[str, int]


def steps(max_gap: int) -> st.SearchStrategy[list[Step]]:
    gap = st.one_of(st.integers(0, 20), st.integers(0, 240), st.integers(0, max_gap))
    return st.lists(st.tuples(st.sampled_from(KINDS), gap), max_size=14)


@dataclass(frozen=True)
class Timeline:
    events: list[Input]
    end: datetime


def timeline(
    start_minutes: int, queue_id: str, priority: Priority, plan: Sequence[Step], close: bool
) -> Timeline:
    """Concrete events, in time order, each with its own id; a tick at the end."""
    t0 = BASE + timedelta(minutes=start_minutes)
    events: list[Input] = [b.opened(t0), b.queued(t0, queue_id, priority)]
    now = t0
    for i, (kind, gap) in enumerate(plan):
        now += timedelta(minutes=gap)
        events.append(_event(kind, now, i))
    if close:
        events.append(b.closed(now))
    end = now + timedelta(hours=3)
    events.append(b.tick(end))
    unique = [
        dataclasses.replace(e, event_id=derive_event_id("prop", str(i)))
        for i, e in enumerate(events)
    ]
    return Timeline(unique, end)


def _event(kind: str, at: datetime, i: int) -> Input:
    if kind == "agent":
        return b.replied(at, n=i)
    if kind == "bot":
        return b.replied(at, "bot", n=i)
    if kind == "citizen":
        return b.wrote(at, i)
    if kind == "resume":
        return b.resumed(at)
    if kind == "tick":
        return b.tick(at)
    reason = next(r for r in HOLDS if kind == f"hold:{r}")
    return b.held(at, reason)


cases = st.builds(
    timeline,
    start_minutes=st.integers(0, 60 * 24 * 50),
    queue_id=st.sampled_from((b.GENERAL, b.URGENT)),
    priority=st.sampled_from(PRIORITIES),
    plan=steps(60 * 24 * 4),
    close=st.booleans(),
)


# (a) The reference: intervals and business_seconds ----------------------------------------


@dataclass
class Outcome:
    warned: bool = False
    breached: bool = False
    met: bool = False
    within_target: bool | None = None
    elapsed_ms: int | None = None


@dataclass
class _Running:
    clock_id: str
    metric: SlaMetric
    used_us: int = 0


def reference(line: Timeline) -> dict[str, Outcome]:
    """Each clock's outcome, straight from the definitions."""
    opening, queuing, *rest = line.events
    assert isinstance(queuing, CaseQueued)
    queue_policy = b.POLICY.for_queue(queuing.queue_id)
    priority = queuing.priority
    pauses = queue_policy.pause_reasons
    outcomes: dict[str, Outcome] = {}
    clocks = [
        _Running(clock_id_for(b.CASE, metric, opening.event_id), metric)
        for metric in ("first_response", "resolution")
    ]
    waiting: HoldReason | None = None
    on_hold = answered = False
    last = opening.occurred_at

    def terms(metric: SlaMetric) -> tuple[int, int]:
        found = queue_policy.targets[(priority, metric)]
        return found.warning_us, found.target_us

    def judge(clock: _Running, met: bool) -> None:
        warning, target = terms(clock.metric)
        breached = clock.used_us >= target
        outcomes[clock.clock_id] = Outcome(
            warned=clock.used_us >= warning,
            breached=breached,
            met=met,
            within_target=(not breached) if met else None,
            elapsed_ms=clock.used_us // 1000 if met else None,
        )

    for event in [*rest]:
        at = event.tick_at if isinstance(event, ClockTicked) else event.occurred_at
        if waiting is None or waiting not in pauses:
            cal = b.POLICY.calendar(queue_policy.calendar_id)
            for clock in clocks:
                clock.used_us += round(business_seconds(cal, last, at) * 1_000_000)
        last = at
        if isinstance(event, MessageSent) and event.sender_kind == "agent":
            for clock in [c for c in clocks if c.metric != "resolution"]:
                judge(clock, met=True)
                clocks.remove(clock)
            answered = True
            waiting = waiting if on_hold else "waiting_on_citizen"
        elif isinstance(event, MessageReceived):
            if waiting is not None and not on_hold:
                waiting = None
            if answered and not any(c.metric == "next_response" for c in clocks):
                clocks.insert(
                    0,
                    _Running(
                        clock_id_for(b.CASE, "next_response", event.event_id), "next_response"
                    ),
                )
        elif isinstance(event, CasePutOnHold):
            waiting, on_hold = event.reason, True
        elif isinstance(event, CaseResumed) and on_hold:
            waiting, on_hold = None, False
        elif isinstance(event, CaseClosed):
            for clock in clocks:
                judge(clock, met=True)
            clocks = []
    for clock in clocks:
        judge(clock, met=False)
    return outcomes


def observed(outputs: Sequence[Output]) -> dict[str, Outcome]:
    found = {e.clock_id: Outcome() for e in outputs if isinstance(e, SlaStarted)}
    for e in outputs:
        outcome = found[e.clock_id]
        if isinstance(e, SlaWarned):
            outcome.warned = True
        elif isinstance(e, SlaBreached):
            outcome.breached = True
        elif isinstance(e, SlaMet):
            outcome.met, outcome.within_target, outcome.elapsed_ms = (
                True,
                e.within_target,
                e.elapsed_ms,
            )
    return found


@settings(max_examples=300, deadline=None)
@given(cases)
def test_every_clock_outcome_equals_the_business_time_of_its_running_intervals(
    line: Timeline,
) -> None:
    _, outputs = b.when(None, line.events)

    assert observed(outputs) == reference(line)


# (b) Replay -------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(cases, st.integers(0, 20))
def test_a_replay_gives_the_same_outputs_even_across_a_snapshot(line: Timeline, cut: int) -> None:
    once = b.when(None, line.events)
    again = b.when(None, line.events)
    head, tail = line.events[:cut], line.events[cut:]
    state, before = b.when(None, head)
    restored = None if state is None else snapshots.load(CaseClocks, snapshots.dump(state))
    final, after = b.when(restored, tail)

    assert once == again
    assert before + after == once[1]
    assert final == once[0]


@settings(max_examples=100, deadline=None)
@given(cases)
def test_every_event_delivered_twice_changes_nothing(line: Timeline) -> None:
    twice = [e for event in line.events for e in (event, event)]

    assert b.when(None, twice) == b.when(None, line.events)


# (c) Tick rates ---------------------------------------------------------------------------


def _every_minute(line: Timeline) -> list[Input]:
    """The timeline with a tick at every whole minute from the opening to the end."""
    start = line.events[0].occurred_at
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    merged: list[Input] = []
    for event in line.events:
        at = event.tick_at if isinstance(event, ClockTicked) else event.occurred_at
        while minute <= at:
            merged.append(b.tick(minute))
            minute += timedelta(minutes=1)
        merged.append(event)
    return merged


def _without_causes(outputs: Sequence[Output]) -> list[Output]:
    return [dataclasses.replace(e, event_id="", causation_id=None) for e in outputs]


short_cases = st.builds(
    timeline,
    start_minutes=st.integers(0, 60 * 24 * 50),
    queue_id=st.sampled_from((b.GENERAL, b.URGENT)),
    priority=st.sampled_from(PRIORITIES),
    plan=steps(60 * 8),
    close=st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(short_cases)
def test_ticks_every_minute_or_only_at_the_end_give_the_same_events_at_the_same_instants(
    line: Timeline,
) -> None:
    sparse = [e for e in line.events if not isinstance(e, ClockTicked)] + [b.tick(line.end)]

    _, dense_out = b.when(None, _every_minute(line))
    _, sparse_out = b.when(None, sparse)

    assert _without_causes(dense_out) == _without_causes(sparse_out)
