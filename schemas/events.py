"""The Python types of acolhe's events, generated from schemas/avro/*.avsc.

Do not edit: run `python -m schemas.typegen` after changing a schema.
"""

# ruff: noqa: E501
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from schemas.personal import Erased

_ = (date, datetime, Erased)  # used in annotations only

Area = Literal["familia", "violencia_domestica", "criminal", "execucao_penal", "infancia_juventude", "saude", "moradia", "consumidor", "idoso", "previdencia", "other", "unknown"]
BlockingBasis = Literal["data_subject_request", "authority_order", "court_order", "unknown"]
Channel = Literal["web_chat", "whatsapp", "email", "unknown"]
CloseReason = Literal["resolved", "auto_closed_inactivity", "duplicate", "ineligible", "withdrawn", "unknown", "citizen_erased"]
DeliveryStatus = Literal["sent", "delivered", "read", "failed", "unknown"]
DocumentType = Literal["rg", "cpf", "proof_of_address", "proof_of_income", "birth_certificate", "court_papers", "other", "unknown"]
HoldReason = Literal["waiting_on_citizen", "documents_pending", "external", "inactivity", "unknown"]
HolidayScope = Literal["national", "state", "city", "office", "unknown"]
InputSource = Literal["kafka", "http", "smtp", "imap", "websocket", "unknown"]
LegalBasis = Literal["data_subject_request", "end_of_processing", "unknown"]
LinkReason = Literal["agent_decision", "same_document", "citizen_confirmed", "unknown"]
MessageKind = Literal["text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive", "button", "reaction", "unsupported", "email", "unknown"]
Presence = Literal["available", "away", "offline", "unknown"]
Priority = Literal["urgent", "high", "normal", "low", "unknown"]
QueueReason = Literal["triaged", "released", "transferred", "escalated", "reopened", "unknown"]
RefusalReason = Literal["not_your_case", "case_closed", "no_such_case", "unknown_queue", "over_capacity", "agent_offline", "invalid", "not_waiting", "not_eligible", "unknown"]
ReleaseReason = Literal["agent_request", "agent_offline", "capacity_reduced", "supervisor", "unknown"]
ResumeReason = Literal["citizen_replied", "agent", "hold_expired", "unknown"]
RoutingRule = Literal["load_balancing", "longest_idle", "round_robin", "manual", "sticky", "escalation", "unknown"]
SenderKind = Literal["agent", "bot", "system", "unknown"]
SlaMetric = Literal["first_response", "next_response", "resolution", "unknown"]
UnlinkReason = Literal["linked_by_mistake", "shared_contact", "citizen_request", "unknown"]
UrgencyFlag = Literal["violence_or_threat", "just_arrested", "health_risk", "imminent_eviction", "unknown"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentCapacityChanged:
    NAME: ClassVar[str] = "AgentCapacityChanged"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    agent_id: str
    capacity: int
    previous_capacity: int | None = None
    changed_by_agent_id: str | None = None
    changed_at: datetime

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "agent_id": self.agent_id,
            "capacity": self.capacity,
            "previous_capacity": self.previous_capacity,
            "changed_by_agent_id": self.changed_by_agent_id,
            "changed_at": self.changed_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> AgentCapacityChanged:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            agent_id=r["agent_id"],
            capacity=r["capacity"],
            previous_capacity=r.get("previous_capacity", None),
            changed_by_agent_id=r.get("changed_by_agent_id", None),
            changed_at=r["changed_at"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentPresenceChanged:
    NAME: ClassVar[str] = "AgentPresenceChanged"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    agent_id: str
    presence: Presence
    previous_presence: Presence | None = None
    changed_at: datetime

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "agent_id": self.agent_id,
            "presence": self.presence,
            "previous_presence": self.previous_presence,
            "changed_at": self.changed_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> AgentPresenceChanged:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            agent_id=r["agent_id"],
            presence=r["presence"],
            previous_presence=r.get("previous_presence", None),
            changed_at=r["changed_at"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class OpeningHours:
    weekday: int
    opens: str
    closes: str

    def to_record(self) -> dict[str, Any]:
        return {
            "weekday": self.weekday,
            "opens": self.opens,
            "closes": self.closes,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> OpeningHours:
        return cls(
            weekday=r["weekday"],
            opens=r["opens"],
            closes=r["closes"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Break:
    weekday: int
    starts: str
    ends: str

    def to_record(self) -> dict[str, Any]:
        return {
            "weekday": self.weekday,
            "starts": self.starts,
            "ends": self.ends,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Break:
        return cls(
            weekday=r["weekday"],
            starts=r["starts"],
            ends=r["ends"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Holiday:
    date: date
    name: str
    scope: HolidayScope

    def to_record(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "name": self.name,
            "scope": self.scope,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Holiday:
        return cls(
            date=r["date"],
            name=r["name"],
            scope=r["scope"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CalendarChanged:
    NAME: ClassVar[str] = "CalendarChanged"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    calendar_id: str
    version: int
    time_zone: str
    weekly_hours: tuple[OpeningHours, ...] = ()
    breaks: tuple[Break, ...] = ()
    holidays: tuple[Holiday, ...] = ()
    effective_from: datetime
    changed_by_agent_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "calendar_id": self.calendar_id,
            "version": self.version,
            "time_zone": self.time_zone,
            "weekly_hours": [x.to_record() for x in self.weekly_hours] if self.weekly_hours else [],
            "breaks": [x.to_record() for x in self.breaks] if self.breaks else [],
            "holidays": [x.to_record() for x in self.holidays] if self.holidays else [],
            "effective_from": self.effective_from,
            "changed_by_agent_id": self.changed_by_agent_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CalendarChanged:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            calendar_id=r["calendar_id"],
            version=r["version"],
            time_zone=r["time_zone"],
            weekly_hours=tuple(OpeningHours.from_record(x) for x in r.get("weekly_hours", ())),
            breaks=tuple(Break.from_record(x) for x in r.get("breaks", ())),
            holidays=tuple(Holiday.from_record(x) for x in r.get("holidays", ())),
            effective_from=r["effective_from"],
            changed_by_agent_id=r.get("changed_by_agent_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseAssigned:
    NAME: ClassVar[str] = "CaseAssigned"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    agent_id: str
    queue_id: str
    routing_decision_id: str
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "agent_id": self.agent_id,
            "queue_id": self.queue_id,
            "routing_decision_id": self.routing_decision_id,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseAssigned:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            agent_id=r["agent_id"],
            queue_id=r["queue_id"],
            routing_decision_id=r["routing_decision_id"],
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseClosed:
    NAME: ClassVar[str] = "CaseClosed"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    reason: CloseReason
    closed_by_agent_id: str | None = None
    duplicate_of_case_id: str | None = None
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "reason": self.reason,
            "closed_by_agent_id": self.closed_by_agent_id,
            "duplicate_of_case_id": self.duplicate_of_case_id,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseClosed:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            reason=r["reason"],
            closed_by_agent_id=r.get("closed_by_agent_id", None),
            duplicate_of_case_id=r.get("duplicate_of_case_id", None),
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseOpened:
    NAME: ClassVar[str] = "CaseOpened"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    citizen_id: str
    contact_id: str
    channel: Channel
    opened_by_message_id: str | None = None
    opened_by_agent_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "citizen_id": self.citizen_id,
            "contact_id": self.contact_id,
            "channel": self.channel,
            "opened_by_message_id": self.opened_by_message_id,
            "opened_by_agent_id": self.opened_by_agent_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseOpened:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            citizen_id=r["citizen_id"],
            contact_id=r["contact_id"],
            channel=r["channel"],
            opened_by_message_id=r.get("opened_by_message_id", None),
            opened_by_agent_id=r.get("opened_by_agent_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CasePutOnHold:
    NAME: ClassVar[str] = "CasePutOnHold"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    reason: HoldReason
    put_by_agent_id: str | None = None
    until: datetime | None = None
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "reason": self.reason,
            "put_by_agent_id": self.put_by_agent_id,
            "until": self.until,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CasePutOnHold:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            reason=r["reason"],
            put_by_agent_id=r.get("put_by_agent_id", None),
            until=r.get("until", None),
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseQueued:
    NAME: ClassVar[str] = "CaseQueued"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    queue_id: str
    area: Area
    priority: Priority
    reason: QueueReason
    position: int | None = None
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "queue_id": self.queue_id,
            "area": self.area,
            "priority": self.priority,
            "reason": self.reason,
            "position": self.position,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseQueued:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            queue_id=r["queue_id"],
            area=r["area"],
            priority=r["priority"],
            reason=r["reason"],
            position=r.get("position", None),
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseReleased:
    NAME: ClassVar[str] = "CaseReleased"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    agent_id: str
    queue_id: str
    reason: ReleaseReason
    released_by_agent_id: str | None = None
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "agent_id": self.agent_id,
            "queue_id": self.queue_id,
            "reason": self.reason,
            "released_by_agent_id": self.released_by_agent_id,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseReleased:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            agent_id=r["agent_id"],
            queue_id=r["queue_id"],
            reason=r["reason"],
            released_by_agent_id=r.get("released_by_agent_id", None),
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseReopened:
    NAME: ClassVar[str] = "CaseReopened"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    reopened_by_message_id: str | None = None
    reopened_by_agent_id: str | None = None
    previous_closed_at: datetime
    previous_close_reason: CloseReason
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "reopened_by_message_id": self.reopened_by_message_id,
            "reopened_by_agent_id": self.reopened_by_agent_id,
            "previous_closed_at": self.previous_closed_at,
            "previous_close_reason": self.previous_close_reason,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseReopened:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            reopened_by_message_id=r.get("reopened_by_message_id", None),
            reopened_by_agent_id=r.get("reopened_by_agent_id", None),
            previous_closed_at=r["previous_closed_at"],
            previous_close_reason=r["previous_close_reason"],
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseResumed:
    NAME: ClassVar[str] = "CaseResumed"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    reason: ResumeReason
    resumed_by_agent_id: str | None = None
    held_ms: int
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "reason": self.reason,
            "resumed_by_agent_id": self.resumed_by_agent_id,
            "held_ms": self.held_ms,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseResumed:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            reason=r["reason"],
            resumed_by_agent_id=r.get("resumed_by_agent_id", None),
            held_ms=r["held_ms"],
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseTransferred:
    NAME: ClassVar[str] = "CaseTransferred"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    subject_id: str
    case_id: str
    from_queue_id: str
    from_agent_id: str | None = None
    to_queue_id: str
    to_agent_id: str | None = None
    transferred_by_agent_id: str | None = None
    reason: str | Erased | None = None
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "subject_id": self.subject_id,
            "case_id": self.case_id,
            "from_queue_id": self.from_queue_id,
            "from_agent_id": self.from_agent_id,
            "to_queue_id": self.to_queue_id,
            "to_agent_id": self.to_agent_id,
            "transferred_by_agent_id": self.transferred_by_agent_id,
            "reason": self.reason,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseTransferred:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            subject_id=r["subject_id"],
            case_id=r["case_id"],
            from_queue_id=r["from_queue_id"],
            from_agent_id=r.get("from_agent_id", None),
            to_queue_id=r["to_queue_id"],
            to_agent_id=r.get("to_agent_id", None),
            transferred_by_agent_id=r.get("transferred_by_agent_id", None),
            reason=r.get("reason", None),
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class TriageAnswer:
    question_id: str
    answer: str | Erased
    choice_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "answer": self.answer,
            "choice_id": self.choice_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> TriageAnswer:
        return cls(
            question_id=r["question_id"],
            answer=r["answer"],
            choice_id=r.get("choice_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseTriaged:
    NAME: ClassVar[str] = "CaseTriaged"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    subject_id: str
    case_id: str
    area: Area
    priority: Priority
    urgency_flags: tuple[UrgencyFlag, ...] = ()
    region: str | None = None
    eligible: bool | None = None
    documents_present: tuple[DocumentType, ...] = ()
    answers: tuple[TriageAnswer, ...] = ()
    rules_version: str
    rules_fired: tuple[str, ...] = ()
    triaged_by_agent_id: str | None = None
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "subject_id": self.subject_id,
            "case_id": self.case_id,
            "area": self.area,
            "priority": self.priority,
            "urgency_flags": list(self.urgency_flags),
            "region": self.region,
            "eligible": self.eligible,
            "documents_present": list(self.documents_present),
            "answers": [x.to_record() for x in self.answers] if self.answers else [],
            "rules_version": self.rules_version,
            "rules_fired": list(self.rules_fired),
            "triaged_by_agent_id": self.triaged_by_agent_id,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CaseTriaged:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            subject_id=r["subject_id"],
            case_id=r["case_id"],
            area=r["area"],
            priority=r["priority"],
            urgency_flags=tuple(r.get("urgency_flags", ())),
            region=r.get("region", None),
            eligible=r.get("eligible", None),
            documents_present=tuple(r.get("documents_present", ())),
            answers=tuple(TriageAnswer.from_record(x) for x in r.get("answers", ())),
            rules_version=r["rules_version"],
            rules_fired=tuple(r.get("rules_fired", ())),
            triaged_by_agent_id=r.get("triaged_by_agent_id", None),
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeCapacity:
    NAME: ClassVar[str] = "ChangeCapacity"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    agent_id: str
    capacity: int

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "agent_id": self.agent_id,
            "capacity": self.capacity,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ChangeCapacity:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            agent_id=r["agent_id"],
            capacity=r["capacity"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangePresence:
    NAME: ClassVar[str] = "ChangePresence"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    agent_id: str
    presence: Presence

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "agent_id": self.agent_id,
            "presence": self.presence,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ChangePresence:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            agent_id=r["agent_id"],
            presence=r["presence"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CitizenBlocked:
    NAME: ClassVar[str] = "CitizenBlocked"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    citizen_id: str
    requested_by_agent_id: str | None = None
    legal_basis: BlockingBasis
    request_reference: str

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "citizen_id": self.citizen_id,
            "requested_by_agent_id": self.requested_by_agent_id,
            "legal_basis": self.legal_basis,
            "request_reference": self.request_reference,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CitizenBlocked:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            citizen_id=r["citizen_id"],
            requested_by_agent_id=r.get("requested_by_agent_id", None),
            legal_basis=r["legal_basis"],
            request_reference=r["request_reference"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CitizenUnblocked:
    NAME: ClassVar[str] = "CitizenUnblocked"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    citizen_id: str
    requested_by_agent_id: str | None = None
    legal_basis: BlockingBasis
    request_reference: str

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "citizen_id": self.citizen_id,
            "requested_by_agent_id": self.requested_by_agent_id,
            "legal_basis": self.legal_basis,
            "request_reference": self.request_reference,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CitizenUnblocked:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            citizen_id=r["citizen_id"],
            requested_by_agent_id=r.get("requested_by_agent_id", None),
            legal_basis=r["legal_basis"],
            request_reference=r["request_reference"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ClaimCase:
    NAME: ClassVar[str] = "ClaimCase"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    agent_id: str
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "agent_id": self.agent_id,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ClaimCase:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            agent_id=r["agent_id"],
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ClockTicked:
    NAME: ClassVar[str] = "ClockTicked"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    source: str
    sequence: int
    tick_at: datetime
    interval_ms: int

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "source": self.source,
            "sequence": self.sequence,
            "tick_at": self.tick_at,
            "interval_ms": self.interval_ms,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ClockTicked:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            source=r["source"],
            sequence=r["sequence"],
            tick_at=r["tick_at"],
            interval_ms=r["interval_ms"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CloseCase:
    NAME: ClassVar[str] = "CloseCase"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    contact_id: str
    agent_id: str
    reason: CloseReason
    duplicate_of_case_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "contact_id": self.contact_id,
            "agent_id": self.agent_id,
            "reason": self.reason,
            "duplicate_of_case_id": self.duplicate_of_case_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CloseCase:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            contact_id=r["contact_id"],
            agent_id=r["agent_id"],
            reason=r["reason"],
            duplicate_of_case_id=r.get("duplicate_of_case_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandRefused:
    NAME: ClassVar[str] = "CommandRefused"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    command_id: str
    command: str
    agent_id: str
    case_id: str | None = None
    contact_id: str | None = None
    reason: RefusalReason
    detail: str

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "command_id": self.command_id,
            "command": self.command,
            "agent_id": self.agent_id,
            "case_id": self.case_id,
            "contact_id": self.contact_id,
            "reason": self.reason,
            "detail": self.detail,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> CommandRefused:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            command_id=r["command_id"],
            command=r["command"],
            agent_id=r["agent_id"],
            case_id=r.get("case_id", None),
            contact_id=r.get("contact_id", None),
            reason=r["reason"],
            detail=r["detail"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ContactsLinked:
    NAME: ClassVar[str] = "ContactsLinked"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    citizen_id: str
    contact_ids: tuple[str, ...] = ()
    merged_citizen_ids: tuple[str, ...] = ()
    linked_by_agent_id: str | None = None
    reason: LinkReason | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "citizen_id": self.citizen_id,
            "contact_ids": list(self.contact_ids),
            "merged_citizen_ids": list(self.merged_citizen_ids),
            "linked_by_agent_id": self.linked_by_agent_id,
            "reason": self.reason,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ContactsLinked:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            citizen_id=r["citizen_id"],
            contact_ids=tuple(r.get("contact_ids", ())),
            merged_citizen_ids=tuple(r.get("merged_citizen_ids", ())),
            linked_by_agent_id=r.get("linked_by_agent_id", None),
            reason=r.get("reason", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ContactsUnlinked:
    NAME: ClassVar[str] = "ContactsUnlinked"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    citizen_id: str
    contact_id: str
    new_citizen_id: str
    unlinked_by_agent_id: str | None = None
    reason: UnlinkReason | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "citizen_id": self.citizen_id,
            "contact_id": self.contact_id,
            "new_citizen_id": self.new_citizen_id,
            "unlinked_by_agent_id": self.unlinked_by_agent_id,
            "reason": self.reason,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ContactsUnlinked:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            citizen_id=r["citizen_id"],
            contact_id=r["contact_id"],
            new_citizen_id=r["new_citizen_id"],
            unlinked_by_agent_id=r.get("unlinked_by_agent_id", None),
            reason=r.get("reason", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryError:
    code: str
    title: str
    detail: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> DeliveryError:
        return cls(
            code=r["code"],
            title=r["title"],
            detail=r.get("detail", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryStatusChanged:
    NAME: ClassVar[str] = "DeliveryStatusChanged"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    channel: Channel
    contact_id: str
    case_id: str | None = None
    message_id: str
    provider_message_id: str
    status: DeliveryStatus
    status_at: datetime
    errors: tuple[DeliveryError, ...] = ()
    provider_timestamp: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "channel": self.channel,
            "contact_id": self.contact_id,
            "case_id": self.case_id,
            "message_id": self.message_id,
            "provider_message_id": self.provider_message_id,
            "status": self.status,
            "status_at": self.status_at,
            "errors": [x.to_record() for x in self.errors] if self.errors else [],
            "provider_timestamp": self.provider_timestamp,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> DeliveryStatusChanged:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            channel=r["channel"],
            contact_id=r["contact_id"],
            case_id=r.get("case_id", None),
            message_id=r["message_id"],
            provider_message_id=r["provider_message_id"],
            status=r["status"],
            status_at=r["status_at"],
            errors=tuple(DeliveryError.from_record(x) for x in r.get("errors", ())),
            provider_timestamp=r.get("provider_timestamp", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ErasureCompleted:
    NAME: ClassVar[str] = "ErasureCompleted"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    citizen_id: str
    keys_destroyed: int
    projections_redacted: int
    completed_at: datetime

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "citizen_id": self.citizen_id,
            "keys_destroyed": self.keys_destroyed,
            "projections_redacted": self.projections_redacted,
            "completed_at": self.completed_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ErasureCompleted:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            citizen_id=r["citizen_id"],
            keys_destroyed=r["keys_destroyed"],
            projections_redacted=r["projections_redacted"],
            completed_at=r["completed_at"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ErasureRequested:
    NAME: ClassVar[str] = "ErasureRequested"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    citizen_id: str
    requested_by_agent_id: str | None = None
    legal_basis: LegalBasis
    request_reference: str | None = None
    requested_at: datetime

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "citizen_id": self.citizen_id,
            "requested_by_agent_id": self.requested_by_agent_id,
            "legal_basis": self.legal_basis,
            "request_reference": self.request_reference,
            "requested_at": self.requested_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ErasureRequested:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            citizen_id=r["citizen_id"],
            requested_by_agent_id=r.get("requested_by_agent_id", None),
            legal_basis=r["legal_basis"],
            request_reference=r.get("request_reference", None),
            requested_at=r["requested_at"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class InputHeader:
    name: str
    value: bytes

    def to_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> InputHeader:
        return cls(
            name=r["name"],
            value=r["value"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class InputDeadLettered:
    NAME: ClassVar[str] = "InputDeadLettered"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    source: InputSource
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    source_key: bytes | None = None
    source_headers: tuple[InputHeader, ...] = ()
    content_type: str | None = None
    payload: bytes
    payload_sha256: str
    error_type: str
    reason: str
    processor: str
    dead_lettered_at: datetime

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "source": self.source,
            "source_topic": self.source_topic,
            "source_partition": self.source_partition,
            "source_offset": self.source_offset,
            "source_key": self.source_key,
            "source_headers": [x.to_record() for x in self.source_headers] if self.source_headers else [],
            "content_type": self.content_type,
            "payload": self.payload,
            "payload_sha256": self.payload_sha256,
            "error_type": self.error_type,
            "reason": self.reason,
            "processor": self.processor,
            "dead_lettered_at": self.dead_lettered_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> InputDeadLettered:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            source=r["source"],
            source_topic=r.get("source_topic", None),
            source_partition=r.get("source_partition", None),
            source_offset=r.get("source_offset", None),
            source_key=r.get("source_key", None),
            source_headers=tuple(InputHeader.from_record(x) for x in r.get("source_headers", ())),
            content_type=r.get("content_type", None),
            payload=r["payload"],
            payload_sha256=r["payload_sha256"],
            error_type=r["error_type"],
            reason=r["reason"],
            processor=r["processor"],
            dead_lettered_at=r["dead_lettered_at"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Attachment:
    attachment_id: str
    provider_media_id: str | None = None
    media_type: str
    size_bytes: int
    sha256: str
    storage_ref: str
    file_name: str | Erased | None = None
    caption: str | Erased | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "attachment_id": self.attachment_id,
            "provider_media_id": self.provider_media_id,
            "media_type": self.media_type,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "storage_ref": self.storage_ref,
            "file_name": self.file_name,
            "caption": self.caption,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Attachment:
        return cls(
            attachment_id=r["attachment_id"],
            provider_media_id=r.get("provider_media_id", None),
            media_type=r["media_type"],
            size_bytes=r["size_bytes"],
            sha256=r["sha256"],
            storage_ref=r["storage_ref"],
            file_name=r.get("file_name", None),
            caption=r.get("caption", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Location:
    latitude: str | Erased
    longitude: str | Erased
    name: str | Erased | None = None
    address: str | Erased | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "name": self.name,
            "address": self.address,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Location:
        return cls(
            latitude=r["latitude"],
            longitude=r["longitude"],
            name=r.get("name", None),
            address=r.get("address", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SharedContact:
    card: str | Erased

    def to_record(self) -> dict[str, Any]:
        return {
            "card": self.card,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SharedContact:
        return cls(
            card=r["card"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageReceived:
    NAME: ClassVar[str] = "MessageReceived"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    subject_id: str
    channel: Channel
    contact_id: str
    contact_address: str | Erased
    channel_account_id: str | None = None
    provider_message_id: str
    case_id: str | None = None
    kind: MessageKind
    sender_name: str | Erased | None = None
    email_subject: str | Erased | None = None
    text: str | Erased | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to_provider_message_id: str | None = None
    thread_id: str | None = None
    location: Location | None = None
    shared_contacts: tuple[SharedContact, ...] = ()
    interactive_reply_id: str | None = None
    reaction_emoji: str | Erased | None = None
    received_at: datetime
    provider_timestamp: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "subject_id": self.subject_id,
            "channel": self.channel,
            "contact_id": self.contact_id,
            "contact_address": self.contact_address,
            "channel_account_id": self.channel_account_id,
            "provider_message_id": self.provider_message_id,
            "case_id": self.case_id,
            "kind": self.kind,
            "sender_name": self.sender_name,
            "email_subject": self.email_subject,
            "text": self.text,
            "attachments": [x.to_record() for x in self.attachments] if self.attachments else [],
            "reply_to_provider_message_id": self.reply_to_provider_message_id,
            "thread_id": self.thread_id,
            "location": None if self.location is None else self.location.to_record(),
            "shared_contacts": [x.to_record() for x in self.shared_contacts] if self.shared_contacts else [],
            "interactive_reply_id": self.interactive_reply_id,
            "reaction_emoji": self.reaction_emoji,
            "received_at": self.received_at,
            "provider_timestamp": self.provider_timestamp,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> MessageReceived:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            subject_id=r["subject_id"],
            channel=r["channel"],
            contact_id=r["contact_id"],
            contact_address=r["contact_address"],
            channel_account_id=r.get("channel_account_id", None),
            provider_message_id=r["provider_message_id"],
            case_id=r.get("case_id", None),
            kind=r["kind"],
            sender_name=r.get("sender_name", None),
            email_subject=r.get("email_subject", None),
            text=r.get("text", None),
            attachments=tuple(Attachment.from_record(x) for x in r.get("attachments", ())),
            reply_to_provider_message_id=r.get("reply_to_provider_message_id", None),
            thread_id=r.get("thread_id", None),
            location=None if r.get("location", None) is None else Location.from_record(r.get("location", None)),
            shared_contacts=tuple(SharedContact.from_record(x) for x in r.get("shared_contacts", ())),
            interactive_reply_id=r.get("interactive_reply_id", None),
            reaction_emoji=r.get("reaction_emoji", None),
            received_at=r["received_at"],
            provider_timestamp=r.get("provider_timestamp", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageSent:
    NAME: ClassVar[str] = "MessageSent"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    subject_id: str
    channel: Channel
    contact_id: str
    contact_address: str | Erased
    channel_account_id: str | None = None
    case_id: str | None = None
    message_id: str
    sender_kind: SenderKind
    agent_id: str | None = None
    email_subject: str | Erased | None = None
    text: str | Erased | None = None
    attachments: tuple[Attachment, ...] = ()
    template_name: str | None = None
    template_language: str | None = None
    template_parameters: str | Erased | None = None
    reply_to_provider_message_id: str | None = None
    thread_id: str | None = None
    sent_at: datetime

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "subject_id": self.subject_id,
            "channel": self.channel,
            "contact_id": self.contact_id,
            "contact_address": self.contact_address,
            "channel_account_id": self.channel_account_id,
            "case_id": self.case_id,
            "message_id": self.message_id,
            "sender_kind": self.sender_kind,
            "agent_id": self.agent_id,
            "email_subject": self.email_subject,
            "text": self.text,
            "attachments": [x.to_record() for x in self.attachments] if self.attachments else [],
            "template_name": self.template_name,
            "template_language": self.template_language,
            "template_parameters": self.template_parameters,
            "reply_to_provider_message_id": self.reply_to_provider_message_id,
            "thread_id": self.thread_id,
            "sent_at": self.sent_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> MessageSent:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            subject_id=r["subject_id"],
            channel=r["channel"],
            contact_id=r["contact_id"],
            contact_address=r["contact_address"],
            channel_account_id=r.get("channel_account_id", None),
            case_id=r.get("case_id", None),
            message_id=r["message_id"],
            sender_kind=r["sender_kind"],
            agent_id=r.get("agent_id", None),
            email_subject=r.get("email_subject", None),
            text=r.get("text", None),
            attachments=tuple(Attachment.from_record(x) for x in r.get("attachments", ())),
            template_name=r.get("template_name", None),
            template_language=r.get("template_language", None),
            template_parameters=r.get("template_parameters", None),
            reply_to_provider_message_id=r.get("reply_to_provider_message_id", None),
            thread_id=r.get("thread_id", None),
            sent_at=r["sent_at"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class PutCaseOnHold:
    NAME: ClassVar[str] = "PutCaseOnHold"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    contact_id: str
    agent_id: str
    reason: HoldReason

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "contact_id": self.contact_id,
            "agent_id": self.agent_id,
            "reason": self.reason,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> PutCaseOnHold:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            contact_id=r["contact_id"],
            agent_id=r["agent_id"],
            reason=r["reason"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ResumeCase:
    NAME: ClassVar[str] = "ResumeCase"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    contact_id: str
    agent_id: str

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "contact_id": self.contact_id,
            "agent_id": self.agent_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> ResumeCase:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            contact_id=r["contact_id"],
            agent_id=r["agent_id"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RoutingCandidate:
    agent_id: str
    eligible: bool
    open_cases: int
    capacity: int
    presence: Presence
    last_assigned_at: datetime | None = None
    reason_excluded: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "eligible": self.eligible,
            "open_cases": self.open_cases,
            "capacity": self.capacity,
            "presence": self.presence,
            "last_assigned_at": self.last_assigned_at,
            "reason_excluded": self.reason_excluded,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> RoutingCandidate:
        return cls(
            agent_id=r["agent_id"],
            eligible=r["eligible"],
            open_cases=r["open_cases"],
            capacity=r["capacity"],
            presence=r["presence"],
            last_assigned_at=r.get("last_assigned_at", None),
            reason_excluded=r.get("reason_excluded", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RoutingDecided:
    NAME: ClassVar[str] = "RoutingDecided"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    queue_id: str
    priority: Priority
    rule: RoutingRule
    rule_version: str
    escalation_step: int
    waited_ms: int
    candidates: tuple[RoutingCandidate, ...] = ()
    chosen_agent_id: str | None = None
    reason: str
    contact_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "queue_id": self.queue_id,
            "priority": self.priority,
            "rule": self.rule,
            "rule_version": self.rule_version,
            "escalation_step": self.escalation_step,
            "waited_ms": self.waited_ms,
            "candidates": [x.to_record() for x in self.candidates] if self.candidates else [],
            "chosen_agent_id": self.chosen_agent_id,
            "reason": self.reason,
            "contact_id": self.contact_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> RoutingDecided:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            queue_id=r["queue_id"],
            priority=r["priority"],
            rule=r["rule"],
            rule_version=r["rule_version"],
            escalation_step=r["escalation_step"],
            waited_ms=r["waited_ms"],
            candidates=tuple(RoutingCandidate.from_record(x) for x in r.get("candidates", ())),
            chosen_agent_id=r.get("chosen_agent_id", None),
            reason=r["reason"],
            contact_id=r.get("contact_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SendReply:
    NAME: ClassVar[str] = "SendReply"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    subject_id: str
    case_id: str
    contact_id: str
    agent_id: str
    text: str | Erased | None = None
    attachments: tuple[Attachment, ...] = ()
    template_name: str | None = None
    template_language: str | None = None
    template_parameters: str | Erased | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "subject_id": self.subject_id,
            "case_id": self.case_id,
            "contact_id": self.contact_id,
            "agent_id": self.agent_id,
            "text": self.text,
            "attachments": [x.to_record() for x in self.attachments] if self.attachments else [],
            "template_name": self.template_name,
            "template_language": self.template_language,
            "template_parameters": self.template_parameters,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SendReply:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            subject_id=r["subject_id"],
            case_id=r["case_id"],
            contact_id=r["contact_id"],
            agent_id=r["agent_id"],
            text=r.get("text", None),
            attachments=tuple(Attachment.from_record(x) for x in r.get("attachments", ())),
            template_name=r.get("template_name", None),
            template_language=r.get("template_language", None),
            template_parameters=r.get("template_parameters", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaBreached:
    NAME: ClassVar[str] = "SlaBreached"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    clock_id: str
    queue_id: str
    metric: SlaMetric
    priority: Priority
    policy_id: str
    policy_version: int
    calendar_id: str | None = None
    target_ms: int
    elapsed_ms: int
    deadline_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "clock_id": self.clock_id,
            "queue_id": self.queue_id,
            "metric": self.metric,
            "priority": self.priority,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "calendar_id": self.calendar_id,
            "target_ms": self.target_ms,
            "elapsed_ms": self.elapsed_ms,
            "deadline_at": self.deadline_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SlaBreached:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            clock_id=r["clock_id"],
            queue_id=r["queue_id"],
            metric=r["metric"],
            priority=r["priority"],
            policy_id=r["policy_id"],
            policy_version=r["policy_version"],
            calendar_id=r.get("calendar_id", None),
            target_ms=r["target_ms"],
            elapsed_ms=r["elapsed_ms"],
            deadline_at=r.get("deadline_at", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaMet:
    NAME: ClassVar[str] = "SlaMet"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    clock_id: str
    queue_id: str
    metric: SlaMetric
    priority: Priority
    policy_id: str
    policy_version: int
    calendar_id: str | None = None
    target_ms: int
    elapsed_ms: int
    deadline_at: datetime | None = None
    within_target: bool

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "clock_id": self.clock_id,
            "queue_id": self.queue_id,
            "metric": self.metric,
            "priority": self.priority,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "calendar_id": self.calendar_id,
            "target_ms": self.target_ms,
            "elapsed_ms": self.elapsed_ms,
            "deadline_at": self.deadline_at,
            "within_target": self.within_target,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SlaMet:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            clock_id=r["clock_id"],
            queue_id=r["queue_id"],
            metric=r["metric"],
            priority=r["priority"],
            policy_id=r["policy_id"],
            policy_version=r["policy_version"],
            calendar_id=r.get("calendar_id", None),
            target_ms=r["target_ms"],
            elapsed_ms=r["elapsed_ms"],
            deadline_at=r.get("deadline_at", None),
            within_target=r["within_target"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaPaused:
    NAME: ClassVar[str] = "SlaPaused"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    clock_id: str
    queue_id: str
    metric: SlaMetric
    priority: Priority
    policy_id: str
    policy_version: int
    calendar_id: str | None = None
    target_ms: int
    elapsed_ms: int
    deadline_at: datetime | None = None
    pause_reason: HoldReason

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "clock_id": self.clock_id,
            "queue_id": self.queue_id,
            "metric": self.metric,
            "priority": self.priority,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "calendar_id": self.calendar_id,
            "target_ms": self.target_ms,
            "elapsed_ms": self.elapsed_ms,
            "deadline_at": self.deadline_at,
            "pause_reason": self.pause_reason,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SlaPaused:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            clock_id=r["clock_id"],
            queue_id=r["queue_id"],
            metric=r["metric"],
            priority=r["priority"],
            policy_id=r["policy_id"],
            policy_version=r["policy_version"],
            calendar_id=r.get("calendar_id", None),
            target_ms=r["target_ms"],
            elapsed_ms=r["elapsed_ms"],
            deadline_at=r.get("deadline_at", None),
            pause_reason=r["pause_reason"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaTarget:
    priority: Priority
    metric: SlaMetric
    target_ms: int
    warning_ms: int

    def to_record(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "metric": self.metric,
            "target_ms": self.target_ms,
            "warning_ms": self.warning_ms,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SlaTarget:
        return cls(
            priority=r["priority"],
            metric=r["metric"],
            target_ms=r["target_ms"],
            warning_ms=r["warning_ms"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaPolicyChanged:
    NAME: ClassVar[str] = "SlaPolicyChanged"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    policy_id: str
    version: int
    queue_id: str
    targets: tuple[SlaTarget, ...] = ()
    business_hours: bool
    calendar_id: str | None = None
    pause_reasons: tuple[HoldReason, ...] = ()
    effective_from: datetime
    changed_by_agent_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "policy_id": self.policy_id,
            "version": self.version,
            "queue_id": self.queue_id,
            "targets": [x.to_record() for x in self.targets] if self.targets else [],
            "business_hours": self.business_hours,
            "calendar_id": self.calendar_id,
            "pause_reasons": list(self.pause_reasons),
            "effective_from": self.effective_from,
            "changed_by_agent_id": self.changed_by_agent_id,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SlaPolicyChanged:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            policy_id=r["policy_id"],
            version=r["version"],
            queue_id=r["queue_id"],
            targets=tuple(SlaTarget.from_record(x) for x in r.get("targets", ())),
            business_hours=r["business_hours"],
            calendar_id=r.get("calendar_id", None),
            pause_reasons=tuple(r.get("pause_reasons", ())),
            effective_from=r["effective_from"],
            changed_by_agent_id=r.get("changed_by_agent_id", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaResumed:
    NAME: ClassVar[str] = "SlaResumed"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    clock_id: str
    queue_id: str
    metric: SlaMetric
    priority: Priority
    policy_id: str
    policy_version: int
    calendar_id: str | None = None
    target_ms: int
    elapsed_ms: int
    deadline_at: datetime | None = None
    paused_ms: int

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "clock_id": self.clock_id,
            "queue_id": self.queue_id,
            "metric": self.metric,
            "priority": self.priority,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "calendar_id": self.calendar_id,
            "target_ms": self.target_ms,
            "elapsed_ms": self.elapsed_ms,
            "deadline_at": self.deadline_at,
            "paused_ms": self.paused_ms,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SlaResumed:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            clock_id=r["clock_id"],
            queue_id=r["queue_id"],
            metric=r["metric"],
            priority=r["priority"],
            policy_id=r["policy_id"],
            policy_version=r["policy_version"],
            calendar_id=r.get("calendar_id", None),
            target_ms=r["target_ms"],
            elapsed_ms=r["elapsed_ms"],
            deadline_at=r.get("deadline_at", None),
            paused_ms=r["paused_ms"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaStarted:
    NAME: ClassVar[str] = "SlaStarted"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    clock_id: str
    queue_id: str
    metric: SlaMetric
    priority: Priority
    policy_id: str
    policy_version: int
    calendar_id: str | None = None
    target_ms: int
    elapsed_ms: int
    deadline_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "clock_id": self.clock_id,
            "queue_id": self.queue_id,
            "metric": self.metric,
            "priority": self.priority,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "calendar_id": self.calendar_id,
            "target_ms": self.target_ms,
            "elapsed_ms": self.elapsed_ms,
            "deadline_at": self.deadline_at,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SlaStarted:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            clock_id=r["clock_id"],
            queue_id=r["queue_id"],
            metric=r["metric"],
            priority=r["priority"],
            policy_id=r["policy_id"],
            policy_version=r["policy_version"],
            calendar_id=r.get("calendar_id", None),
            target_ms=r["target_ms"],
            elapsed_ms=r["elapsed_ms"],
            deadline_at=r.get("deadline_at", None),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlaWarned:
    NAME: ClassVar[str] = "SlaWarned"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    case_id: str
    clock_id: str
    queue_id: str
    metric: SlaMetric
    priority: Priority
    policy_id: str
    policy_version: int
    calendar_id: str | None = None
    target_ms: int
    elapsed_ms: int
    deadline_at: datetime | None = None
    warning_ms: int

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "case_id": self.case_id,
            "clock_id": self.clock_id,
            "queue_id": self.queue_id,
            "metric": self.metric,
            "priority": self.priority,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "calendar_id": self.calendar_id,
            "target_ms": self.target_ms,
            "elapsed_ms": self.elapsed_ms,
            "deadline_at": self.deadline_at,
            "warning_ms": self.warning_ms,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> SlaWarned:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            case_id=r["case_id"],
            clock_id=r["clock_id"],
            queue_id=r["queue_id"],
            metric=r["metric"],
            priority=r["priority"],
            policy_id=r["policy_id"],
            policy_version=r["policy_version"],
            calendar_id=r.get("calendar_id", None),
            target_ms=r["target_ms"],
            elapsed_ms=r["elapsed_ms"],
            deadline_at=r.get("deadline_at", None),
            warning_ms=r["warning_ms"],
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class TransferCase:
    NAME: ClassVar[str] = "TransferCase"
    event_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    subject_id: str
    case_id: str
    contact_id: str
    agent_id: str
    to_queue_id: str
    to_agent_id: str | None = None
    note: str | Erased | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "subject_id": self.subject_id,
            "case_id": self.case_id,
            "contact_id": self.contact_id,
            "agent_id": self.agent_id,
            "to_queue_id": self.to_queue_id,
            "to_agent_id": self.to_agent_id,
            "note": self.note,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> TransferCase:
        return cls(
            event_id=r["event_id"],
            occurred_at=r["occurred_at"],
            correlation_id=r["correlation_id"],
            causation_id=r.get("causation_id", None),
            subject_id=r["subject_id"],
            case_id=r["case_id"],
            contact_id=r["contact_id"],
            agent_id=r["agent_id"],
            to_queue_id=r["to_queue_id"],
            to_agent_id=r.get("to_agent_id", None),
            note=r.get("note", None),
        )


Event = AgentCapacityChanged | AgentPresenceChanged | CalendarChanged | CaseAssigned | CaseClosed | CaseOpened | CasePutOnHold | CaseQueued | CaseReleased | CaseReopened | CaseResumed | CaseTransferred | CaseTriaged | ChangeCapacity | ChangePresence | CitizenBlocked | CitizenUnblocked | ClaimCase | ClockTicked | CloseCase | CommandRefused | ContactsLinked | ContactsUnlinked | DeliveryStatusChanged | ErasureCompleted | ErasureRequested | InputDeadLettered | MessageReceived | MessageSent | PutCaseOnHold | ResumeCase | RoutingDecided | SendReply | SlaBreached | SlaMet | SlaPaused | SlaPolicyChanged | SlaResumed | SlaStarted | SlaWarned | TransferCase

EVENT_TYPES: dict[str, Any] = {
    "AgentCapacityChanged": AgentCapacityChanged,
    "AgentPresenceChanged": AgentPresenceChanged,
    "CalendarChanged": CalendarChanged,
    "CaseAssigned": CaseAssigned,
    "CaseClosed": CaseClosed,
    "CaseOpened": CaseOpened,
    "CasePutOnHold": CasePutOnHold,
    "CaseQueued": CaseQueued,
    "CaseReleased": CaseReleased,
    "CaseReopened": CaseReopened,
    "CaseResumed": CaseResumed,
    "CaseTransferred": CaseTransferred,
    "CaseTriaged": CaseTriaged,
    "ChangeCapacity": ChangeCapacity,
    "ChangePresence": ChangePresence,
    "CitizenBlocked": CitizenBlocked,
    "CitizenUnblocked": CitizenUnblocked,
    "ClaimCase": ClaimCase,
    "ClockTicked": ClockTicked,
    "CloseCase": CloseCase,
    "CommandRefused": CommandRefused,
    "ContactsLinked": ContactsLinked,
    "ContactsUnlinked": ContactsUnlinked,
    "DeliveryStatusChanged": DeliveryStatusChanged,
    "ErasureCompleted": ErasureCompleted,
    "ErasureRequested": ErasureRequested,
    "InputDeadLettered": InputDeadLettered,
    "MessageReceived": MessageReceived,
    "MessageSent": MessageSent,
    "PutCaseOnHold": PutCaseOnHold,
    "ResumeCase": ResumeCase,
    "RoutingDecided": RoutingDecided,
    "SendReply": SendReply,
    "SlaBreached": SlaBreached,
    "SlaMet": SlaMet,
    "SlaPaused": SlaPaused,
    "SlaPolicyChanged": SlaPolicyChanged,
    "SlaResumed": SlaResumed,
    "SlaStarted": SlaStarted,
    "SlaWarned": SlaWarned,
    "TransferCase": TransferCase,
}

# Every record type, the events and the records nested in them, by Avro name.
RECORD_TYPES: dict[str, Any] = {
    "AgentCapacityChanged": AgentCapacityChanged,
    "AgentPresenceChanged": AgentPresenceChanged,
    "OpeningHours": OpeningHours,
    "Break": Break,
    "Holiday": Holiday,
    "CalendarChanged": CalendarChanged,
    "CaseAssigned": CaseAssigned,
    "CaseClosed": CaseClosed,
    "CaseOpened": CaseOpened,
    "CasePutOnHold": CasePutOnHold,
    "CaseQueued": CaseQueued,
    "CaseReleased": CaseReleased,
    "CaseReopened": CaseReopened,
    "CaseResumed": CaseResumed,
    "CaseTransferred": CaseTransferred,
    "TriageAnswer": TriageAnswer,
    "CaseTriaged": CaseTriaged,
    "ChangeCapacity": ChangeCapacity,
    "ChangePresence": ChangePresence,
    "CitizenBlocked": CitizenBlocked,
    "CitizenUnblocked": CitizenUnblocked,
    "ClaimCase": ClaimCase,
    "ClockTicked": ClockTicked,
    "CloseCase": CloseCase,
    "CommandRefused": CommandRefused,
    "ContactsLinked": ContactsLinked,
    "ContactsUnlinked": ContactsUnlinked,
    "DeliveryError": DeliveryError,
    "DeliveryStatusChanged": DeliveryStatusChanged,
    "ErasureCompleted": ErasureCompleted,
    "ErasureRequested": ErasureRequested,
    "InputHeader": InputHeader,
    "InputDeadLettered": InputDeadLettered,
    "Attachment": Attachment,
    "Location": Location,
    "SharedContact": SharedContact,
    "MessageReceived": MessageReceived,
    "MessageSent": MessageSent,
    "PutCaseOnHold": PutCaseOnHold,
    "ResumeCase": ResumeCase,
    "RoutingCandidate": RoutingCandidate,
    "RoutingDecided": RoutingDecided,
    "SendReply": SendReply,
    "SlaBreached": SlaBreached,
    "SlaMet": SlaMet,
    "SlaPaused": SlaPaused,
    "SlaTarget": SlaTarget,
    "SlaPolicyChanged": SlaPolicyChanged,
    "SlaResumed": SlaResumed,
    "SlaStarted": SlaStarted,
    "SlaWarned": SlaWarned,
    "TransferCase": TransferCase,
}
