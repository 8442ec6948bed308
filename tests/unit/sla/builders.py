"""Events and a policy for the SLA clock tests: given these events, when this, then that.

Times are São Paulo wall-clock times (UTC-3 all year since 2019) on real 2026 dates; the
office-hours calendar opens 09:00-12:00 and 13:00-17:00 on weekdays, so one business day is
7 hours of counted time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from schemas.envelope import derive_event_id
from schemas.events import (
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CasePutOnHold,
    CaseQueued,
    CaseReopened,
    CaseResumed,
    CaseTransferred,
    CaseTriaged,
    ClockTicked,
    CloseReason,
    HoldReason,
    MessageReceived,
    MessageSent,
    Priority,
    SenderKind,
    SlaMetric,
    SlaPolicyChanged,
    SlaTarget,
)
from streams.sla.clocks import CaseClocks, Input, Output, clock_id_for
from streams.sla.domain import handle
from streams.sla.policy import SlaPolicy, parse_policy

SP = ZoneInfo("America/Sao_Paulo")
CASE = "case-maria"
CONTACT = "contact-maria"
CITIZEN = "citizen-maria"
PHONE = "+5511987654321"
GENERAL = "familia-capital"
URGENT = "violencia-domestica-urgente"
HOUR = 3_600_000  # milliseconds
MINUTE = 60_000
E = TypeVar("E")


def _targets(fr: str, nr: str, res: str, warn: str) -> dict[str, dict[str, str | float]]:
    return {
        "first_response": {"target": fr, "warn_before": warn},
        "next_response": {"target": nr, "warn_before": warn},
        "resolution": {"target": res, "warn_at": 0.8},
    }


POLICY: SlaPolicy = parse_policy(
    {
        "comment": "Like the shipped policy, with round numbers the tests can reason about.",
        "version": "test-1",
        "policies": [
            {
                "policy_id": "geral",
                "version": 1,
                "queues": ["*"],
                "calendar": "office-hours",
                "pause_reasons": ["waiting_on_citizen", "documents_pending", "external"],
                "targets": {
                    "urgent": _targets("30m", "1h", "14h", "10m"),
                    "high": _targets("2h", "3h", "35h", "30m"),
                    "normal": _targets("7h", "7h", "70h", "2h"),
                    "low": _targets("14h", "14h", "140h", "3h"),
                    "unknown": _targets("7h", "7h", "70h", "2h"),
                },
            },
            {
                "policy_id": "urgente",
                "version": 1,
                "queues": [URGENT],
                "calendar": "urgent-24x7",
                "pause_reasons": ["waiting_on_citizen", "documents_pending"],
                "targets": {
                    "urgent": _targets("15m", "30m", "24h", "5m"),
                    "high": _targets("1h", "1h", "48h", "15m"),
                    "normal": _targets("4h", "4h", "72h", "1h"),
                    "low": _targets("8h", "8h", "120h", "2h"),
                    "unknown": _targets("15m", "30m", "24h", "5m"),
                },
            },
        ],
    },
    source="tests/unit/sla/builders.py",
)


def sp(month: int, day: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    """A São Paulo wall-clock time in 2026, as the UTC instant events carry."""
    return datetime(2026, month, day, hh, mm, ss, us, tzinfo=SP).astimezone(UTC)


def local(at: datetime | None) -> datetime | None:
    return None if at is None else at.astimezone(SP)


def _id(*parts: str) -> str:
    return derive_event_id("tests.sla", *parts)


def opened(when: datetime, case_id: str = CASE) -> CaseOpened:
    event_id = _id("opened", case_id)
    return CaseOpened(
        event_id=event_id,
        occurred_at=when,
        correlation_id=event_id,
        case_id=case_id,
        citizen_id=CITIZEN,
        contact_id=CONTACT,
        channel="whatsapp",
        opened_by_message_id=_id("message", "0"),
    )


def clock_of(metric: SlaMetric, started_by: str | None = None) -> str:
    """The clock id of CASE's run of `metric` started by that event (the opening by default)."""
    return clock_id_for(CASE, metric, started_by or _id("opened", CASE))


def triaged(when: datetime, priority: Priority) -> CaseTriaged:
    return CaseTriaged(
        event_id=_id("triaged", when.isoformat(), priority),
        occurred_at=when,
        correlation_id=CASE,
        subject_id=CITIZEN,
        case_id=CASE,
        area="familia",
        priority=priority,
        rules_version="r1",
    )


def queued(when: datetime, queue_id: str = GENERAL, priority: Priority = "normal") -> CaseQueued:
    return CaseQueued(
        event_id=_id("queued", when.isoformat(), queue_id, priority),
        occurred_at=when,
        correlation_id=CASE,
        case_id=CASE,
        queue_id=queue_id,
        area="familia",
        priority=priority,
        reason="triaged",
    )


def assigned(when: datetime, queue_id: str = GENERAL) -> CaseAssigned:
    return CaseAssigned(
        event_id=_id("assigned", when.isoformat(), queue_id),
        occurred_at=when,
        correlation_id=CASE,
        case_id=CASE,
        agent_id="agent-ana",
        queue_id=queue_id,
        routing_decision_id="rd-1",
    )


def transferred(when: datetime, to_queue_id: str) -> CaseTransferred:
    return CaseTransferred(
        event_id=_id("transferred", when.isoformat(), to_queue_id),
        occurred_at=when,
        correlation_id=CASE,
        subject_id=CITIZEN,
        case_id=CASE,
        from_queue_id=GENERAL,
        to_queue_id=to_queue_id,
        contact_id=CONTACT,
    )


def replied(when: datetime, sender: SenderKind = "agent", n: int = 0) -> MessageSent:
    """A message to the citizen: an agent's reply unless `sender` says otherwise."""
    event_id = _id("sent", sender, when.isoformat(), str(n))
    return MessageSent(
        event_id=event_id,
        occurred_at=when,
        correlation_id=CASE,
        subject_id=CITIZEN,
        channel="whatsapp",
        contact_id=CONTACT,
        contact_address=PHONE,
        case_id=CASE,
        message_id=event_id,
        sender_kind=sender,
        agent_id="agent-ana" if sender == "agent" else None,
        text="Por favor, envie uma foto do seu RG.",
        sent_at=when,
    )


def wrote(when: datetime, n: int = 1) -> MessageReceived:
    """The citizen's n-th message (the same n is the same message: a redelivery)."""
    wamid = f"wamid.{CONTACT}.{n}"
    event_id = derive_event_id("whatsapp", wamid)
    return MessageReceived(
        event_id=event_id,
        occurred_at=when,
        correlation_id=event_id,
        subject_id=CITIZEN,
        channel="whatsapp",
        contact_id=CONTACT,
        contact_address=PHONE,
        provider_message_id=wamid,
        kind="text",
        text=f"mensagem {n}",
        received_at=when,
    )


def held(when: datetime, reason: HoldReason) -> CasePutOnHold:
    return CasePutOnHold(
        event_id=_id("hold", when.isoformat(), reason),
        occurred_at=when,
        correlation_id=CASE,
        case_id=CASE,
        reason=reason,
        put_by_agent_id="agent-ana",
        contact_id=CONTACT,
    )


def resumed(when: datetime) -> CaseResumed:
    return CaseResumed(
        event_id=_id("resumed", when.isoformat()),
        occurred_at=when,
        correlation_id=CASE,
        case_id=CASE,
        reason="citizen_replied",
        held_ms=0,
        contact_id=CONTACT,
    )


def closed(when: datetime, reason: CloseReason = "resolved") -> CaseClosed:
    return CaseClosed(
        event_id=_id("closed", when.isoformat()),
        occurred_at=when,
        correlation_id=CASE,
        case_id=CASE,
        reason=reason,
        closed_by_agent_id="agent-ana",
        contact_id=CONTACT,
    )


def reopened(when: datetime, previous: datetime, by_message: str | None) -> CaseReopened:
    return CaseReopened(
        event_id=_id("reopened", when.isoformat()),
        occurred_at=when,
        correlation_id=_id("reopened", when.isoformat()),
        case_id=CASE,
        reopened_by_message_id=by_message,
        previous_closed_at=previous,
        previous_close_reason="resolved",
        contact_id=CONTACT,
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


def policy_changed(
    when: datetime,
    targets: Sequence[tuple[Priority, SlaMetric, int, int]],
    *,
    queue_id: str = "*",
    policy_id: str = "geral",
    version: int = 2,
    calendar_id: str | None = "office-hours",
) -> SlaPolicyChanged:
    """An administrator's change; targets are (priority, metric, target_ms, warning_ms)."""
    return SlaPolicyChanged(
        event_id=_id("policy", policy_id, str(version), queue_id),
        occurred_at=when,
        correlation_id=_id("policy", policy_id),
        policy_id=policy_id,
        version=version,
        queue_id=queue_id,
        targets=tuple(
            SlaTarget(priority=p, metric=m, target_ms=t, warning_ms=w) for p, m, t, w in targets
        ),
        business_hours=calendar_id is not None,
        calendar_id=calendar_id,
        pause_reasons=("waiting_on_citizen", "documents_pending", "external"),
        effective_from=when,
    )


def given(*events: Input, policy: SlaPolicy = POLICY) -> CaseClocks | None:
    """CASE's clocks after these events, each handled as the processor would."""
    state: CaseClocks | None = None
    for event in events:
        state, _ = handle(state, event, policy)
    return state


def when(
    state: CaseClocks | None, events: Iterable[Input], policy: SlaPolicy = POLICY
) -> tuple[CaseClocks | None, list[Output]]:
    """Handle these events in order; the final state and every output, in order."""
    outputs: list[Output] = []
    for event in events:
        state, out = handle(state, event, policy)
        outputs.extend(out)
    return state, outputs


def names(events: Iterable[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def only(kind: type[E], events: Iterable[object]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def one(kind: type[E], events: Iterable[object], metric: SlaMetric | None = None) -> E:
    """The single event of this type (and metric) among `events`."""
    found = [
        e for e in only(kind, events) if metric is None or getattr(e, "metric", None) == metric
    ]
    assert len(found) == 1, f"expected one {kind.__name__} {metric or ''}, got {names(found)}"
    return found[0]


def later(at: datetime, **delta: float) -> datetime:
    return at + timedelta(**delta)
