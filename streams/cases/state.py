"""A contact's case lifecycle state, and `evolve`: the fold of every event over it.

The state is keyed by contact: one processor partition owns each contact, so every decision
about a contact's cases is taken against all that came before it. It holds one case slot: the
open case, or else the most recently closed one (kept so that a citizen writing again within
the reopening window reopens it). One slot means a contact can never have two open cases.

Idempotency, bounded: the state remembers the last `MESSAGE_WINDOW` inbound messages (event id,
provider message id, provider time) and, past them, only a watermark: the latest provider time
among the forgotten ones. A message in the window, or not newer than the watermark, is a
redelivery. A provider retries the same message with the same provider time, so a retry that
arrives after 64 newer messages of the same contact is still recognised; the price is that a
genuinely new message stamped older than 64 of its successors (an email whose sender's clock
is days behind) joins nothing. Case facts, outbound messages and agents' commands are
remembered the same way (`FACT_WINDOW` ids, for redeliveries after a crash and for this
processor's own events coming back from the log; a command is remembered once decided, so a
redelivery decides nothing); evolving most facts twice is harmless anyway, and a late copy of
a `CaseOpened` is recognised by the contact's last `CASE_MEMORY` case ids, a late
`CaseReopened` by the closing it names. Clock ticks need no memory: a tick only advances
`checked_until`, which never moves back. An erasure needs none either: it moves nothing by
itself (the `CaseClosed` it is decided into does), and a case it closed stays closed, so a
copy of it seen again closes nothing.

Must not import Kafka, faust, Postgres, logging or a clock: time comes in the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from schemas.envelope import derive_event_id
from schemas.events import (
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
    Channel,
    ClockTicked,
    CloseCase,
    CloseReason,
    CommandRefused,
    ErasureRequested,
    HoldReason,
    MessageReceived,
    MessageSent,
    PutCaseOnHold,
    ResumeCase,
    SendReply,
)
from schemas.personal import Erased
from streams.shared.errors import BadInput
from streams.shared.frozen import replace

PROCESSOR: Final = "streams.cases"
MESSAGE_WINDOW: Final = 64
FACT_WINDOW: Final = 32
CASE_MEMORY: Final = 8

CaseStatus = Literal["in_triage", "queued", "assigned", "waiting_on_citizen", "on_hold", "closed"]

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
Command = SendReply | PutCaseOnHold | ResumeCase | CloseCase
"""Agents' commands the lifecycle decides (streams.cases.commands)."""
Input = MessageReceived | MessageSent | ClockTicked | ErasureRequested | CaseFact | Command
"""Every event the lifecycle reads. `ErasureRequested` and `ClockTicked` are written into every
partition of the contacts' topic, so they reach every contact of a partition."""
Output = (
    CaseOpened
    | CaseReopened
    | CaseResumed
    | CasePutOnHold
    | CaseClosed
    | MessageSent
    | CommandRefused
)
"""Every event the lifecycle writes."""


class MisroutedEvent(BadInput):
    """An event for one contact reached another contact's state: the shell keyed it wrongly."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseView:
    """What the lifecycle knows of one case.

    Inactivity is measured in periods: a period starts at the last activity on the case (a
    message either way, a change of status by someone else) and runs the `ladder` of the
    status it started in. A step of the ladder is due at `idle_since + step.after`; it has
    fired once a tick at or after that time was evaluated (`checked_until`), so it fires once
    per period. The ladder's own hold does not start a new period: its close still follows.
    """

    case_id: str
    correlation_id: str
    status: CaseStatus
    opened_at: datetime
    last_citizen_message_at: datetime | None = None
    last_agent_message_at: datetime | None = None
    triaged_at: datetime | None = None
    queue_id: str | None = None
    agent_id: str | None = None
    hold_reason: HoldReason | None = None
    held_since: datetime | None = None
    reminders_sent: int = 0
    closed_at: datetime | None = None
    close_reason: CloseReason | None = None
    idle_since: datetime
    checked_until: datetime
    ladder: str | None

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


@dataclass(frozen=True, kw_only=True, slots=True)
class SeenMessage:
    event_id: str
    provider_message_id: str
    received_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ContactState:
    """One contact (one citizen as seen by one channel) and its current or last case."""

    contact_id: str
    citizen_id: str | None = None
    channel: Channel | None = None
    contact_address: str | Erased | None = None
    channel_account_id: str | None = None
    thread_id: str | None = None
    case: CaseView | None = None
    case_ids: tuple[str, ...] = ()
    seen_messages: tuple[SeenMessage, ...] = ()
    forgotten_before: datetime | None = None
    seen_facts: tuple[str, ...] = ()


def case_id_for(message: MessageReceived) -> str:
    """The id of the case a message opens; a redelivery of the message yields the same id."""
    return derive_event_id(message.event_id, PROCESSOR, "case")


def reminder_message_id(case_id: str, number: int) -> str:
    """The message id of a case's n-th inactivity reminder (1-based), stable across retries."""
    return derive_event_id(case_id, PROCESSOR, "reminder", str(number))


def is_redelivery(state: ContactState, message: MessageReceived) -> bool:
    """Whether this message (same event id or provider message id) was already taken."""
    if any(
        seen.event_id == message.event_id or seen.provider_message_id == message.provider_message_id
        for seen in state.seen_messages
    ):
        return True
    return state.forgotten_before is not None and message.received_at <= state.forgotten_before


def held_ms(case: CaseView, at: datetime) -> int:
    """How long the case has been on hold at `at`, in whole milliseconds: what a
    `CaseResumed` at `at` reports, whoever ends the hold. Never negative: a fact from a
    lagging topic may be stamped before the hold began."""
    held = at - case.held_since if case.held_since else timedelta(0)
    return max(0, held // timedelta(milliseconds=1))


def ladder_for(case: CaseView) -> str | None:
    """The policy ladder a period starting now would run; None when no rule applies."""
    if case.status == "closed" or (case.status == "in_triage" and case.triaged_at is not None):
        return None
    if case.status == "on_hold":
        return f"on_hold:{case.hold_reason or 'unknown'}"
    return case.status


def evolve(state: ContactState, event: Input | CommandRefused) -> ContactState:
    """The state after `event`. Events for another case of this contact change nothing."""
    if isinstance(event, ClockTicked):
        return _on_tick(state, event)
    if isinstance(event, MessageReceived):
        return _on_message_received(state, event)
    if isinstance(event, MessageSent | CaseOpened | Command) and (
        event.contact_id != state.contact_id
    ):
        raise MisroutedEvent(
            f"{event.NAME} {event.event_id} is for contact {event.contact_id}, "
            f"not {state.contact_id}: key it by contact_id"
        )
    if isinstance(event, CommandRefused | ErasureRequested) or event.event_id in state.seen_facts:
        # A refusal changes nothing; nor does an erasure by itself (the CaseClosed decided
        # from it does); a fact or command seen before neither.
        return state
    if isinstance(event, Command):
        return _remember(state, event.event_id)  # decided once: a redelivery decides nothing
    after = _on_fact(state, event)
    if after == state:
        return state  # no effect: nothing to remember
    return _remember(after, event.event_id)


def _remember(state: ContactState, event_id: str) -> ContactState:
    return replace(state, seen_facts=(*state.seen_facts, event_id)[-FACT_WINDOW:])


def _on_tick(state: ContactState, tick: ClockTicked) -> ContactState:
    case = state.case
    if case is None or not case.is_open or tick.tick_at <= case.checked_until:
        return state
    return replace(state, case=replace(case, checked_until=tick.tick_at))


def _on_message_received(state: ContactState, message: MessageReceived) -> ContactState:
    if message.contact_id != state.contact_id:
        raise MisroutedEvent(
            f"MessageReceived {message.event_id} is for contact {message.contact_id}, "
            f"not {state.contact_id}: key it by contact_id"
        )
    if is_redelivery(state, message):
        return state
    seen = (
        *state.seen_messages,
        SeenMessage(
            event_id=message.event_id,
            provider_message_id=message.provider_message_id,
            received_at=message.received_at,
        ),
    )
    forgotten = state.forgotten_before
    for old in seen[:-MESSAGE_WINDOW]:
        forgotten = old.received_at if forgotten is None else max(forgotten, old.received_at)
    case = state.case
    if case is not None and case.is_open:
        at = message.occurred_at
        last = case.last_citizen_message_at
        case = replace(case, last_citizen_message_at=at if last is None else max(last, at))
        if case.status == "waiting_on_citizen":
            case = replace(case, status=_active_status(case))
        case = _restart(case, at)
    return replace(
        state,
        citizen_id=message.subject_id,
        channel=message.channel,
        contact_address=message.contact_address,
        channel_account_id=message.channel_account_id or state.channel_account_id,
        thread_id=message.thread_id or state.thread_id,
        case=case,
        seen_messages=seen[-MESSAGE_WINDOW:],
        forgotten_before=forgotten,
    )


def _on_fact(state: ContactState, event: MessageSent | CaseFact) -> ContactState:
    case = state.case
    if isinstance(event, CaseOpened):
        return _on_case_opened(state, event)
    if case is None or case.case_id != event.case_id:
        return state
    if isinstance(event, CaseReopened):
        if case.is_open or event.previous_closed_at != case.closed_at:
            return state  # open already, or it reopens an earlier closing (a late copy)
        return replace(state, case=_reopened(case, event))
    if not case.is_open:
        return state
    return replace(state, case=_on_open_case_fact(case, event))


def _on_case_opened(state: ContactState, event: CaseOpened) -> ContactState:
    case = state.case
    if event.case_id in state.case_ids or (case is not None and case.is_open):
        return state  # a late copy; and only this processor opens cases, never beside an open one
    at = event.occurred_at
    opened = CaseView(
        case_id=event.case_id,
        correlation_id=event.correlation_id,
        status="in_triage",
        opened_at=at,
        last_citizen_message_at=at if event.opened_by_message_id else None,
        idle_since=at,
        checked_until=at,
        ladder="in_triage",
    )
    return replace(
        state,
        citizen_id=event.citizen_id,
        channel=event.channel,
        case=opened,
        case_ids=(*state.case_ids, event.case_id)[-CASE_MEMORY:],
    )


def _reopened(case: CaseView, event: CaseReopened) -> CaseView:
    at = event.occurred_at
    reopened = replace(
        case,
        status="queued" if case.queue_id else "in_triage",
        agent_id=None,
        closed_at=None,
        close_reason=None,
        last_citizen_message_at=at
        if event.reopened_by_message_id
        else case.last_citizen_message_at,
    )
    return _restart(reopened, at)


def _on_open_case_fact(case: CaseView, event: MessageSent | CaseFact) -> CaseView:
    if isinstance(event, MessageSent):
        return _on_message_sent(case, event)
    if isinstance(event, CaseTriaged):
        triaged = replace(case, triaged_at=case.triaged_at or event.occurred_at)
        return _restart(triaged, event.occurred_at) if case.status == "in_triage" else triaged
    if isinstance(event, CaseQueued | CaseAssigned | CaseReleased | CaseTransferred):
        return _on_routing_fact(case, event)
    if isinstance(event, CasePutOnHold | CaseResumed):
        return _on_hold_fact(case, event)
    if isinstance(event, CaseClosed):
        return replace(
            case,
            status="closed",
            closed_at=event.occurred_at,
            close_reason=event.reason,
            hold_reason=None,
            held_since=None,
            ladder=None,
        )
    return case  # CaseOpened and CaseReopened are handled before


def _on_routing_fact(
    case: CaseView, event: CaseQueued | CaseAssigned | CaseReleased | CaseTransferred
) -> CaseView:
    """Who holds the case (queue, agent) always follows routing; whose move it is (status)
    changes only while the move is the office's, not while it waits on the citizen."""
    if isinstance(event, CaseQueued):
        moved = replace(case, queue_id=event.queue_id, agent_id=None)
    elif isinstance(event, CaseAssigned):
        moved = replace(case, queue_id=event.queue_id, agent_id=event.agent_id)
    elif isinstance(event, CaseReleased):
        if case.agent_id != event.agent_id:
            return case  # a release by an agent who no longer holds the case
        moved = replace(case, queue_id=event.queue_id, agent_id=None)
    else:
        moved = replace(case, queue_id=event.to_queue_id, agent_id=event.to_agent_id)
    if case.status not in ("in_triage", "queued", "assigned"):
        return moved
    return _restart(replace(moved, status=_active_status(moved)), event.occurred_at)


def _on_hold_fact(case: CaseView, event: CasePutOnHold | CaseResumed) -> CaseView:
    at = event.occurred_at
    if isinstance(event, CaseResumed):
        if case.status != "on_hold":
            return case
        resumed = replace(case, hold_reason=None, held_since=None)
        return _restart(replace(resumed, status=_active_status(resumed)), at)
    held = replace(
        case,
        status="on_hold",
        hold_reason=event.reason,
        held_since=case.held_since if case.status == "on_hold" else at,
    )
    if event.reason == "inactivity" and event.put_by_agent_id is None:
        return held  # the ladder's own step: the period goes on, its close still follows
    return _restart(held, at)


def _on_message_sent(case: CaseView, event: MessageSent) -> CaseView:
    if event.sender_kind != "agent":
        if event.message_id == reminder_message_id(case.case_id, case.reminders_sent + 1):
            return replace(case, reminders_sent=case.reminders_sent + 1)
        return case  # the triage bot's questions and notices are not activity
    at = event.occurred_at
    last = case.last_agent_message_at
    answered = replace(case, last_agent_message_at=at if last is None else max(last, at))
    if case.status != "on_hold":
        answered = replace(answered, status="waiting_on_citizen")
    return _restart(answered, at)


def _active_status(case: CaseView) -> CaseStatus:
    """Whose move it is once the citizen answered: the agent's, the queue's or the bot's."""
    if case.agent_id:
        return "assigned"
    if case.queue_id:
        return "queued"
    return "in_triage"


def _restart(case: CaseView, at: datetime) -> CaseView:
    """A new inactivity period from `at` on the case's ladder.

    Never from before the last tick evaluated: an activity that reaches the processor after a
    later tick (another topic's lag) starts its period then, so periods never overlap and no
    step fires twice for the same stretch of time.
    """
    since = max(at, case.checked_until)
    return replace(case, idle_since=since, checked_until=since, ladder=ladder_for(case))
