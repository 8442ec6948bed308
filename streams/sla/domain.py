"""The SLA clocks' decisions: which Sla* events follow from a case's clocks and one event.

The clocks of a case (one of each at most):

- first_response starts when the case opens (`CaseOpened`) and is met by the first reply of
  an agent (`MessageSent` with sender_kind agent; the bot and the system answer nothing).
- next_response starts on a citizen's message once an agent has replied, unless one runs
  already (it measures from the oldest unanswered message), and is met by the next reply.
- resolution starts when the case opens and is met when it closes.
- Closing the case meets every clock still running (`SlaMet`, within_target false after a
  breach): the office's last answer is the closing. The state is then dropped.
- Reopening (`CaseReopened`) starts a new resolution clock, and a next_response clock when
  a citizen's message reopened it; the first run's outcome stands (its state was dropped
  at the close; nothing before a reopening is judged again).

Terms: a clock runs against the target of the case's queue (`"*"` until queued) and
priority (`unknown` until triaged) under `policy`. When they change (triage, routing, an
administrator's `SlaPolicyChanged`) the counted time is kept and the new terms apply from
that instant on; a warning or breach they put in the past is emitted at that instant. A
pair that loses its target keeps running on its old terms. The shell folds each change into
the policy it passes (`policy.apply_change`) and hands the change to every open case.

Calendars: a clock counts in its terms' calendar as `policy` has it. An administrator's
`CalendarChanged` replaces one from its `effective_from` (or the case's `checked_until`,
if later) on: at that instant each clock on that calendar keeps the time counted in the
old calendar (rung first with it) and counts the rest in the new one, exactly like new
terms. The shell passes the policy before the change as `before` and the one after it as
`policy` (`calendar_change.apply_calendar_change`); a clock is moved only where the two
differ, so a change handed twice at one instant moves nothing the second time.

Pauses: a clock runs while the case is open and not waiting for a reason its terms pause
for (see `clocks` for who waits on whom). A clock started while the case waits starts paused.

Alarms: a running clock warns when its counted time reaches the warning and breaches when it
reaches the target, each once. Both are emitted by the first event at or after their instant
(usually a tick; the shell wakes the case at `next_deadline`) with occurred_at the instant
itself and elapsed_ms the counted time then, so every replay and every tick rate gives the
same instants. A goal reached at or after the breach instant is late: the breach is emitted
first, then `SlaMet` with within_target false.

Time: an event's instant is `clocks.instant_of`, never earlier than the latest instant
already evaluated (`checked_until`): a late event counts from then, so time never runs back.

`handle` is the whole step, in order: 1. ring the alarms due by the event's instant (for a
tick, or a message from the bot or the system, that is all); 2. on a close, meet every
clock and drop the state; 3. evolve the case over the event;
4. stop the clocks whose goal the event reached; 5. move clocks to new terms; 6. pause and
resume them; 7. start the clocks the event starts; 8. ring what steps 5-7 made due.

Every output is derived from its cause: event_id = derive_event_id(cause.event_id,
"streams.sla", clock_id, n) for the n-th output of that clock run (0-based; the clock id
names the case and the metric, so a tick that rings many cases gives each its own ids),
causation_id = cause.event_id, correlation_id = the case's (from its opening).

Must not import Kafka, faust, Postgres, logging or a clock: time comes in the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.envelope import derive_event_id
from schemas.events import (
    CalendarChanged,
    CaseClosed,
    CaseOpened,
    CaseReopened,
    ClockTicked,
    HoldReason,
    MessageReceived,
    MessageSent,
    SlaBreached,
    SlaMet,
    SlaMetric,
    SlaPaused,
    SlaPolicyChanged,
    SlaResumed,
    SlaStarted,
    SlaWarned,
)
from streams.shared.frozen import replace
from streams.sla import clocks
from streams.sla.clocks import (
    METRIC_ORDER,
    PROCESSOR,
    CaseClocks,
    Clock,
    Input,
    Output,
    clock_id_for,
    elapsed_at,
)
from streams.sla.policy import DEFAULT_QUEUE, SlaPolicy, apply_change

_MS = timedelta(milliseconds=1)


def decide(
    state: CaseClocks | None, event: Input, policy: SlaPolicy, *, before: SlaPolicy | None = None
) -> list[Output]:
    """The events that follow from `event` given `state`."""
    return handle(state, event, policy, before=before)[1]


def handle(
    state: CaseClocks | None, event: Input, policy: SlaPolicy, *, before: SlaPolicy | None = None
) -> tuple[CaseClocks | None, list[Output]]:
    """The state to keep (None: delete the key) and the events to publish. `before` is the
    policy in force before a `CalendarChanged` (`policy` being the one after it)."""
    if state is None:
        return _open(event, policy)
    clocks.check_routing(state, event)
    if clocks.is_redelivery(state, event):
        return state, []
    if isinstance(event, SlaPolicyChanged):
        policy = apply_change(policy, event)  # the policy itself when it is in force already
    out = _Outputs(event.event_id, max(clocks.instant_of(event), state.checked_until))
    if isinstance(event, CalendarChanged):
        state = _recalendar(state, before or policy, policy, out)
    else:
        state = _ring(state, policy, out)
    if isinstance(event, ClockTicked | CalendarChanged) or _answers_nothing(event):
        return state, out.events  # only time (and calendars): what was due has rung
    if isinstance(event, CaseClosed):
        for clock in state.clocks:
            cal = policy.calendar(clock.terms.calendar_id)
            out.met(state, clock, elapsed_at(clock, out.at, cal))
        return None, out.events
    after = clocks.evolve(state, event, out.at)
    if after is None:
        return None, out.events
    after = _settle(state, after, event, policy, out)
    return _ring(after, policy, out), out.events


def _open(event: Input, policy: SlaPolicy) -> tuple[CaseClocks | None, list[Output]]:
    """A case opened or reopened; any other event of a case not open here keeps nothing."""
    if not isinstance(event, CaseOpened | CaseReopened):
        return None, []
    out = _Outputs(event.event_id, clocks.instant_of(event))
    state = clocks.evolve(None, event, out.at)
    if state is None:
        return None, []
    state = _settle(None, state, event, policy, out)
    return _ring(state, policy, out), out.events


def next_deadline(state: CaseClocks | None) -> datetime | None:
    """The earliest warning or breach still to ring among the case's clocks: the shell's
    alarm for this case, so that a tick visits only the cases with something due."""
    if state is None:
        return None
    earliest: datetime | None = None
    for clock in state.clocks:
        for alarm in (clock.warn_at, clock.breach_at):
            if alarm is not None and (earliest is None or alarm < earliest):
                earliest = alarm
    return earliest


def _settle(
    before: CaseClocks | None,
    state: CaseClocks,
    event: Input,
    policy: SlaPolicy,
    out: _Outputs,
) -> CaseClocks:
    at = out.at
    running: list[Clock] = []
    for clock in state.clocks:
        if _reaches_goal(event, clock.metric):
            cal = policy.calendar(clock.terms.calendar_id)
            out.met(state, clock, elapsed_at(clock, at, cal))
            continue
        moved = clock
        terms = policy.terms(state.queue_id, state.priority, clock.metric)
        if terms is not None and terms is not clock.terms and terms != clock.terms:
            old = policy.calendar(clock.terms.calendar_id)
            moved = clocks.retarget(clock, terms, at, old, policy.calendar(terms.calendar_id))
        running.append(_reconcile(state, moved, policy, out))
    for metric, started_by in _starts(before, state, event):
        terms = policy.terms(state.queue_id, state.priority, metric)
        if terms is None:
            continue  # the policy sets no target for this pair: no clock
        clock = clocks.start(
            metric,
            clock_id_for(state.case_id, metric, started_by),
            terms,
            at,
            policy.calendar(terms.calendar_id),
            running=_should_run(state, terms.pause_reasons),
        )
        out.started(state, clock)
        running.append(clock)
    running.sort(key=lambda c: METRIC_ORDER[c.metric])
    return replace(state, clocks=tuple(running))


def _recalendar(
    state: CaseClocks, before: SlaPolicy, after: SlaPolicy, out: _Outputs
) -> CaseClocks:
    """Move the clocks whose calendar changed to the new one at `out.at`: what was due by
    then rings in the old calendar, the time counted is kept, the rest counts in the new
    one, and what the new one puts at or before `out.at` rings at `out.at`."""
    state = _ring(state, before, out)
    moved = []
    for clock in state.clocks:
        old = before.calendar(clock.terms.calendar_id)
        new = after.calendar(clock.terms.calendar_id)
        changed = new is not old and new != old
        moved.append(clocks.retarget(clock, clock.terms, out.at, old, new) if changed else clock)
    state = replace(state, clocks=tuple(moved), checked_until=max(state.checked_until, out.at))
    return _ring(state, after, out)


def _answers_nothing(event: Input) -> bool:
    """A message from the bot or the system: it moves no clock (and the case's status in
    `streams.cases` neither)."""
    return isinstance(event, MessageSent) and event.sender_kind != "agent"


def _reaches_goal(event: Input, metric: SlaMetric) -> bool:
    return (
        isinstance(event, MessageSent)
        and event.sender_kind == "agent"
        and metric in ("first_response", "next_response")
    )


def _starts(
    before: CaseClocks | None, state: CaseClocks, event: Input
) -> Iterator[tuple[SlaMetric, str]]:
    """The clocks `event` starts, with the id of the event each run is named after."""
    if before is None and isinstance(event, CaseOpened):
        yield "first_response", event.event_id
        yield "resolution", event.event_id
    elif before is None and isinstance(event, CaseReopened):
        if event.reopened_by_message_id:
            yield "next_response", event.reopened_by_message_id
        yield "resolution", event.event_id
    elif (
        isinstance(event, MessageReceived)
        and state.has_response
        and state.clock("next_response") is None
    ):
        yield "next_response", event.event_id


def _should_run(state: CaseClocks, pause_reasons: frozenset[HoldReason]) -> bool:
    return state.waiting is None or state.waiting not in pause_reasons


def _reconcile(state: CaseClocks, clock: Clock, policy: SlaPolicy, out: _Outputs) -> Clock:
    """Pause a running clock the case now pauses, resume a paused one it no longer does."""
    should_run = _should_run(state, clock.terms.pause_reasons)
    if clock.is_running == should_run:
        return clock
    cal = policy.calendar(clock.terms.calendar_id)
    if should_run:
        paused_at = clock.paused_at or out.at
        clock = clocks.resume(clock, out.at, cal)
        out.resumed(state, clock, (out.at - paused_at) // _MS)
    else:
        clock = clocks.pause(clock, out.at, cal)
        out.paused(state, clock)
    return clock


def _ring(state: CaseClocks, policy: SlaPolicy, out: _Outputs) -> CaseClocks:
    """Emit every warning and breach due by `out.at`, in the order of their instants."""
    due: list[tuple[datetime, int, int, int]] = []
    for i, clock in enumerate(state.clocks):
        if clock.warn_at is not None and clock.warn_at <= out.at:
            due.append((clock.warn_at, 0, METRIC_ORDER[clock.metric], i))
        if clock.breach_at is not None and clock.breach_at <= out.at:
            due.append((clock.breach_at, 1, METRIC_ORDER[clock.metric], i))
    if not due:
        return state
    ringing = list(state.clocks)
    for instant, kind, _, i in sorted(due):
        clock = ringing[i]
        elapsed = elapsed_at(clock, instant, policy.calendar(clock.terms.calendar_id))
        clock = clocks.rung(clock, breach=kind == 1)
        ringing[i] = clock
        if kind == 0:
            out.warned(state, clock, instant, elapsed)
        else:
            out.breached(state, clock, instant, elapsed)
    return replace(state, clocks=tuple(ringing), checked_until=max(state.checked_until, out.at))


@dataclass
class _Outputs:
    """Numbers the outputs of one cause per metric and stamps their envelope."""

    cause_id: str
    at: datetime
    events: list[Output] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def _common(
        self,
        state: CaseClocks,
        clock: Clock,
        at: datetime,
        elapsed_us: int,
        deadline_at: datetime | None,
    ) -> dict[str, Any]:
        n = self.counts.get(clock.metric, 0)
        self.counts[clock.metric] = n + 1
        terms = clock.terms
        return {
            # The clock's id is in it: one tick or one change of policy (the same event in
            # every partition) causes outputs for many cases, and each needs its own id.
            "event_id": derive_event_id(self.cause_id, PROCESSOR, clock.clock_id, str(n)),
            "occurred_at": at,
            "correlation_id": state.correlation_id,
            "causation_id": self.cause_id,
            "case_id": state.case_id,
            "clock_id": clock.clock_id,
            "queue_id": state.queue_id or DEFAULT_QUEUE,
            "metric": clock.metric,
            "priority": state.priority,
            "policy_id": terms.policy_id,
            "policy_version": terms.policy_version,
            "calendar_id": terms.calendar_id,
            "target_ms": terms.target_us // 1000,
            "elapsed_ms": elapsed_us // 1000,
            "deadline_at": deadline_at,
        }

    def started(self, state: CaseClocks, clock: Clock) -> None:
        self.events.append(SlaStarted(**self._common(state, clock, self.at, 0, clock.breach_at)))

    def paused(self, state: CaseClocks, clock: Clock) -> None:
        reason = state.waiting or "unknown"
        fields = self._common(state, clock, self.at, clock.elapsed_us, None)
        self.events.append(SlaPaused(**fields, pause_reason=reason))

    def resumed(self, state: CaseClocks, clock: Clock, paused_ms: int) -> None:
        fields = self._common(state, clock, self.at, clock.elapsed_us, clock.breach_at)
        self.events.append(SlaResumed(**fields, paused_ms=paused_ms))

    def warned(self, state: CaseClocks, clock: Clock, at: datetime, elapsed_us: int) -> None:
        fields = self._common(state, clock, at, elapsed_us, clock.breach_at)
        self.events.append(SlaWarned(**fields, warning_ms=clock.terms.warning_us // 1000))

    def breached(self, state: CaseClocks, clock: Clock, at: datetime, elapsed_us: int) -> None:
        self.events.append(SlaBreached(**self._common(state, clock, at, elapsed_us, None)))

    def met(self, state: CaseClocks, clock: Clock, elapsed_us: int) -> None:
        fields = self._common(state, clock, self.at, elapsed_us, None)
        self.events.append(SlaMet(**fields, within_target=not clock.breached))
