"""The pure projection of the read model's `cases` rows (`case_messages`: rows_messages).

The projector shell reads `acolhe.conversations` (keyed by contact, so one partition orders
all of a contact's facts), loads the rows a batch touches, folds the events over them in log
order with `evolve_case` / `message_row` / `evolve_message`, and writes the whole rows with
`writer.write` in the transaction that stores the offsets. These functions are that fold's
step: plain data in, plain data out. They import no Kafka, Postgres, logging or clock.

Rows are whole: every row has exactly the columns of `CASE_COLUMNS` or `MESSAGE_COLUMNS`,
the table's columns minus the generated `priority_rank` and `updated_at` (the database
fills them). `version` is the event's offset; an event whose version is not higher than the
row's changes nothing, so a redelivered batch folds to the same rows. An event that has no
effect on the row (a late copy, a fact about a closed case) returns the row unchanged too.

The case status follows `streams.cases.state` (the same states, the same moves), so the
read model shows what the lifecycle decides on.

`MessageReceived` names no case (its `case_id` is null): the shell passes, as `row`, the row
of the contact's open case (or None when it has none), and `evolve_case` applies the message
to that row. For the message's own `case_messages` row the shell passes that case's id to
`message_row(..., case_id=...)`.

Personal fields (`text`, `email_subject`, attachments' `file_name` and `caption`) are copied
as decoded. An `ERASED` value (the citizen's key was destroyed) becomes NULL, as the
table's comment on `text` says; `redacted_at` stays NULL: it records when an
`ErasureRequested` redacted the row, a fact this fold does not see.

`confidential` is a rule of the read model, not a fact of the log (no event carries it
yet): a case is confidential once a `CaseTriaged` or a `CaseQueued` gives it an area of
`CONFIDENTIAL_AREAS`, and stays so (its timeline already holds what made it so). Being
pure, a replay reproduces it; row-level security (0003_access.sql) reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

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
    MessageReceived,
    MessageSent,
)
from streams.projections.rows import _only, is_newer, whole
from streams.projections.writer import Upsert

Row = dict[str, Any]
CaseEvent = (
    CaseOpened
    | CaseTriaged
    | CaseQueued
    | CaseAssigned
    | CaseReleased
    | CaseTransferred
    | CasePutOnHold
    | CaseResumed
    | CaseClosed
    | CaseReopened
    | MessageReceived
    | MessageSent
)

CONFIDENTIAL_AREAS: Final[frozenset[str]] = frozenset({"violencia_domestica", "infancia_juventude"})
"""Areas whose cases only their queue's team (and their holder) may see: domestic violence
(the victim's safety: where she lives, who threatens her) and children and adolescents
(the ECA, Lei 8.069/1990, keeps proceedings about them confidential)."""

CASE_STATUSES: Final[frozenset[str]] = frozenset(
    {"in_triage", "queued", "assigned", "waiting_on_citizen", "on_hold", "closed"}
)
CASES: Final = "cases"
CASE_KEY: Final = ("case_id",)
CASE_COLUMNS: Final = (
    "case_id",
    "contact_id",
    "citizen_id",
    "channel",
    "status",
    "area",
    "priority",
    "urgency_flags",
    "region",
    "eligible",
    "queue_id",
    "queued_at",
    "agent_id",
    "confidential",
    "hold_reason",
    "hold_until",
    "opened_at",
    "triaged_at",
    "assigned_at",
    "first_response_at",
    "closed_at",
    "close_reason",
    "last_message_at",
    "last_citizen_message_at",
    "last_agent_message_at",
    "version",
)


def is_confidential_area(area: str) -> bool:
    """Whether a case of `area` is confidential (`CONFIDENTIAL_AREAS`)."""
    return area in CONFIDENTIAL_AREAS


def _later(old: datetime | None, new: datetime) -> datetime:
    return new if old is None else max(old, new)


# -- cases ------------------------------------------------------------------------------------


def evolve_case(row: Mapping[str, Any] | None, event: CaseEvent, version: int) -> Row | None:
    """The case's whole row after `event` (at offset `version`); None while there is none.

    `row` is the row of the event's case; for `MessageReceived` (no case id) the contact's
    open case. By event, as `streams.cases.state` moves the case:
    - `CaseOpened`: the row, `in_triage` (a later copy changes nothing);
    - `CaseTriaged`: area, priority, urgency flags, region, eligible, `triaged_at` (the
      latest triage replaces); `confidential` from then on if the area is confidential
      (a `CaseQueued` naming such an area does the same);
    - routing (`CaseQueued`, `CaseAssigned`, `CaseReleased` by the holder, `CaseTransferred`)
      always sets queue and agent; the status moves to whose move it is (`assigned` with an
      agent, else `queued` with a queue, else `in_triage`) only from `in_triage`, `queued`
      or `assigned`: a case waiting on the citizen or on hold keeps its status;
    - `CasePutOnHold`: `on_hold`, `hold_reason`, `hold_until`; `CaseResumed` (of a case on
      hold): hold cleared, back to whose move it is;
    - `MessageSent` by an agent: `waiting_on_citizen` unless on hold; `first_response_at`
      once; last agent and last message times. Bot and system messages change nothing;
    - `MessageReceived`: last citizen and last message times; `waiting_on_citizen` ends
      (back to whose move it is);
    - `CaseClosed`: `closed`, `closed_at`, `close_reason`; hold and agent cleared;
    - `CaseReopened` (of the closing it names): `queued` if it had a queue, else
      `in_triage`; agent, `closed_at`, `close_reason` cleared.
    A closed case takes nothing but `CaseReopened`. `queued_at` is the time the case last
    entered its queue; a case that becomes `queued` without one gets the event's time, so
    the table's CHECKs always hold.
    """
    if row is None:
        return _opened(event, version) if isinstance(event, CaseOpened) else None
    if not isinstance(event, MessageReceived) and event.case_id != row["case_id"]:
        raise ValueError(f"event for case {event.case_id} applied to {row['case_id']}")
    if isinstance(event, MessageReceived) and event.contact_id != row["contact_id"]:
        raise ValueError(f"message of contact {event.contact_id} applied to {row['case_id']}")
    old = _only(CASE_COLUMNS, row)
    if not is_newer(row, version):
        return old
    if old["status"] == "closed" and not isinstance(event, CaseReopened):
        return old
    new = _apply(dict(old), event)
    if new == old:
        return old
    new["version"] = version
    if new["status"] == "queued" and new["queued_at"] is None:
        new["queued_at"] = event.occurred_at
    return new


def _opened(event: CaseOpened, version: int) -> Row:
    at = event.occurred_at
    by_message = at if event.opened_by_message_id else None
    return {
        "case_id": event.case_id,
        "contact_id": event.contact_id,
        "citizen_id": event.citizen_id,
        "channel": event.channel,
        "status": "in_triage",
        "area": "unknown",
        "priority": "unknown",
        "urgency_flags": [],
        "region": None,
        "eligible": None,
        "queue_id": None,
        "queued_at": None,
        "agent_id": None,
        "confidential": False,
        "hold_reason": None,
        "hold_until": None,
        "opened_at": at,
        "triaged_at": None,
        "assigned_at": None,
        "first_response_at": None,
        "closed_at": None,
        "close_reason": None,
        "last_message_at": by_message,
        "last_citizen_message_at": by_message,
        "last_agent_message_at": None,
        "version": version,
    }


def _apply(new: Row, event: CaseEvent) -> Row:
    """`new` (a copy of the open row, or a closed one for `CaseReopened`) after `event`."""
    at = event.occurred_at
    match event:
        case CaseOpened():
            pass  # a late copy: the row exists
        case CaseTriaged():
            new.update(
                area=event.area,
                priority=event.priority,
                urgency_flags=list(event.urgency_flags),
                region=event.region,
                eligible=event.eligible,
                triaged_at=at,
                confidential=new["confidential"] or is_confidential_area(event.area),
            )
        case CaseQueued() | CaseAssigned() | CaseReleased() | CaseTransferred():
            _apply_routing(new, event)
        case CasePutOnHold():
            new.update(status="on_hold", hold_reason=event.reason, hold_until=event.until)
        case CaseResumed():
            if new["status"] == "on_hold":
                new.update(hold_reason=None, hold_until=None, status=_active_status(new))
        case MessageSent() | MessageReceived():
            _apply_message(new, event)
        case CaseClosed():
            new.update(
                status="closed",
                closed_at=at,
                close_reason=event.reason,
                hold_reason=None,
                hold_until=None,
                agent_id=None,
            )
        case CaseReopened():
            if new["status"] == "closed" and event.previous_closed_at == new["closed_at"]:
                new.update(
                    status="queued" if new["queue_id"] else "in_triage",
                    agent_id=None,
                    assigned_at=None,
                    closed_at=None,
                    close_reason=None,
                )
                if event.reopened_by_message_id:
                    new["last_citizen_message_at"] = at
                    new["last_message_at"] = _later(new["last_message_at"], at)
    return new


def _apply_message(new: Row, event: MessageSent | MessageReceived) -> None:
    """Last message times and whose move it is after a message (`new` changed in place)."""
    at = event.occurred_at
    match event:
        case MessageSent():
            if event.sender_kind == "agent":
                sent = event.sent_at
                new["first_response_at"] = new["first_response_at"] or sent
                new["last_agent_message_at"] = _later(new["last_agent_message_at"], sent)
                new["last_message_at"] = _later(new["last_message_at"], sent)
                if new["status"] != "on_hold":
                    new["status"] = "waiting_on_citizen"
        case MessageReceived():
            new["last_citizen_message_at"] = _later(new["last_citizen_message_at"], at)
            new["last_message_at"] = _later(new["last_message_at"], at)
            if new["status"] == "waiting_on_citizen":
                new["status"] = _active_status(new)


def _apply_routing(
    new: Row, event: CaseQueued | CaseAssigned | CaseReleased | CaseTransferred
) -> None:
    """Queue and agent as routing says (`new` changed in place)."""
    at = event.occurred_at
    match event:
        case CaseQueued():
            new.update(
                queue_id=event.queue_id,
                queued_at=at,
                priority=event.priority,
                confidential=new["confidential"] or is_confidential_area(event.area),
            )
            _route(new, None, at)
        case CaseAssigned():
            new["queue_id"] = event.queue_id
            _route(new, event.agent_id, at)
        case CaseReleased():
            if new["agent_id"] == event.agent_id:  # else released by one who no longer holds it
                new.update(queue_id=event.queue_id, queued_at=at)
                _route(new, None, at)
        case CaseTransferred():
            new["queue_id"] = event.to_queue_id
            if event.to_agent_id is None:
                new["queued_at"] = at
            _route(new, event.to_agent_id, at)


def _route(new: Row, agent_id: str | None, at: datetime) -> None:
    """Set the holder (and when it got the case); move the status only while the move is
    the office's, as the lifecycle does."""
    if agent_id != new["agent_id"] or agent_id is None:
        new["assigned_at"] = at if agent_id is not None else None
    new["agent_id"] = agent_id
    if new["status"] in ("in_triage", "queued", "assigned"):
        new["status"] = _active_status(new)


def _active_status(row: Mapping[str, Any]) -> str:
    """Whose move it is: the agent's, the queue's or the bot's."""
    if row["agent_id"]:
        return "assigned"
    if row["queue_id"]:
        return "queued"
    return "in_triage"


def upsert_case(row: Mapping[str, Any]) -> Upsert:
    """The writer's upsert of a case row."""
    return Upsert(CASES, CASE_KEY, whole(CASE_COLUMNS, row))
