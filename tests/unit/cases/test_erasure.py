"""A citizen's erasure closes their open cases at once: given a contact's events, when the
erasure (copied into every partition of the contacts' topic) reaches it, then its open case
is closed for citizen_erased, by no agent and with no notice, caused by the erasure; other
citizens' cases and closed ones get nothing, and a copy seen again closes nothing twice."""

from __future__ import annotations

import pytest

from schemas.envelope import derive_event_id
from schemas.events import CaseClosed
from streams.cases.domain import decide, handle, next_deadline
from streams.cases.state import ContactState, Input, case_id_for

from .builders import (
    CITIZEN,
    CONTACT,
    POLICY,
    agent_replied,
    assigned,
    at,
    closed_by_agent,
    erasure,
    given,
    put_on_hold,
    queued,
    received,
    triaged,
    when,
)

FIRST = received(1)
CASE = case_id_for(FIRST)
ERASED_AT = at(hours=5)

OPEN_CASES: dict[str, tuple[Input, ...]] = {
    "in_triage": (FIRST,),
    "queued": (FIRST, triaged(CASE, at(minutes=5)), queued(CASE, at(minutes=5))),
    "assigned": (FIRST, assigned(CASE, at(minutes=10))),
    "waiting_on_citizen": (FIRST, assigned(CASE, at(minutes=10)), agent_replied(CASE, at(hours=1))),
    "on_hold": (FIRST, assigned(CASE, at(minutes=10)), put_on_hold(CASE, at(hours=1), "external")),
}


@pytest.mark.parametrize("status", sorted(OPEN_CASES))
def test_an_erased_citizens_open_case_is_closed_by_the_erasure(status: str) -> None:
    state = given(*OPEN_CASES[status])
    assert state.case is not None
    assert state.case.status == status
    erased = erasure(ERASED_AT)

    after, outputs = handle(state, erased, POLICY)

    assert outputs == [
        CaseClosed(
            event_id=derive_event_id(erased.event_id, "streams.cases", CASE, "0"),
            occurred_at=ERASED_AT,
            correlation_id=FIRST.correlation_id,  # the case's flow, not the erasure's
            causation_id=erased.event_id,
            case_id=CASE,
            contact_id=CONTACT,
            reason="citizen_erased",
            closed_by_agent_id=None,
        )
    ]
    assert after.case is not None
    assert (after.case.status, after.case.close_reason) == ("closed", "citizen_erased")
    assert next_deadline(after, POLICY) is None  # no reminder, hold or close will follow


def test_another_citizens_open_case_in_the_same_partition_is_left_alone() -> None:
    joana = ContactState(contact_id="contact-joana")
    joana, _ = handle(joana, received(1, contact="contact-joana", citizen="citizen-joana"), POLICY)

    after, outputs = handle(joana, erasure(ERASED_AT, citizen=CITIZEN), POLICY)

    assert outputs == []
    assert after == joana
    assert after.case is not None
    assert after.case.is_open


def test_in_a_partition_only_the_erased_citizens_open_cases_close() -> None:
    # One erasure, every contact of the partition: Maria's open case, Maria's other contact
    # whose case an agent closed already, a contact of hers with no case, Joana's open case.
    open_case = given(FIRST)
    closed_case = ContactState(contact_id="contact-maria-email")
    for event in (
        received(1, contact="contact-maria-email", channel="email"),
        closed_by_agent(
            case_id_for(received(1, contact="contact-maria-email", channel="email")),
            at(hours=1),
            "resolved",
        ),
    ):
        closed_case, _ = handle(closed_case, event, POLICY)
    no_case = ContactState(contact_id="contact-maria-webchat")
    joana = ContactState(contact_id="contact-joana")
    joana, _ = handle(joana, received(1, contact="contact-joana", citizen="citizen-joana"), POLICY)
    erased = erasure(ERASED_AT)

    decided = {
        s.contact_id: [(type(o).__name__, o.case_id) for o in decide(s, erased, POLICY)]
        for s in (open_case, closed_case, no_case, joana)
    }

    assert decided == {
        CONTACT: [("CaseClosed", CASE)],
        "contact-maria-email": [],
        "contact-maria-webchat": [],
        "contact-joana": [],
    }


def test_an_erasure_seen_again_closes_nothing_twice() -> None:
    # A redelivery (same record), and the same erasure run again later (same id, later time).
    state = given(*OPEN_CASES["assigned"])

    _, outputs = when(state, [erasure(ERASED_AT), erasure(ERASED_AT), erasure(at(days=1))], POLICY)

    assert [(type(o).__name__, o.reason) for o in outputs if isinstance(o, CaseClosed)] == [
        ("CaseClosed", "citizen_erased")
    ]
    assert len(outputs) == 1


def test_every_contact_of_the_erased_citizen_closes_with_ids_of_its_own() -> None:
    # One citizen on WhatsApp and by email: two contacts, two cases, one erasure.
    whatsapp = given(FIRST)
    email_first = received(1, contact="contact-maria-email", channel="email")
    email = ContactState(contact_id="contact-maria-email")
    email, _ = handle(email, email_first, POLICY)
    erased = erasure(ERASED_AT)

    _, from_whatsapp = handle(whatsapp, erased, POLICY)
    _, from_email = handle(email, erased, POLICY)

    closed = [c for c in (*from_whatsapp, *from_email) if isinstance(c, CaseClosed)]
    assert len(closed) == len(from_whatsapp) + len(from_email)
    assert [(c.contact_id, c.case_id, c.reason) for c in closed] == [
        (CONTACT, CASE, "citizen_erased"),
        ("contact-maria-email", case_id_for(email_first), "citizen_erased"),
    ]
    assert len({c.event_id for c in closed}) == 2


def test_a_replay_decides_the_same_closing_with_the_same_id() -> None:
    events = (*OPEN_CASES["waiting_on_citizen"], erasure(ERASED_AT))

    _, first = when(ContactState(contact_id=CONTACT), events, POLICY)
    _, again = when(ContactState(contact_id=CONTACT), events, POLICY)

    assert first == again
    assert isinstance(first[-1], CaseClosed)
    assert first[-1].reason == "citizen_erased"
