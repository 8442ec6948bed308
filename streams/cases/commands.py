"""Agents' commands on a contact's case: reply, put on hold, resume, close. Accepted into
facts, or refused with the reason.

A command is decided against the contact's state, in order with the contact's messages and
case facts (the commands are keyed by contact on the same topic). Steps of `decide_command`,
in order:
1. a command already decided (its event_id among the contact's remembered facts) decides
   nothing: a redelivery, or a replay after a crash, adds no second fact;
2. the command itself must make sense (a reply says something: text, files, or a template
   with its name and language and nothing else; a reason is one an agent may give): else
   `invalid`;
3. the case: unknown to this contact -> `no_such_case`; closed, or an earlier case of the
   contact -> `case_closed`; not assigned to the agent who asks -> `not_your_case`;
4. what the state must allow: a hold must change the reason, a resume needs a case on hold,
   a reply needs an address to send to (a message from the contact), a template a
   contact on WhatsApp (templates are WhatsApp's way past its 24-hour window; email and
   web chat take text); else `invalid`. Files go out on every channel (WhatsApp, email
   and the web chat each deliver them);
5. the fact: `MessageSent` (sender_kind agent), `CasePutOnHold`, `CaseResumed` (reason
   agent, held_ms as a citizen's reply would report it) or `CaseClosed`, by that agent.

An agent's resume exists for the holds no reply ends (a hold for `external`, or any reason
the policy's `resume_on_reply` leaves out): without it such a case could only be closed.

Exactly one output per command, either the fact or `CommandRefused`: its event_id is
derive_event_id(command.event_id, "streams.cases", "0"); time, correlation and causation come
from the command. An accepted reply's message_id is `reply_message_id(command.event_id)`, so
the gateway knows it before the fact is written. Refusal details name ids and states, never
personal data (they sit in the clear on acolhe.commands).

No decision looks inside a personal value: a reply's text or the contact's address that
reads as ERASED (the citizen was erased) is accepted like any other, so a replay decides what
the first run did; the fact is written with those fields ERASED, and no connector can
deliver it (docs/privacy.md).

Must not import Kafka, faust, Postgres, logging or a clock: time comes in the events.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.envelope import derive_event_id
from schemas.events import (
    CaseClosed,
    CasePutOnHold,
    CaseResumed,
    Channel,
    CloseCase,
    CommandRefused,
    MessageSent,
    PutCaseOnHold,
    RefusalReason,
    ResumeCase,
    SendReply,
)
from schemas.personal import Erased
from streams.cases.policy import LifecyclePolicy
from streams.cases.state import PROCESSOR, Command, ContactState, MisroutedEvent, Output, held_ms

AGENT_CLOSE_REASONS = frozenset({"resolved", "duplicate", "ineligible", "withdrawn"})
"""What an agent may close a case for: auto_closed_inactivity is the inactivity rule's alone."""

Refusal = tuple[RefusalReason, str]


def reply_message_id(command_id: str) -> str:
    """The message id of the reply a SendReply asks for, stable across redeliveries."""
    return derive_event_id(command_id, PROCESSOR, "reply")


def decide_command(state: ContactState, command: Command, policy: LifecyclePolicy) -> list[Output]:
    """The one event that answers `command`: its fact, or CommandRefused; [] when it was
    already decided."""
    if command.contact_id != state.contact_id:
        raise MisroutedEvent(
            f"{command.NAME} {command.event_id} is for contact {command.contact_id}, "
            f"not {state.contact_id}: key it by contact_id"
        )
    if command.event_id in state.seen_facts:
        return []
    refusal = _malformed(command) or _case_refusal(state, command)
    if refusal is not None:
        return [_refused(command, *refusal)]
    if isinstance(command, SendReply):
        target = _target(state)
        detail = _unsendable(state, target, command)
        if detail is not None or target is None:
            return [_refused(command, "invalid", detail or "")]
        return [_reply(state, target, command)]
    return [_case_fact(state, command, policy)]


def _unsendable(state: ContactState, target: _Target | None, command: SendReply) -> str | None:
    """Step 4 for a reply: why the case's channel cannot take it, or None."""
    if target is None:
        return f"contact {state.contact_id} has no address to reply to"
    if command.template_name is not None and target.channel != "whatsapp":
        return (
            f"templates are WhatsApp's and case {command.case_id} is on {target.channel}, "
            "which takes text: send the reply as text"
        )
    return None


def _case_fact(
    state: ContactState, command: PutCaseOnHold | ResumeCase | CloseCase, policy: LifecyclePolicy
) -> CasePutOnHold | CaseResumed | CaseClosed:
    """Step 5 for the commands that change the case itself rather than write to the citizen."""
    if isinstance(command, PutCaseOnHold):
        return _hold(state, command, policy)
    if isinstance(command, ResumeCase):
        return _resume(state, command)
    return _close(command)


def _malformed(command: Command) -> Refusal | None:
    if isinstance(command, SendReply):
        return _malformed_reply(command)
    if isinstance(command, PutCaseOnHold):
        if command.reason == "unknown":
            return "invalid", "unknown hold reason: update the gateway's schemas"
        return None
    if isinstance(command, ResumeCase):
        return None  # ids only: the case says whether it makes sense
    return _malformed_close(command)


def _malformed_reply(command: SendReply) -> Refusal | None:
    has_text = command.text is not None and command.text != ""
    if command.template_name is None:
        if command.template_language is not None or command.template_parameters is not None:
            return "invalid", "template_language and template_parameters need a template_name"
        if not has_text and not command.attachments:
            return "invalid", "a reply needs text, a template or at least one attachment"
        return None
    if not command.template_name or not command.template_language:
        return "invalid", "a template needs its name and its language"
    if command.text is not None or command.attachments:
        # what WhatsApp sends is the approved template alone (connectors.whatsapp.graph)
        return "invalid", "a template goes alone: no text or attachments with it"
    return None


def _malformed_close(command: CloseCase) -> Refusal | None:
    if command.reason not in AGENT_CLOSE_REASONS:
        allowed = ", ".join(sorted(AGENT_CLOSE_REASONS))
        return "invalid", f"an agent closes a case for one of: {allowed}"
    if (command.reason == "duplicate") != (command.duplicate_of_case_id is not None):
        return "invalid", "duplicate_of_case_id is required with reason duplicate, and only then"
    if command.duplicate_of_case_id == command.case_id:
        return "invalid", "a case cannot duplicate itself"
    return None


def _case_refusal(state: ContactState, command: Command) -> Refusal | None:
    case = state.case
    if case is None or (case.case_id != command.case_id and command.case_id not in state.case_ids):
        return "no_such_case", f"contact {state.contact_id} has no case {command.case_id}"
    if case.case_id != command.case_id or not case.is_open:
        return "case_closed", f"case {command.case_id} is closed"
    if case.agent_id != command.agent_id:
        holder = f"agent {case.agent_id}" if case.agent_id else f"nobody ({case.status})"
        return "not_your_case", f"case {case.case_id} is held by {holder}"
    if isinstance(command, PutCaseOnHold) and case.hold_reason == command.reason:
        return "invalid", f"case {case.case_id} is already on hold: {command.reason}"
    if isinstance(command, ResumeCase) and case.status != "on_hold":
        return "invalid", f"case {case.case_id} is not on hold: it is {case.status}"
    return None


def _refused(command: Command, reason: RefusalReason, detail: str) -> CommandRefused:
    return CommandRefused(
        event_id=_output_id(command),
        occurred_at=command.occurred_at,
        correlation_id=command.correlation_id,
        causation_id=command.event_id,
        command_id=command.event_id,
        command=command.NAME,
        agent_id=command.agent_id,
        case_id=command.case_id,
        contact_id=command.contact_id,
        reason=reason,
        detail=detail,
    )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a reply goes: what the contact's messages told the lifecycle."""

    citizen_id: str
    channel: Channel
    address: str | Erased


def _target(state: ContactState) -> _Target | None:
    """None when the contact never wrote (an address that reads as ERASED is one)."""
    address = state.contact_address
    if state.citizen_id is None or state.channel is None or address is None:
        return None
    return _Target(state.citizen_id, state.channel, address)


def _reply(state: ContactState, target: _Target, command: SendReply) -> MessageSent:
    return MessageSent(
        event_id=_output_id(command),
        occurred_at=command.occurred_at,
        correlation_id=command.correlation_id,
        causation_id=command.event_id,
        # the contact's citizen: their key seals the address, and the reply with it
        subject_id=target.citizen_id,
        channel=target.channel,
        contact_id=state.contact_id,
        contact_address=target.address,
        channel_account_id=state.channel_account_id,
        case_id=command.case_id,
        message_id=reply_message_id(command.event_id),
        sender_kind="agent",
        agent_id=command.agent_id,
        text=command.text,
        attachments=command.attachments,
        template_name=command.template_name,
        template_language=command.template_language,
        template_parameters=command.template_parameters,
        thread_id=state.thread_id,
        sent_at=command.occurred_at,
    )


def _hold(state: ContactState, command: PutCaseOnHold, policy: LifecyclePolicy) -> CasePutOnHold:
    # the hold starts a period on its reason's ladder: its first step ends the hold by itself
    steps = policy.steps_for(f"on_hold:{command.reason}")
    return CasePutOnHold(
        event_id=_output_id(command),
        occurred_at=command.occurred_at,
        correlation_id=command.correlation_id,
        causation_id=command.event_id,
        case_id=command.case_id,
        contact_id=state.contact_id,
        reason=command.reason,
        put_by_agent_id=command.agent_id,
        until=command.occurred_at + steps[0].after if steps else None,
    )


def _resume(state: ContactState, command: ResumeCase) -> CaseResumed:
    case = state.case
    return CaseResumed(
        event_id=_output_id(command),
        occurred_at=command.occurred_at,
        correlation_id=command.correlation_id,
        causation_id=command.event_id,
        case_id=command.case_id,
        contact_id=state.contact_id,
        reason="agent",
        resumed_by_agent_id=command.agent_id,
        # the same measure as a citizen's reply ending the hold, so both read alike downstream
        held_ms=held_ms(case, command.occurred_at) if case else 0,
    )


def _close(command: CloseCase) -> CaseClosed:
    return CaseClosed(
        event_id=_output_id(command),
        occurred_at=command.occurred_at,
        correlation_id=command.correlation_id,
        causation_id=command.event_id,
        case_id=command.case_id,
        contact_id=command.contact_id,
        reason=command.reason,
        closed_by_agent_id=command.agent_id,
        duplicate_of_case_id=command.duplicate_of_case_id,
    )


def _output_id(command: Command) -> str:
    return derive_event_id(command.event_id, PROCESSOR, "0")
