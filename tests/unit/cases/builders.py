"""Events and a policy for the case lifecycle tests: given these events, when this, then that."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from schemas.envelope import derive_event_id
from schemas.events import (
    CaseAssigned,
    CaseClosed,
    CasePutOnHold,
    CaseQueued,
    CaseReleased,
    CaseResumed,
    CaseTransferred,
    CaseTriaged,
    Channel,
    ClockTicked,
    CloseCase,
    CloseReason,
    ErasureRequested,
    HoldReason,
    MessageReceived,
    MessageSent,
    PutCaseOnHold,
    ResumeCase,
    SendReply,
)
from streams.cases.domain import handle
from streams.cases.policy import LifecyclePolicy, parse_policy
from streams.cases.state import ContactState, Input, Output

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
CONTACT = "contact-maria"
CITIZEN = "citizen-maria"
PHONE = "+5511987654321"
REMIND_TRIAGE = "Olá! Ainda estamos aguardando sua resposta."
REMIND_WAITING = "Olá! A Defensoria Pública aguarda sua resposta."
HOLD_NOTICE = "Seu atendimento foi colocado em espera."
CLOSE_NOTICE = "Encerramos este atendimento por falta de resposta."

POLICY: LifecyclePolicy = parse_policy(
    {
        "version": "test-1",
        "reopen_window": "7d",
        "reopenable_reasons": ["resolved", "auto_closed_inactivity", "withdrawn"],
        "resume_on_reply": ["waiting_on_citizen", "documents_pending", "inactivity"],
        "inactivity": {
            "in_triage": [
                {"after": "2h", "action": "remind", "text": REMIND_TRIAGE},
                {"after": "48h", "action": "close"},
            ],
            "waiting_on_citizen": [
                {
                    "after": "24h",
                    "action": "remind",
                    "text": REMIND_WAITING,
                    "whatsapp_template": {"name": "lembrete", "language": "pt_BR"},
                },
                {"after": "72h", "action": "hold", "text": HOLD_NOTICE},
                {"after": "7d", "action": "close", "text": CLOSE_NOTICE},
            ],
            "on_hold:documents_pending": [
                {"after": "3d", "action": "remind", "text": "Envie os documentos."},
                {"after": "30d", "action": "close"},
            ],
        },
    },
    source="tests/unit/cases/builders.py",
)


def at(**delta: float) -> datetime:
    """T0 plus a delta: at(hours=2) is two hours after the first message."""
    return T0 + timedelta(**delta)


def received(
    n: int,
    when: datetime = T0,
    *,
    contact: str = CONTACT,
    channel: Channel = "whatsapp",
    provider_message_id: str | None = None,
    citizen: str = CITIZEN,
) -> MessageReceived:
    """The citizen's n-th message; the same n is the same message (a provider redelivery)."""
    wamid = provider_message_id or f"wamid.{contact}.{n}"
    event_id = derive_event_id(channel, wamid)
    return MessageReceived(
        event_id=event_id,
        occurred_at=when,
        correlation_id=event_id,
        subject_id=citizen,
        channel=channel,
        contact_id=contact,
        contact_address=PHONE,
        provider_message_id=wamid,
        kind="text",
        text=f"mensagem {n}",
        received_at=when,
    )


def agent_replied(
    case_id: str, when: datetime, n: int = 0, channel: Channel = "whatsapp"
) -> MessageSent:
    event_id = derive_event_id("gateway", case_id, "reply", str(n), when.isoformat())
    return MessageSent(
        event_id=event_id,
        occurred_at=when,
        correlation_id=event_id,
        subject_id=CITIZEN,
        channel=channel,
        contact_id=CONTACT,
        contact_address=PHONE,
        case_id=case_id,
        message_id=event_id,
        sender_kind="agent",
        agent_id="agent-ana",
        text="Por favor, envie uma foto do seu RG.",
        sent_at=when,
    )


def tick(when: datetime) -> ClockTicked:
    return ClockTicked(
        event_id=derive_event_id("timer-0", when.isoformat()),
        occurred_at=when,
        correlation_id="timer-0",
        source="timer-0",
        sequence=int(when.timestamp()),
        tick_at=when,
        interval_ms=60_000,
    )


def erasure(when: datetime, citizen: str = CITIZEN) -> ErasureRequested:
    """`acolhe erase CITIZEN` as the contacts' stream carries it (one copy per partition);
    run again later, it has the same id and a later time."""
    event_id = derive_event_id("streams.privacy", "ErasureRequested", citizen, "PROT-1")
    return ErasureRequested(
        event_id=event_id,
        occurred_at=when,
        correlation_id=event_id,
        citizen_id=citizen,
        requested_by_agent_id="agent-dpo",
        legal_basis="data_subject_request",
        request_reference="PROT-1",
        requested_at=when,
    )


def _fact_id(kind: str, case_id: str, when: datetime) -> str:
    return derive_event_id("others", kind, case_id, when.isoformat())


def triaged(case_id: str, when: datetime) -> CaseTriaged:
    return CaseTriaged(
        event_id=_fact_id("triaged", case_id, when),
        occurred_at=when,
        correlation_id=case_id,
        subject_id=CITIZEN,
        case_id=case_id,
        area="familia",
        priority="normal",
        rules_version="r1",
    )


def queued(case_id: str, when: datetime, queue_id: str = "familia-capital") -> CaseQueued:
    return CaseQueued(
        event_id=_fact_id("queued", case_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        queue_id=queue_id,
        area="familia",
        priority="normal",
        reason="triaged",
    )


def assigned(case_id: str, when: datetime, agent_id: str = "agent-ana") -> CaseAssigned:
    return CaseAssigned(
        event_id=_fact_id("assigned", case_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        agent_id=agent_id,
        queue_id="familia-capital",
        routing_decision_id="rd-1",
    )


def released(case_id: str, when: datetime, agent_id: str = "agent-ana") -> CaseReleased:
    return CaseReleased(
        event_id=_fact_id("released", case_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        agent_id=agent_id,
        queue_id="familia-capital",
        reason="agent_request",
    )


def transferred(case_id: str, when: datetime, to_agent_id: str | None) -> CaseTransferred:
    return CaseTransferred(
        event_id=_fact_id("transferred", case_id, when),
        occurred_at=when,
        correlation_id=case_id,
        subject_id=CITIZEN,
        case_id=case_id,
        from_queue_id="familia-capital",
        from_agent_id="agent-ana",
        to_queue_id="violencia-domestica",
        to_agent_id=to_agent_id,
    )


def put_on_hold(case_id: str, when: datetime, reason: HoldReason) -> CasePutOnHold:
    return CasePutOnHold(
        event_id=_fact_id(f"hold-{reason}", case_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        reason=reason,
        put_by_agent_id="agent-ana",
    )


def resumed_by_agent(case_id: str, when: datetime) -> CaseResumed:
    return CaseResumed(
        event_id=_fact_id("resumed", case_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        reason="agent",
        resumed_by_agent_id="agent-ana",
        held_ms=0,
    )


def closed_by_agent(case_id: str, when: datetime, reason: CloseReason) -> CaseClosed:
    return CaseClosed(
        event_id=_fact_id(f"closed-{reason}", case_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        reason=reason,
        closed_by_agent_id="agent-ana",
    )


# -- agents' commands, as the gateway writes them ---------------------------------------------


def _command_id(kind: str, case_id: str, agent_id: str, when: datetime) -> str:
    return derive_event_id("gateway", kind, case_id, agent_id, when.isoformat())


def send_reply(
    case_id: str,
    when: datetime,
    *,
    agent_id: str = "agent-ana",
    text: str | None = "Bom dia! Pode me enviar uma foto do seu RG?",
    contact: str = CONTACT,
) -> SendReply:
    event_id = _command_id("reply", case_id, agent_id, when)
    return SendReply(
        event_id=event_id,
        occurred_at=when,
        correlation_id=case_id,
        subject_id=CITIZEN,
        case_id=case_id,
        contact_id=contact,
        agent_id=agent_id,
        text=text,
    )


def ask_hold(
    case_id: str, when: datetime, reason: HoldReason, *, agent_id: str = "agent-ana"
) -> PutCaseOnHold:
    return PutCaseOnHold(
        event_id=_command_id(f"hold-{reason}", case_id, agent_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        contact_id=CONTACT,
        agent_id=agent_id,
        reason=reason,
    )


def ask_resume(case_id: str, when: datetime, *, agent_id: str = "agent-ana") -> ResumeCase:
    return ResumeCase(
        event_id=_command_id("resume", case_id, agent_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        contact_id=CONTACT,
        agent_id=agent_id,
    )


def ask_close(
    case_id: str,
    when: datetime,
    reason: CloseReason = "resolved",
    *,
    agent_id: str = "agent-ana",
    duplicate_of: str | None = None,
) -> CloseCase:
    return CloseCase(
        event_id=_command_id(f"close-{reason}", case_id, agent_id, when),
        occurred_at=when,
        correlation_id=case_id,
        case_id=case_id,
        contact_id=CONTACT,
        agent_id=agent_id,
        reason=reason,
        duplicate_of_case_id=duplicate_of,
    )


def given(*events: Input, policy: LifecyclePolicy = POLICY) -> ContactState:
    """The state of CONTACT after these events, each handled as the processor would."""
    state = ContactState(contact_id=CONTACT)
    for event in events:
        state, _ = handle(state, event, policy)
    return state


def when(
    state: ContactState, events: Iterable[Input], policy: LifecyclePolicy = POLICY
) -> tuple[ContactState, list[Output]]:
    """Handle these events in order; the final state and every output, in order."""
    outputs: list[Output] = []
    for event in events:
        state, out = handle(state, event, policy)
        outputs.extend(out)
    return state, outputs


def names(events: Iterable[object]) -> list[str]:
    return [type(e).__name__ for e in events]
