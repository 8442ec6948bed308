"""The SLA clocks of one case: their state, their arithmetic, and `evolve`, the case as the
clocks see it.

State is kept per case (the shell keys every input by case) and exists only while the case
is open: `evolve` returns None for a case never opened here, and the domain drops the state
when the case closes (every clock stops then), so memory follows the open cases.

A clock counts time in its calendar, only while it runs. It keeps the counted time up to
`running_since` (or up to its pause) and, while it runs, the instants at which it warns and
breaches: the next alarm is a field, never a computation, so `next_deadline` is cheap.
All counted time is in integer microseconds; the events carry milliseconds.

Who waits on whom (mirrors `streams.cases`): an agent's reply leaves the case waiting on the
citizen until the citizen writes again; `CasePutOnHold` puts it on hold for a reason until
`CaseResumed` (which `streams.cases` writes when the citizen's reply ends a hold, or when the
agent holding the case resumes it); an agent's reply does not end a hold. `waiting` is the
reason the move is not the office's, if any.

Idempotency, bounded: the last `SEEN_WINDOW` citizen messages, agent replies, holds and
resumptions are remembered by event id (repeating one of them would start, stop, pause or
resume a clock again); every other input is idempotent by itself (an open case ignores
another `CaseOpened`, a queue or a priority is set, not added, a tick never moves time back).

Must not import Kafka, faust, Postgres, logging or a clock: time comes in the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from schemas.envelope import derive_event_id
from schemas.events import (
    CalendarChanged,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CasePutOnHold,
    CaseQueued,
    CaseReleased,
    CaseReopened,
    CaseResumed,
    CaseTransferred,
    CaseTriaged,
    ClockTicked,
    HoldReason,
    MessageReceived,
    MessageSent,
    Priority,
    SlaBreached,
    SlaMet,
    SlaMetric,
    SlaPaused,
    SlaPolicyChanged,
    SlaResumed,
    SlaStarted,
    SlaWarned,
)
from streams.shared.errors import BadInput
from streams.shared.frozen import replace
from streams.sla.calendar import Calendar, add_business, business_seconds
from streams.sla.policy import Terms

PROCESSOR: Final = "streams.sla"
SEEN_WINDOW: Final = 8
METRIC_ORDER: Final[dict[SlaMetric, int]] = {
    "first_response": 0,
    "next_response": 1,
    "resolution": 2,
    "unknown": 3,
}
_PER_SECOND: Final = 1_000_000

CaseFact = (
    CaseOpened
    | CaseReopened
    | CaseTriaged
    | CaseQueued
    | CaseAssigned
    | CaseReleased
    | CaseTransferred
    | CasePutOnHold
    | CaseResumed
    | CaseClosed
)
Input = CaseFact | MessageReceived | MessageSent | ClockTicked | SlaPolicyChanged | CalendarChanged
"""Every event the SLA clocks read."""
Output = SlaStarted | SlaPaused | SlaResumed | SlaWarned | SlaBreached | SlaMet
"""Every event the SLA clocks write."""


class MisroutedEvent(BadInput):
    """An event for one case reached another case's state: the shell keyed it wrongly."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Clock:
    """One clock run. `elapsed_us` is the counted time up to `running_since` (running) or up
    to `paused_at` (paused); `warn_at`/`breach_at` are the alarms still to ring."""

    metric: SlaMetric
    clock_id: str
    terms: Terms
    elapsed_us: int = 0
    running_since: datetime | None = None
    paused_at: datetime | None = None
    warn_at: datetime | None = None
    breach_at: datetime | None = None
    warned: bool = False
    breached: bool = False

    @property
    def is_running(self) -> bool:
        return self.running_since is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseClocks:
    """An open case as its clocks see it. `checked_until` is the latest instant evaluated:
    time never moves back from it."""

    case_id: str
    correlation_id: str
    contact_id: str | None = None
    queue_id: str | None = None
    priority: Priority = "unknown"
    waiting: HoldReason | None = None
    on_hold: bool = False
    has_response: bool = False
    clocks: tuple[Clock, ...] = ()
    checked_until: datetime
    seen: tuple[str, ...] = ()

    def clock(self, metric: SlaMetric) -> Clock | None:
        return next((c for c in self.clocks if c.metric == metric), None)


def clock_id_for(case_id: str, metric: SlaMetric, started_by: str) -> str:
    """The id of the clock run that `started_by` (an event id) started for the case."""
    return derive_event_id(case_id, PROCESSOR, metric, started_by)


# Clock arithmetic -------------------------------------------------------------------------


def elapsed_at(clock: Clock, at: datetime, cal: Calendar) -> int:
    """Counted microseconds at `at` (not before the clock's last change)."""
    since = clock.running_since
    if since is None:
        return clock.elapsed_us
    return clock.elapsed_us + round(business_seconds(cal, since, at) * _PER_SECOND)


def start(
    metric: SlaMetric, clock_id: str, terms: Terms, at: datetime, cal: Calendar, *, running: bool
) -> Clock:
    """A clock from zero at `at`: running, or paused from the start."""
    warn_at, breach_at = _alarms(terms, 0, at, cal, running=running)
    return Clock(
        metric=metric,
        clock_id=clock_id,
        terms=terms,
        running_since=at if running else None,
        paused_at=None if running else at,
        warn_at=warn_at,
        breach_at=breach_at,
    )


def pause(clock: Clock, at: datetime, cal: Calendar) -> Clock:
    elapsed = elapsed_at(clock, at, cal)
    warn_at, breach_at = _alarms(
        clock.terms, elapsed, at, cal, running=False, warned=clock.warned, breached=clock.breached
    )
    return replace(
        clock,
        elapsed_us=elapsed,
        running_since=None,
        paused_at=at,
        warn_at=warn_at,
        breach_at=breach_at,
    )


def resume(clock: Clock, at: datetime, cal: Calendar) -> Clock:
    warn_at, breach_at = _alarms(
        clock.terms,
        clock.elapsed_us,
        at,
        cal,
        running=True,
        warned=clock.warned,
        breached=clock.breached,
    )
    return replace(clock, running_since=at, paused_at=None, warn_at=warn_at, breach_at=breach_at)


def retarget(clock: Clock, terms: Terms, at: datetime, before: Calendar, after: Calendar) -> Clock:
    """New terms from `at` on: the time counted so far (in the old calendar) is kept, the
    rest counts in the new one; a warning or breach the new terms put before `at` is due at
    `at` (nothing before a change is judged again); one already rung is not rung again."""
    elapsed = elapsed_at(clock, at, before)
    running = clock.is_running
    warn_at, breach_at = _alarms(
        terms, elapsed, at, after, running=running, warned=clock.warned, breached=clock.breached
    )
    return replace(
        clock,
        terms=terms,
        elapsed_us=elapsed,
        running_since=at if running else None,
        warn_at=warn_at,
        breach_at=breach_at,
    )


def rung(clock: Clock, *, breach: bool) -> Clock:
    """The clock once its warning (or breach) has been emitted."""
    if breach:
        return replace(clock, breached=True, breach_at=None, warn_at=None)
    return replace(clock, warned=True, warn_at=None)


def _alarms(
    terms: Terms,
    elapsed_us: int,
    at: datetime,
    cal: Calendar,
    *,
    running: bool,
    warned: bool = False,
    breached: bool = False,
) -> tuple[datetime | None, datetime | None]:
    """(warn_at, breach_at) from `at`, where `elapsed_us` have been counted: the instant the
    remaining time runs out while running; `at` itself when none remains (even paused);
    None for an alarm that has rung already."""
    found: list[datetime | None] = []
    for limit, done in ((terms.warning_us, warned), (terms.target_us, breached)):
        left = limit - elapsed_us
        if done or (left > 0 and not running):
            found.append(None)
        elif left <= 0:
            found.append(at)
        else:
            found.append(add_business(cal, at, left / _PER_SECOND))
    return found[0], found[1]


# The case as the clocks see it ------------------------------------------------------------


def instant_of(event: Input) -> datetime:
    """When an event happens for the clocks: a tick's `tick_at`, a reply's `sent_at` (the
    contract: SLA clocks count a reply from when the agent sent it), a change of calendar's
    `effective_from` (never after it was written: `calendar_change` refuses that), else
    `occurred_at`."""
    if isinstance(event, ClockTicked):
        return event.tick_at
    if isinstance(event, CalendarChanged):
        return event.effective_from
    if isinstance(event, MessageSent):
        return event.sent_at
    return event.occurred_at


def check_routing(state: CaseClocks, event: Input) -> None:
    """Raise MisroutedEvent for an event that names another case or contact."""
    if isinstance(event, ClockTicked | SlaPolicyChanged | CalendarChanged):
        return
    if event.case_id is not None and event.case_id != state.case_id:
        raise MisroutedEvent(
            f"{event.NAME} {event.event_id} is for case {event.case_id}, "
            f"not {state.case_id}: key it by case_id"
        )
    if (
        isinstance(event, MessageReceived | MessageSent)
        and state.contact_id is not None
        and event.contact_id != state.contact_id
    ):
        raise MisroutedEvent(
            f"{event.NAME} {event.event_id} is from contact {event.contact_id}, but case "
            f"{state.case_id} is contact {state.contact_id}'s: key it by that contact's case"
        )


def is_redelivery(state: CaseClocks, event: Input) -> bool:
    return _is_remembered(event) and event.event_id in state.seen


def _is_remembered(event: Input) -> bool:
    """Whether handling `event` twice could change the clocks twice. The bot's messages are
    left out: they change nothing, and there are many of them during triage."""
    if isinstance(event, MessageSent):
        return event.sender_kind == "agent"
    return isinstance(event, MessageReceived | CasePutOnHold | CaseResumed)


def evolve(state: CaseClocks | None, event: Input, at: datetime) -> CaseClocks | None:
    """The case after `event`, evaluated at `at`; None for a case not open here. Clocks are
    carried as they are: the domain starts, stops, pauses and resumes them."""
    if state is None:
        return _opened(event, at)
    if isinstance(event, CaseClosed):
        return None
    state = _on_event(state, event)
    if _is_remembered(event):
        seen = (*state.seen, event.event_id)[-SEEN_WINDOW:]
        return replace(state, seen=seen, checked_until=max(at, state.checked_until))
    return replace(state, checked_until=at) if at > state.checked_until else state


def _opened(event: Input, at: datetime) -> CaseClocks | None:
    if isinstance(event, CaseOpened):
        return CaseClocks(
            case_id=event.case_id,
            correlation_id=event.correlation_id,
            contact_id=event.contact_id,
            checked_until=at,
        )
    if isinstance(event, CaseReopened):
        # The case was answered before it closed: what follows is next responses.
        return CaseClocks(
            case_id=event.case_id,
            correlation_id=event.correlation_id,
            contact_id=event.contact_id,
            has_response=True,
            checked_until=at,
        )
    return None


def _on_event(state: CaseClocks, event: Input) -> CaseClocks:  # noqa: PLR0911
    if isinstance(event, CaseTriaged):
        return replace(state, priority=event.priority)
    if isinstance(event, CaseQueued):
        return replace(state, queue_id=event.queue_id, priority=event.priority)
    if isinstance(event, CaseAssigned | CaseReleased):
        return replace(state, queue_id=event.queue_id)
    if isinstance(event, CaseTransferred):
        return replace(state, queue_id=event.to_queue_id)
    if isinstance(event, CasePutOnHold):
        return replace(state, waiting=event.reason, on_hold=True)
    if isinstance(event, CaseResumed):
        return replace(state, waiting=None, on_hold=False) if state.on_hold else state
    if isinstance(event, MessageSent):
        if event.sender_kind != "agent":
            return state  # the bot's questions and the system's notices answer nothing
        if state.on_hold:
            return replace(state, has_response=True)
        return replace(state, has_response=True, waiting="waiting_on_citizen")
    if isinstance(event, MessageReceived):
        if state.waiting is not None and not state.on_hold:
            return replace(state, waiting=None)
        return state
    return state  # ticks and changes of policy or calendar move no fact of the case
