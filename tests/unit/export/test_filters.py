"""Queue and area filters: an event with a queue or area of its own is kept by it; any
other event of a case by its case's queues and areas as the whole log tells them, the
citizen's first messages (written before triage) included."""

from __future__ import annotations

from typing import Any

from streams.export.filters import (
    CASE_FACTS,
    CONTACT_FACTS,
    QUEUE_FIELDS,
    CaseIndex,
    Conversations,
)
from streams.export.plan import ANALYST_TYPES
from tests.unit.export.builders import codec

Event = tuple[str, dict[str, Any]]


def message(event_id: str, contact: str, case_id: str | None = None) -> Event:
    return "MessageReceived", {"event_id": event_id, "contact_id": contact, "case_id": case_id}


def opened(case: str, contact: str, by: str | None) -> Event:
    return "CaseOpened", {"case_id": case, "contact_id": contact, "opened_by_message_id": by}


def queued(case: str, contact: str, queue: str, area: str) -> Event:
    return "CaseQueued", {"case_id": case, "contact_id": contact, "queue_id": queue, "area": area}


def closed(case: str, contact: str) -> Event:
    return "CaseClosed", {"case_id": case, "contact_id": contact}


def status(event_id: str, contact: str) -> Event:
    return "DeliveryStatusChanged", {"event_id": event_id, "contact_id": contact, "case_id": None}


# Two contacts: Ana's case goes to the família queue, Bia's to the criminal queue; Ana
# writes again after her case closed and opens a second case that goes to criminal.
LOG: list[Event] = [
    message("ana-1", "ana"),
    opened("case-ana", "ana", "ana-1"),
    message("bia-1", "bia"),
    opened("case-bia", "bia", "bia-1"),
    message("ana-2", "ana"),
    ("CaseTriaged", {"case_id": "case-ana", "area": "familia"}),
    queued("case-ana", "ana", "familia-capital", "familia"),
    queued("case-bia", "bia", "criminal-capital", "criminal"),
    ("MessageSent", {"event_id": "out-ana", "contact_id": "ana", "case_id": "case-ana"}),
    closed("case-ana", "ana"),
    status("st-out-ana", "ana"),
    message("ana-3", "ana"),
    opened("case-ana-2", "ana", "ana-3"),
    queued("case-ana-2", "ana", "criminal-capital", "criminal"),
    message("ana-4", "ana"),
    ("AgentPresenceChanged", {"agent_id": "agent-1", "presence": "available"}),
    ("SlaStarted", {"case_id": "case-bia", "queue_id": "familia-capital"}),
]


def export(queues: set[str] | None = None, areas: set[str] | None = None) -> list[str]:
    """The ids (or case ids) of the events of LOG the filters keep, after both passes."""
    index = CaseIndex(
        frozenset(queues) if queues is not None else None,
        frozenset(areas) if areas is not None else None,
    )
    for name, record in LOG:  # pass 1
        index.learn(name, record)
    index.settle()
    conversations = Conversations(index)
    kept = []
    for name, record in LOG:  # pass 2
        if name in CONTACT_FACTS:
            conversations.follow(name, record)
        if index.keeps(name, record, conversations.case_of(name, record)):
            kept.append(record.get("event_id") or f"{name}:{record.get('case_id')}")
    return kept


def test_an_area_keeps_the_messages_written_before_the_case_was_triaged() -> None:
    kept = export(areas={"familia"})

    assert kept == [
        "ana-1",  # opened the case: filed by the CaseOpened that names it
        "CaseOpened:case-ana",
        "ana-2",  # the contact's open case
        "CaseTriaged:case-ana",
        "CaseQueued:case-ana",
        "out-ana",
        "CaseClosed:case-ana",
        "st-out-ana",  # a delivery status after the close: the contact's latest case
    ]


def test_a_contact_s_next_case_goes_by_its_own_queue() -> None:
    kept = export(queues={"criminal-capital"})

    assert "ana-3" in kept
    assert "ana-4" in kept
    assert "CaseOpened:case-ana-2" in kept
    assert "bia-1" in kept
    assert not {"ana-1", "ana-2", "out-ana", "st-out-ana"} & set(kept)


def test_an_event_with_a_queue_of_its_own_goes_by_it_not_by_its_case() -> None:
    assert "SlaStarted:case-bia" in export(queues={"familia-capital"})
    assert "SlaStarted:case-bia" not in export(queues={"criminal-capital"})


def test_an_event_of_no_case_and_no_queue_is_left_out_by_a_filter() -> None:
    assert "AgentPresenceChanged:None" not in export(areas={"familia", "criminal"})


def test_queue_and_area_must_both_match() -> None:
    both = export(queues={"criminal-capital"}, areas={"criminal"})

    assert "bia-1" in both
    assert "ana-3" in both
    assert "ana-1" not in both
    assert export(queues={"criminal-capital"}, areas={"familia"}) == []


def test_without_filters_every_event_passes() -> None:
    assert len(export()) == len(LOG)


def test_every_event_type_with_a_queue_field_is_classified() -> None:
    """A new event naming a queue either goes by it (QUEUE_FIELDS) or, like a command that
    names the queue asked for, by its case; and the case facts are what pass 1 reads."""
    by_case = {"TransferCase"}
    for name in ANALYST_TYPES:
        fields = {f["name"] for f in codec().schemas.current(name).raw["fields"]}
        if any(f.endswith("queue_id") for f in fields):
            assert name in QUEUE_FIELDS or name in by_case, name
    assert CASE_FACTS | {"CaseClosed"} >= CONTACT_FACTS
