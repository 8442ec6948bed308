"""The case lifecycle's decisions: which events follow from a contact's state and one event.

- A message from a contact without an open case opens one (`CaseOpened`); a message while a
  case is open joins it, and resumes it when it was on hold for a reason the policy resumes on
  a reply (`CaseResumed`); a message within the reopening window of a case closed for a
  reopenable reason reopens it (`CaseReopened`); later, or otherwise, it opens a new case.
  A redelivered message decides nothing.
- Case facts written by others (triage, routing) and agents' messages only move the state
  (see `state.evolve`): `decide` returns nothing for them.
- Agents' commands (reply, put on hold, resume, close) are accepted into their fact or refused
  with the reason, once each (see `commands`).
- A clock tick fires the steps of the inactivity ladder that came due since the last tick
  evaluated, in ladder order: reminders (`MessageSent` by the bot), the hold (`CasePutOnHold`,
  reason inactivity), the close (`CaseClosed`, reason auto_closed_inactivity), each hold or
  close preceded by its notice when the policy gives one.
- A citizen's erasure (`ErasureRequested`, written into every partition of the contacts'
  topic and so seen by every contact) closes the contact's open case when the contact's
  citizen, as the state knows it, is the erased one: `CaseClosed`, reason citizen_erased, no
  agent, no notice (nothing can reach an erased citizen). Whether the citizen was erased is
  read from this fact in the log, never from a value that reads ERASED, so a replay decides
  the same closing at the same point. A copy seen again finds the case closed: nothing.
- Decisions never look inside a personal value: an address that reads as ERASED (its
  citizen was erased) is an address like any other, so a processor that restored it
  erased, one that holds it in clear and a replay all decide the same events with the same
  ids; the publisher writes such a message's personal fields ERASED and no connector can
  deliver it (docs/privacy.md).

Every output is derived from its cause: event_id = derive_event_id(cause.event_id,
"streams.cases", n) for the n-th output (0-based), occurred_at = the cause's time (a tick's
tick_at), causation_id = cause.event_id, correlation_id = the cause's; for ticks and
erasures, the case's own flow (their correlation ids say nothing about the case), and ids
that also name the case, as one tick or erasure reaches every contact of a partition. The
same state and event always yield the same outputs.

`handle` is the whole step, in order: 1. decide on the state before the event; 2. evolve the
event; 3. evolve each output, in order.

Must not import Kafka, faust, Postgres, logging or a clock: time comes in the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from schemas.envelope import derive_event_id
from schemas.events import (
    CaseClosed,
    CaseOpened,
    CasePutOnHold,
    CaseReopened,
    CaseResumed,
    ClockTicked,
    CommandRefused,
    ErasureRequested,
    MessageReceived,
    MessageSent,
    SenderKind,
)
from streams.cases.commands import decide_command
from streams.cases.policy import InactivityStep, LifecyclePolicy
from streams.cases.state import (
    PROCESSOR,
    CaseView,
    Command,
    ContactState,
    Input,
    MisroutedEvent,
    Output,
    case_id_for,
    evolve,
    held_ms,
    is_redelivery,
    reminder_message_id,
)

WHATSAPP_SERVICE_WINDOW: Final = timedelta(hours=24)
"""Meta's rule: free-form messages only within 24 hours of the citizen's last message."""


def decide(
    state: ContactState, event: Input | CommandRefused, policy: LifecyclePolicy
) -> list[Output]:
    """The events that follow from `event` given `state`; [] for facts written by others
    (and for this processor's own refusals, should one come back)."""
    if isinstance(event, MessageReceived):
        return _on_message(state, event, policy)
    if isinstance(event, ClockTicked):
        return _on_tick(state, event, policy)
    if isinstance(event, ErasureRequested):
        return _on_erasure(state, event)
    if isinstance(event, Command):
        return decide_command(state, event, policy)
    return []


def handle(
    state: ContactState, event: Input | CommandRefused, policy: LifecyclePolicy
) -> tuple[ContactState, list[Output]]:
    """Decide, then evolve over the event and each output: the state to store and the events
    to publish (with the input's offset, in one transaction)."""
    outputs = decide(state, event, policy)
    state = evolve(state, event)
    for output in outputs:
        state = evolve(state, output)
    return state, outputs


REDELIVERY_HORIZON: Final = timedelta(days=7)
"""How long after a message a provider may still deliver it again (Meta retries webhooks for
days): a contact is not forgotten before its last message is this old, or a late copy would
open a new case."""


def forget_at(state: ContactState, policy: LifecyclePolicy) -> datetime | None:
    """When the contact may be forgotten (its state dropped): its last case closed, the
    reopening window over, and its last message past the redelivery horizon. None while a
    case is open. Keeping every citizen ever served would grow without end, and personal
    data (the contact's address) must not outlive its use (LGPD art. 16)."""
    case = state.case
    if case is None or case.is_open or case.closed_at is None:
        return None
    last_message = max((m.received_at for m in state.seen_messages), default=case.closed_at)
    return max(
        case.closed_at + policy.reopen_window,
        case.closed_at + REDELIVERY_HORIZON,
        last_message + REDELIVERY_HORIZON,
    )


def next_deadline(state: ContactState, policy: LifecyclePolicy) -> datetime | None:
    """When the next inactivity step comes due, if any: lets the shell deliver ticks only to
    the contacts that have something due, instead of to every contact."""
    case = state.case
    if case is None or not case.is_open:
        return None
    due = (case.idle_since + step.after for step in policy.steps_for(case.ladder))
    return next((at for at in due if at > case.checked_until), None)


@dataclass
class _Outputs:
    """Numbers the outputs of one cause and stamps their envelope."""

    cause_id: str
    at: datetime
    correlation_id: str
    events: list[Output] = field(default_factory=list)
    # What the ids must also name when one cause reaches many contacts: a tick is the same
    # event in every partition, and each case it moves needs ids of its own.
    scope: tuple[str, ...] = ()

    def next_id(self) -> str:
        return derive_event_id(self.cause_id, PROCESSOR, *self.scope, str(len(self.events)))


def _on_message(
    state: ContactState, message: MessageReceived, policy: LifecyclePolicy
) -> list[Output]:
    if message.contact_id != state.contact_id:
        raise MisroutedEvent(
            f"MessageReceived {message.event_id} is for contact {message.contact_id}, "
            f"not {state.contact_id}: key it by contact_id"
        )
    if is_redelivery(state, message):
        return []
    out = _Outputs(message.event_id, message.occurred_at, message.correlation_id)
    case = state.case
    if case is None or (not case.is_open and not _is_reopenable(case, message, policy)):
        out.events.append(
            CaseOpened(
                event_id=out.next_id(),
                occurred_at=out.at,
                correlation_id=out.correlation_id,
                causation_id=out.cause_id,
                case_id=case_id_for(message),
                citizen_id=message.subject_id,
                contact_id=message.contact_id,
                channel=message.channel,
                opened_by_message_id=message.event_id,
            )
        )
    elif not case.is_open and case.closed_at and case.close_reason:
        out.events.append(
            CaseReopened(
                event_id=out.next_id(),
                occurred_at=out.at,
                correlation_id=out.correlation_id,
                causation_id=out.cause_id,
                case_id=case.case_id,
                contact_id=state.contact_id,
                reopened_by_message_id=message.event_id,
                previous_closed_at=case.closed_at,
                previous_close_reason=case.close_reason,
            )
        )
    elif case.status == "on_hold" and case.hold_reason in policy.resume_on_reply:
        out.events.append(
            CaseResumed(
                event_id=out.next_id(),
                occurred_at=out.at,
                correlation_id=out.correlation_id,
                causation_id=out.cause_id,
                case_id=case.case_id,
                contact_id=state.contact_id,
                reason="citizen_replied",
                held_ms=held_ms(case, out.at),
            )
        )
    return out.events


def _is_reopenable(case: CaseView, message: MessageReceived, policy: LifecyclePolicy) -> bool:
    return (
        case.closed_at is not None
        and case.close_reason in policy.reopenable_reasons
        and message.occurred_at <= case.closed_at + policy.reopen_window
    )


def _on_tick(state: ContactState, tick: ClockTicked, policy: LifecyclePolicy) -> list[Output]:
    case = state.case
    if case is None or not case.is_open:
        return []
    out = _Outputs(tick.event_id, tick.tick_at, case.correlation_id, scope=(case.case_id,))
    steps = policy.steps_for(case.ladder)
    reminders = case.reminders_sent
    on_hold = case.status == "on_hold"
    for i, step in enumerate(steps):
        due_at = case.idle_since + step.after
        if not case.checked_until < due_at <= tick.tick_at:
            continue
        if step.action == "remind":
            if _send(out, state, case, step, reminder_message_id(case.case_id, reminders + 1)):
                reminders += 1
        elif step.action == "hold" and not on_hold:
            _send(out, state, case, step, None)
            after = steps[i + 1] if i + 1 < len(steps) else None
            out.events.append(
                CasePutOnHold(
                    event_id=out.next_id(),
                    occurred_at=out.at,
                    correlation_id=out.correlation_id,
                    causation_id=out.cause_id,
                    case_id=case.case_id,
                    contact_id=state.contact_id,
                    reason="inactivity",
                    until=case.idle_since + after.after if after else None,
                )
            )
            on_hold = True
        elif step.action == "close":
            _send(out, state, case, step, None)
            out.events.append(
                CaseClosed(
                    event_id=out.next_id(),
                    occurred_at=out.at,
                    correlation_id=out.correlation_id,
                    causation_id=out.cause_id,
                    case_id=case.case_id,
                    contact_id=state.contact_id,
                    reason="auto_closed_inactivity",
                )
            )
            break
    return out.events


def _on_erasure(state: ContactState, erasure: ErasureRequested) -> list[Output]:
    """The contact's open case closed, when its citizen is the one erased.

    The citizen is the one the state knows (the latest message's subject, or the case's):
    a contact of another citizen in the same partition sees the same erasure and keeps its
    case. No notice is sent: the citizen's address is being destroyed with their key, and a
    message to it could never be delivered."""
    case = state.case
    if case is None or not case.is_open or state.citizen_id != erasure.citizen_id:
        return []
    out = _Outputs(
        erasure.event_id, erasure.occurred_at, case.correlation_id, scope=(case.case_id,)
    )
    out.events.append(
        CaseClosed(
            event_id=out.next_id(),
            occurred_at=out.at,
            correlation_id=out.correlation_id,
            causation_id=out.cause_id,
            case_id=case.case_id,
            contact_id=state.contact_id,
            reason="citizen_erased",
        )
    )
    return out.events


def _send(
    out: _Outputs,
    state: ContactState,
    case: CaseView,
    step: InactivityStep,
    message_id: str | None,
) -> bool:
    """Append the step's message to the citizen, when it has one and the contact wrote (an
    address that reads as ERASED counts: whether the citizen was erased is not a decision's
    input, see the module's docstring); whether one was appended."""
    address = state.contact_address
    if step.text is None or state.citizen_id is None or state.channel is None or address is None:
        return False
    last = case.last_citizen_message_at
    template = step.whatsapp_template
    use_template = (
        template is not None
        and state.channel == "whatsapp"
        and (last is None or out.at - last >= WHATSAPP_SERVICE_WINDOW)
    )
    sender: SenderKind = "bot" if step.action == "remind" else "system"
    event_id = out.next_id()
    out.events.append(
        MessageSent(
            event_id=event_id,
            occurred_at=out.at,
            correlation_id=out.correlation_id,
            causation_id=out.cause_id,
            subject_id=state.citizen_id,
            channel=state.channel,
            contact_id=state.contact_id,
            contact_address=address,
            channel_account_id=state.channel_account_id,
            case_id=case.case_id,
            message_id=message_id or event_id,
            sender_kind=sender,
            text=None if use_template else step.text,
            template_name=template.name if use_template and template else None,
            template_language=template.language if use_template and template else None,
            thread_id=state.thread_id,
            sent_at=out.at,
        )
    )
    return True
