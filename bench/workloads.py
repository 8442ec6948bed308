"""Workloads for the processing benchmarks, in the order they reach `acolhe.conversations`.

`triage_only`: every message is a triage answer (the bot's worst case, and what the first
benchmarks measured). `office_day`: what the topic carries for a case over its life, from
DOMAIN.md's figures (about 50 messages per case: 50 million messages over 1 million
cases): the citizen's six triage messages, the router's copies of CaseQueued and
CaseAssigned, 18 agent replies and 18 citizen messages, WhatsApp's sent/delivered/read
statuses for every outbound message (the bot's 7 and the agent's 18), and the agent's
close. The bot's own outputs come back through the topic too when the processor writes
there, as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.envelope import derive_event_id
from schemas.events import (
    AgentPresenceChanged,
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseQueued,
    CaseTriaged,
    DeliveryStatusChanged,
    MessageReceived,
    MessageSent,
)
from streams.cases.state import case_id_for

TRIAGE = ("oi", "meu ex marido não paga a pensão", "1", "2", "2", "1 e 2")
URGENT = "socorro meu marido me ameaçou de morte agora"
AGENT_ROUNDS = 18
BOT_MESSAGES = 7  # greeting with the first question, four more questions, the closing
T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)

Event = tuple[str, dict[str, Any]]


def citizen_message(case: int, n: int, text: str, at: datetime) -> MessageReceived:
    from bench.samples import message_received

    record = message_received(case * 100 + n)
    record.update(
        event_id=f"in-{case}-{n}",
        occurred_at=at,
        received_at=at,
        correlation_id=f"in-{case}-0",
        contact_id=f"contact-{case}",
        subject_id=f"citizen-{case}",
        provider_message_id=f"wamid-{case}-{n}",
        text=text,
        kind="text",
        attachments=[],
    )
    return MessageReceived.from_record(record)


def triage_only(total: int, contacts: int) -> list[Event]:
    """`total` messages from `contacts` contacts, one round of messages apart: a first
    message, then answers to the bot (a tenth of the contacts urgent)."""
    out = []
    answers = (*TRIAGE, "obrigada")
    for i in range(total):
        contact, turn = i % contacts, i // contacts
        text = URGENT if contact % 10 == 0 and turn == 0 else answers[turn % len(answers)]
        at = T0 + timedelta(milliseconds=i)
        out.append(("MessageReceived", citizen_message(contact, turn, text, at).to_record()))
    return out


def office_day(cases: int, *, with_openings: bool = False, first: int = 0) -> list[Event]:
    """The records of `cases` cases (numbered from `first`), their lives interleaved step
    by step; with `with_openings`, also the CaseOpened the conversation processor writes
    after each first message (for a processor downstream of it, such as the SLA clocks)."""
    lives = [_life(c, with_openings=with_openings) for c in range(first, first + cases)]
    out: list[Event] = []
    while lives:
        alive = []
        for life in lives:
            step = next(life, None)
            if step is not None:
                out.extend(step)
                alive.append(life)
        lives = alive
    return out


def _life(case: int, *, with_openings: bool = False) -> Iterator[list[Event]]:
    at = T0 + timedelta(seconds=case)
    contact, subject = f"contact-{case}", f"citizen-{case}"
    urgent = case % 10 == 0
    first = citizen_message(case, 0, URGENT if urgent else TRIAGE[0], at)
    case_id = case_id_for(first)
    yield [("MessageReceived", first.to_record())]
    if with_openings:
        opened = CaseOpened(
            event_id=derive_event_id(first.event_id, "streams.cases", "0"),
            occurred_at=at,
            correlation_id=first.correlation_id,
            causation_id=first.event_id,
            case_id=case_id,
            citizen_id=subject,
            contact_id=contact,
            channel="whatsapp",
            opened_by_message_id=first.event_id,
        )
        yield [(opened.NAME, opened.to_record())]
    for n, text in enumerate(TRIAGE[1:], start=1):
        at += timedelta(minutes=1)
        yield [("MessageReceived", citizen_message(case, n, text, at).to_record())]
    for n in range(BOT_MESSAGES):
        yield _statuses(case, f"bot-{case}-{n}", at)
    at += timedelta(minutes=5)
    envelope: dict[str, Any] = {
        "occurred_at": at,
        "correlation_id": first.event_id,
        "causation_id": None,
    }
    decision = derive_event_id(case_id, "bench.routing")
    queued = CaseQueued(
        event_id=f"q-{case}",
        case_id=case_id,
        contact_id=contact,
        queue_id="familia-capital",
        area="familia",
        priority="urgent" if urgent else "normal",
        reason="triaged",
        **envelope,
    )
    assigned = CaseAssigned(
        event_id=f"a-{case}",
        case_id=case_id,
        contact_id=contact,
        agent_id=f"agent-{case % 40}",
        queue_id="familia-capital",
        routing_decision_id=decision,
        **envelope,
    )
    yield [(queued.NAME, queued.to_record()), (assigned.NAME, assigned.to_record())]
    for n in range(AGENT_ROUNDS):
        at += timedelta(minutes=3)
        reply = MessageSent(
            event_id=f"out-{case}-{n}",
            occurred_at=at,
            correlation_id=first.event_id,
            subject_id=subject,
            channel="whatsapp",
            contact_id=contact,
            contact_address="+5511998765432",
            channel_account_id="106540352242922",
            case_id=case_id,
            message_id=f"agent-{case}-{n}",
            sender_kind="agent",
            agent_id=f"agent-{case % 40}",
            text="Bom dia, sou a defensora que vai cuidar do seu caso. Pode me enviar o RG?",
            sent_at=at,
        )
        yield [(reply.NAME, reply.to_record()), *_statuses(case, reply.message_id, at)]
        at += timedelta(minutes=2)
        answer = citizen_message(case, 10 + n, "segue o documento, obrigada", at)
        yield [("MessageReceived", answer.to_record())]
    closed = CaseClosed(
        event_id=f"c-{case}",
        occurred_at=at + timedelta(minutes=1),
        correlation_id=first.event_id,
        case_id=case_id,
        contact_id=contact,
        reason="resolved",
        closed_by_agent_id=f"agent-{case % 40}",
    )
    yield [(closed.NAME, closed.to_record())]


def _statuses(case: int, message_id: str, at: datetime) -> list[Event]:
    out: list[Event] = []
    for k, status in enumerate(("sent", "delivered", "read")):
        changed = DeliveryStatusChanged(
            event_id=f"st-{message_id}-{status}",
            occurred_at=at + timedelta(seconds=k + 1),
            correlation_id=f"in-{case}-0",
            channel="whatsapp",
            contact_id=f"contact-{case}",
            message_id=message_id,
            provider_message_id=f"wamid-out-{message_id}",
            status=status,  # type: ignore[arg-type]
            status_at=at + timedelta(seconds=k + 1),
        )
        out.append((changed.NAME, changed.to_record()))
    return out


Paced = tuple[float, str, dict[str, Any], str | None]
"""(seconds from the start, event name, record, the contact whose triage it completes)."""


def paced_office_day(rate: float, seconds: float, *, step_s: float = 0.2) -> list[Paced]:
    """Case lives started at a steady pace so that, once the first lives are under way,
    citizens' and agents' messages together arrive at `rate` a second; a life moves one
    step every `step_s` seconds; lives still running at `seconds` are cut there.

    The router's copies (CaseQueued, CaseAssigned) are left out: a benchmark that runs
    the router gets them from the router itself.
    """
    per_life = sum(
        1 for step in _life(0) for name, _ in step if name in ("MessageReceived", "MessageSent")
    )
    starts_per_s = rate / per_life
    out: list[Paced] = []
    case = 0
    while (start := case / starts_per_s) < seconds:
        completing = 0 if case % 10 == 0 else len(TRIAGE) - 1  # urgent: the first message
        for k, step in enumerate(_life(case)):
            at = start + k * step_s
            if at >= seconds:
                break
            for name, record in step:
                if name in ("CaseQueued", "CaseAssigned"):
                    continue
                done = f"contact-{case}" if k == completing and name == "MessageReceived" else None
                out.append((at, name, record, done))
        case += 1
    out.sort(key=lambda item: item[0])
    return out


AREAS = (
    "familia",
    "violencia_domestica",
    "criminal",
    "execucao_penal",
    "infancia_juventude",
    "saude",
    "moradia",
    "consumidor",
    "idoso",
    "previdencia",
)


def routing_day(agents: list[str], cases: int, open_at_once: int = 150) -> list[Event]:
    """What `acolhe.routing` carries: agents coming online, then `cases` triaged cases
    across the areas (a tenth urgent), each closed once `open_at_once` later ones came in,
    so agents keep freeing up as in an office's day."""
    out: list[Event] = []
    for agent in agents:
        online = AgentPresenceChanged(
            event_id=f"on-{agent}",
            occurred_at=T0,
            correlation_id=f"on-{agent}",
            agent_id=agent,
            presence="available",
            previous_presence=None,
            changed_at=T0,
        )
        out.append((online.NAME, online.to_record()))
    for i in range(cases):
        at = T0 + timedelta(seconds=i)
        urgent = i % 10 == 0
        triaged = CaseTriaged(
            event_id=f"t-{i}",
            occurred_at=at,
            correlation_id=f"in-{i}-0",
            subject_id=f"citizen-{i}",
            case_id=f"case-{i}",
            contact_id=f"contact-{i}",
            area=AREAS[i % len(AREAS)],  # type: ignore[arg-type]
            priority="urgent" if urgent else "normal",
            urgency_flags=("violence_or_threat",) if urgent else (),
            region=None,
            eligible=True,
            documents_present=(),
            answers=(),
            rules_version="bench",
            rules_fired=(),
        )
        out.append((triaged.NAME, triaged.to_record()))
        if i >= open_at_once:
            j = i - open_at_once
            closed = CaseClosed(
                event_id=f"c-{j}",
                occurred_at=at,
                correlation_id=f"in-{j}-0",
                case_id=f"case-{j}",
                contact_id=f"contact-{j}",
                reason="resolved",
            )
            out.append((closed.NAME, closed.to_record()))
    return out
