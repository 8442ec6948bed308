"""Given a case's or a message's row, when an event of acolhe.conversations is folded over
it, then the row is the table's whole row as it should stand, within the table's CHECKs; a
redelivered event changes nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import (
    Area,
    Attachment,
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
    DeliveryError,
    DeliveryStatus,
    DeliveryStatusChanged,
    MessageReceived,
    MessageSent,
    SenderKind,
)
from schemas.personal import ERASED
from streams.projections.rows_cases import (
    CASE_COLUMNS,
    CASE_STATUSES,
    CONFIDENTIAL_AREAS,
    CaseEvent,
    evolve_case,
    upsert_case,
)
from streams.projections.rows_messages import (
    MESSAGE_COLUMNS,
    evolve_message,
    message_row,
    upsert_message,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CASE = "case-1"
CONTACT = "contact-1"
ENV: dict[str, Any] = {"correlation_id": "corr", "case_id": CASE, "contact_id": CONTACT}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def opened(m: int = 0) -> CaseOpened:
    return CaseOpened(
        event_id=f"open-{m}",
        occurred_at=at(m),
        citizen_id="citizen-1",
        channel="whatsapp",
        opened_by_message_id="msg-0",
        **ENV,
    )


def triaged(m: int, area: Area = "familia") -> CaseTriaged:
    return CaseTriaged(
        event_id=f"tri-{m}",
        occurred_at=at(m),
        subject_id="citizen-1",
        area=area,
        priority="high",
        urgency_flags=("health_risk",),
        region="sp-capital",
        eligible=True,
        rules_version="r1",
        **ENV,
    )


def queued(m: int, queue: str = "q1", area: Area = "familia") -> CaseQueued:
    return CaseQueued(
        event_id=f"q-{m}",
        occurred_at=at(m),
        queue_id=queue,
        area=area,
        priority="urgent",
        reason="triaged",
        **ENV,
    )


def assigned(m: int, agent: str = "ana", queue: str = "q1") -> CaseAssigned:
    return CaseAssigned(
        event_id=f"a-{m}",
        occurred_at=at(m),
        agent_id=agent,
        queue_id=queue,
        routing_decision_id="rd",
        **ENV,
    )


def released(m: int, agent: str = "ana") -> CaseReleased:
    return CaseReleased(
        event_id=f"rel-{m}",
        occurred_at=at(m),
        agent_id=agent,
        queue_id="q1",
        reason="agent_request",
        **ENV,
    )


def transferred(m: int, to_agent: str | None) -> CaseTransferred:
    return CaseTransferred(
        event_id=f"tr-{m}",
        occurred_at=at(m),
        subject_id="citizen-1",
        from_queue_id="q1",
        from_agent_id="ana",
        to_queue_id="q2",
        to_agent_id=to_agent,
        **ENV,
    )


def held(m: int) -> CasePutOnHold:
    return CasePutOnHold(
        event_id=f"h-{m}",
        occurred_at=at(m),
        reason="documents_pending",
        until=at(m + 60),
        **ENV,
    )


def resumed(m: int) -> CaseResumed:
    return CaseResumed(event_id=f"res-{m}", occurred_at=at(m), reason="agent", held_ms=0, **ENV)


def closed(m: int) -> CaseClosed:
    return CaseClosed(event_id=f"c-{m}", occurred_at=at(m), reason="resolved", **ENV)


def reopened(m: int, previous: datetime) -> CaseReopened:
    return CaseReopened(
        event_id=f"ro-{m}",
        occurred_at=at(m),
        reopened_by_message_id=f"msg-{m}",
        previous_closed_at=previous,
        previous_close_reason="resolved",
        **ENV,
    )


def sent(m: int, sender: SenderKind = "agent", text: Any = "Olá") -> MessageSent:
    return MessageSent(
        event_id=f"s-{m}",
        occurred_at=at(m),
        correlation_id="corr",
        subject_id="citizen-1",
        channel="whatsapp",
        contact_id=CONTACT,
        contact_address="+5511",
        case_id=CASE,
        message_id=f"out-{m}",
        sender_kind=sender,
        agent_id="ana" if sender == "agent" else None,
        text=text,
        sent_at=at(m),
    )


def received(m: int, text: Any = "Oi") -> MessageReceived:
    return MessageReceived(
        event_id=f"msg-{m}",
        occurred_at=at(m),
        correlation_id="corr",
        subject_id="citizen-1",
        channel="whatsapp",
        contact_id=CONTACT,
        contact_address="+5511",
        provider_message_id=f"wamid-{m}",
        kind="text",
        text=text,
        email_subject=ERASED,
        attachments=(
            Attachment(
                attachment_id="att",
                media_type="image/png",
                size_bytes=3,
                sha256="00",
                storage_ref="s3://x",
            ),
        ),
        received_at=at(m),
    )


def delivery(m: int, status: DeliveryStatus, message: str = "out-1") -> DeliveryStatusChanged:
    return DeliveryStatusChanged(
        event_id=f"d-{m}",
        occurred_at=at(m),
        correlation_id="corr",
        channel="whatsapp",
        contact_id=CONTACT,
        message_id=message,
        provider_message_id="wamid-out",
        status=status,
        status_at=at(m),
        errors=(DeliveryError(code="131047", title="Re-engagement message"),)
        if status == "failed"
        else (),
    )


# -- the table's CHECKs, as written in 0001_read_model.sql ------------------------------------


def check_case(row: Mapping[str, Any]) -> None:
    assert tuple(row) == CASE_COLUMNS
    for column in ("case_id", "contact_id", "citizen_id", "channel", "status", "area"):
        assert row[column] is not None, column
    assert row["priority"] is not None
    assert row["opened_at"] is not None
    assert isinstance(row["urgency_flags"], list)
    assert isinstance(row["confidential"], bool)
    s = row["status"]
    assert s in CASE_STATUSES
    assert (s == "closed") == (row["closed_at"] is not None)
    assert (row["closed_at"] is None) == (row["close_reason"] is None)
    is_queued = s == "queued"
    assert not is_queued or row["queue_id"] is not None
    assert not is_queued or row["queued_at"] is not None
    assert s != "assigned" or row["agent_id"] is not None
    assert s != "on_hold" or row["hold_reason"] is not None
    assert row["version"] >= 0


def check_message(row: Mapping[str, Any]) -> None:
    assert tuple(row) == MESSAGE_COLUMNS
    for column in ("message_id", "event_id", "contact_id", "subject_id", "direction"):
        assert row[column] is not None, column
    assert row["sender_kind"]
    assert row["channel"]
    assert row["kind"]
    assert row["occurred_at"]
    assert row["direction"] in ("in", "out")
    assert (row["direction"] == "in") == (row["sender_kind"] == "citizen")
    assert row["direction"] == "out" or row["delivery_status"] is None
    is_redacted = row["redacted_at"] is not None
    assert not is_redacted or row["text"] is None
    assert not is_redacted or row["email_subject"] is None
    assert isinstance(json.loads(row["attachments"]), list)
    assert row["version"] >= 0


def fold(events: Sequence[CaseEvent], row: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out = dict(row) if row is not None else None
    was_confidential = False
    for version, event in enumerate(events):
        out = evolve_case(out, event, version)
        assert out is not None
        check_case(out)
        assert out["confidential"] or not was_confidential, "confidential is for good"
        was_confidential = out["confidential"]
    assert out is not None
    return out


# -- cases: given-when-then -------------------------------------------------------------------


def test_opened_case_is_in_triage_with_its_contact() -> None:
    row = fold([opened()])
    assert row["status"] == "in_triage"
    assert row["contact_id"] == CONTACT
    assert row["citizen_id"] == "citizen-1"
    assert row["channel"] == "whatsapp"
    assert row["opened_at"] == at(0)
    assert row["last_citizen_message_at"] == at(0)
    assert row["area"] == "unknown"
    assert row["priority"] == "unknown"
    assert row["version"] == 0
    assert upsert_case(row).key == ("case_id",)


def test_no_row_and_not_opened_stays_none() -> None:
    assert evolve_case(None, received(1), 5) is None
    assert evolve_case(None, queued(1), 5) is None


def test_triage_sets_classification_and_keeps_status() -> None:
    row = fold([opened(), triaged(1)])
    assert row["status"] == "in_triage"
    assert row["area"] == "familia"
    assert row["priority"] == "high"
    assert row["urgency_flags"] == ["health_risk"]
    assert row["region"] == "sp-capital"
    assert row["eligible"] is True
    assert row["triaged_at"] == at(1)


def test_queued_then_assigned() -> None:
    row = fold([opened(), triaged(1), queued(2)])
    assert row["status"] == "queued"
    assert row["queue_id"] == "q1"
    assert row["queued_at"] == at(2)
    assert row["priority"] == "urgent"
    assert row["agent_id"] is None
    row = fold([opened(), triaged(1), queued(2), assigned(3)])
    assert row["status"] == "assigned"
    assert row["agent_id"] == "ana"
    assert row["assigned_at"] == at(3)


def test_a_case_is_not_confidential_by_default() -> None:
    assert fold([opened(), triaged(1), queued(2), assigned(3)])["confidential"] is False


def test_domestic_violence_and_childrens_cases_are_confidential_once_triaged() -> None:
    assert {"violencia_domestica", "infancia_juventude"} <= CONFIDENTIAL_AREAS
    for area in ("violencia_domestica", "infancia_juventude"):
        row = fold([opened(), triaged(1, area=area)])
        assert row["confidential"] is True
        assert row["area"] == area
        assert row["version"] == 1


def test_queued_with_a_confidential_area_makes_the_case_confidential() -> None:
    row = fold([opened(), triaged(1), queued(2, area="violencia_domestica")])
    assert row["confidential"] is True
    assert row["area"] == "familia"  # the area is triage's; confidentiality is not undone


def test_a_confidential_case_stays_so_when_triaged_again_elsewhere() -> None:
    row = fold([opened(), triaged(1, area="violencia_domestica"), triaged(2), queued(3)])
    assert row["area"] == "familia"
    assert row["confidential"] is True
    row = fold([opened(), triaged(1, area="violencia_domestica"), closed(2), reopened(3, at(2))])
    assert row["confidential"] is True


def test_release_by_holder_requeues_and_by_another_changes_nothing() -> None:
    row = fold([opened(), queued(1), assigned(2), released(3)])
    assert row["status"] == "queued"
    assert row["agent_id"] is None
    assert row["queued_at"] == at(3)
    before = fold([opened(), queued(1), assigned(2)])
    assert evolve_case(before, released(3, agent="bia"), 3) == before


def test_transfer_to_agent_or_queue() -> None:
    row = fold([opened(), queued(1), assigned(2), transferred(3, "bia")])
    assert row["status"] == "assigned"
    assert row["agent_id"] == "bia"
    assert row["queue_id"] == "q2"
    assert row["assigned_at"] == at(3)
    row = fold([opened(), queued(1), assigned(2), transferred(3, None)])
    assert row["status"] == "queued"
    assert row["agent_id"] is None
    assert row["queue_id"] == "q2"
    assert row["queued_at"] == at(3)


def test_agent_reply_waits_on_citizen_and_citizen_reply_ends_it() -> None:
    row = fold([opened(), queued(1), assigned(2), sent(3), sent(5)])
    assert row["status"] == "waiting_on_citizen"
    assert row["first_response_at"] == at(3)
    assert row["last_agent_message_at"] == at(5)
    assert row["last_message_at"] == at(5)
    row = fold([opened(), queued(1), assigned(2), sent(3), received(6)])
    assert row["status"] == "assigned"
    assert row["last_citizen_message_at"] == at(6)
    assert row["last_message_at"] == at(6)


def test_bot_message_changes_nothing() -> None:
    before = fold([opened(), queued(1), assigned(2)])
    assert evolve_case(before, sent(3, sender="bot"), 3) == before


def test_routing_while_waiting_on_citizen_keeps_status() -> None:
    row = fold([opened(), queued(1), assigned(2), sent(3), released(4)])
    assert row["status"] == "waiting_on_citizen"
    assert row["agent_id"] is None
    row = fold([opened(), queued(1), assigned(2), sent(3), released(4), received(5)])
    assert row["status"] == "queued"


def test_hold_and_resume_back_to_whose_move() -> None:
    row = fold([opened(), queued(1), assigned(2), held(3)])
    assert row["status"] == "on_hold"
    assert row["hold_reason"] == "documents_pending"
    assert row["hold_until"] == at(63)
    row = fold([opened(), queued(1), assigned(2), held(3), sent(4), resumed(5)])
    assert row["status"] == "assigned"
    assert row["hold_reason"] is None
    assert row["hold_until"] is None
    assert row["first_response_at"] == at(4)
    assert fold([opened(), held(1), resumed(2)])["status"] == "in_triage"
    assert fold([opened(), queued(1), held(2), resumed(3)])["status"] == "queued"


def test_close_then_reopen_of_that_closing() -> None:
    row = fold([opened(), queued(1), assigned(2), closed(3)])
    assert row["status"] == "closed"
    assert row["closed_at"] == at(3)
    assert row["close_reason"] == "resolved"
    assert row["agent_id"] is None
    assert evolve_case(row, assigned(4), 4) == row  # a closed case takes nothing else
    assert evolve_case(row, reopened(4, previous=at(1)), 4) == row  # another closing
    row = fold([opened(), queued(1), assigned(2), closed(3), reopened(4, at(3))])
    assert row["status"] == "queued"
    assert row["closed_at"] is None
    assert row["close_reason"] is None
    assert row["last_citizen_message_at"] == at(4)
    assert fold([opened(), closed(1), reopened(2, at(1))])["status"] == "in_triage"


def test_stale_version_changes_nothing() -> None:
    row = fold([opened(), queued(1), assigned(2)])
    for event in (closed(9), held(9), released(9), sent(9), triaged(9)):
        assert evolve_case(row, event, 2) == row
        assert evolve_case(row, event, 1) == row


def test_event_of_another_case_is_refused() -> None:
    row = fold([opened()])
    other = CaseClosed(
        event_id="x", occurred_at=at(1), correlation_id="c", case_id="case-2", reason="resolved"
    )
    with pytest.raises(ValueError, match="case-2"):
        evolve_case(row, other, 1)


# -- case_messages ----------------------------------------------------------------------------


def test_received_message_row_in_the_open_case() -> None:
    row = message_row(received(1), 7, case_id=CASE)
    check_message(row)
    assert row["message_id"] == "msg-1"
    assert row["direction"] == "in"
    assert row["sender_kind"] == "citizen"
    assert row["case_id"] == CASE
    assert row["text"] == "Oi"
    assert row["email_subject"] is None  # ERASED is NULL
    assert row["redacted_at"] is None
    assert row["provider_message_id"] == "wamid-1"
    assert json.loads(row["attachments"])[0]["attachment_id"] == "att"
    assert upsert_message(row).key == ("message_id",)


def test_sent_message_row_out_with_its_case() -> None:
    row = message_row(sent(1, text=ERASED), 8)
    check_message(row)
    assert row["message_id"] == "out-1"
    assert row["direction"] == "out"
    assert row["case_id"] == CASE
    assert row["agent_id"] == "ana"
    assert row["kind"] == "text"
    assert row["text"] is None
    assert row["delivery_status"] is None


def test_delivery_keeps_the_furthest_status() -> None:
    row: dict[str, Any] | None = message_row(sent(1), 1)
    statuses: list[DeliveryStatus] = ["delivered", "sent", "read", "delivered"]
    for version, status in enumerate(statuses, start=2):
        row = evolve_message(row, delivery(version, status), version)
        assert row is not None
        check_message(row)
    assert row is not None
    assert row["delivery_status"] == "read"
    assert row["delivery_status_at"] == at(4)
    assert row["provider_message_id"] == "wamid-out"
    failed = evolve_message(row, delivery(9, "failed"), 9)
    assert failed is not None
    assert failed["delivery_status"] == "failed"
    assert failed["delivery_error"] == "131047: Re-engagement message"
    assert evolve_message(failed, delivery(10, "read"), 10) == failed


def test_delivery_stale_unknown_or_inbound_changes_nothing() -> None:
    row = message_row(sent(1), 5)
    assert evolve_message(row, delivery(3, "read"), 5) == row
    assert evolve_message(None, delivery(3, "read"), 6) is None
    inbound = message_row(received(1), 5, case_id=CASE)
    assert evolve_message(inbound, delivery(6, "read", message="msg-1"), 6) == inbound


# -- property: redelivery folds to the same row -----------------------------------------------

KINDS = (
    "triage",
    "triage_vd",
    "queue",
    "assign",
    "release",
    "transfer",
    "hold",
    "resume",
    "agent_reply",
    "bot_reply",
    "citizen",
    "close",
    "reopen",
)


def build(choices: Sequence[tuple[str, str]]) -> list[CaseEvent]:
    """A valid event sequence for one case: reopenings name the closing before them."""
    events: list[CaseEvent] = [opened()]
    last_closed: datetime | None = None
    for m, (kind, agent) in enumerate(choices, start=1):
        event: CaseEvent
        match kind:
            case "triage":
                event = triaged(m)
            case "triage_vd":
                event = triaged(m, area="violencia_domestica")
            case "queue":
                event = queued(m)
            case "assign":
                event = assigned(m, agent)
            case "release":
                event = released(m, agent)
            case "transfer":
                event = transferred(m, agent if agent != "none" else None)
            case "hold":
                event = held(m)
            case "resume":
                event = resumed(m)
            case "agent_reply" | "bot_reply":
                event = sent(m, "agent" if kind == "agent_reply" else "bot")
            case "citizen":
                event = received(m)
            case "close":
                event, last_closed = closed(m), at(m)
            case _:
                event = reopened(m, last_closed or at(0))
        events.append(event)
    return events


choices_st = st.lists(
    st.tuples(st.sampled_from(KINDS), st.sampled_from(["ana", "bia", "none"])), max_size=25
)


@settings(max_examples=200, deadline=None)
@given(choices_st, st.integers(min_value=1, max_value=26))
def test_redelivery_folds_to_the_same_row(choices: list[tuple[str, str]], cut: int) -> None:
    events = build(choices)
    once = fold(events)
    pairs = list(enumerate(events))
    # the whole log again, and a batch replayed from an earlier offset, twice per event
    again: dict[str, Any] | None = once
    for version, event in pairs:
        again = evolve_case(again, event, version)
    assert again == once
    replay: dict[str, Any] | None = fold(events[:cut])
    for version, event in pairs[cut:]:
        replay = evolve_case(replay, event, version)
        replay = evolve_case(replay, event, version)
        assert replay is not None
        check_case(replay)
    assert replay == once
