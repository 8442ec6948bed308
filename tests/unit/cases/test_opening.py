"""A message opens a case, joins the open one, reopens a recently closed one; never twice."""

from __future__ import annotations

import pytest

from schemas.envelope import derive_event_id
from schemas.events import CaseOpened, CaseReopened, CaseResumed, MessageReceived
from streams.cases.domain import decide, handle
from streams.cases.state import MESSAGE_WINDOW, ContactState, MisroutedEvent, case_id_for

from .builders import (
    CITIZEN,
    CONTACT,
    POLICY,
    agent_replied,
    assigned,
    at,
    closed_by_agent,
    given,
    names,
    put_on_hold,
    queued,
    received,
    triaged,
    when,
)


def test_a_first_message_opens_a_case_derived_from_it() -> None:
    first = received(1)

    outputs = decide(ContactState(contact_id=CONTACT), first, POLICY)

    assert outputs == [
        CaseOpened(
            event_id=derive_event_id(first.event_id, "streams.cases", "0"),
            occurred_at=first.occurred_at,
            correlation_id=first.correlation_id,
            causation_id=first.event_id,
            case_id=derive_event_id(first.event_id, "streams.cases", "case"),
            citizen_id=CITIZEN,
            contact_id=CONTACT,
            channel="whatsapp",
            opened_by_message_id=first.event_id,
        )
    ]


def test_a_message_while_a_case_is_open_joins_it() -> None:
    state = given(received(1))

    state, outputs = when(state, [received(2, at(minutes=5))])

    assert outputs == []
    assert state.case is not None
    assert state.case.case_id == case_id_for(received(1))
    assert state.case.last_citizen_message_at == at(minutes=5)


def test_a_burst_of_five_first_messages_opens_one_case() -> None:
    burst = [received(n, at(seconds=n)) for n in range(5)]

    _, outputs = when(ContactState(contact_id=CONTACT), burst)

    assert names(outputs) == ["CaseOpened"]


def test_a_webhook_retried_while_the_first_delivery_is_in_flight_opens_one_case() -> None:
    first = received(1)

    _, outputs = when(ContactState(contact_id=CONTACT), [first, first, first])

    assert names(outputs) == ["CaseOpened"]


@pytest.mark.parametrize(
    "redelivery",
    [
        pytest.param(received(1, at(hours=3)), id="same event id, later"),
        pytest.param(
            received(99, at(hours=3), provider_message_id="wamid.contact-maria.1"),
            id="same provider message id",
        ),
    ],
)
def test_a_redelivered_message_decides_and_changes_nothing(redelivery: MessageReceived) -> None:
    state = given(received(1), received(2, at(minutes=1)))

    after, outputs = handle(state, redelivery, POLICY)

    assert outputs == []
    assert after == state


def test_a_redelivery_after_the_case_closed_does_not_reopen_or_open_a_case() -> None:
    first = received(1)
    state = given(first, closed_by_agent(case_id_for(first), at(hours=1), "resolved"))

    _, outputs = when(state, [first])

    assert outputs == []


def test_a_redelivery_older_than_the_remembered_window_is_still_dropped() -> None:
    first = received(0)
    later = [received(n, at(minutes=n)) for n in range(1, MESSAGE_WINDOW + 5)]
    state = given(first, *later)
    assert all(seen.event_id != first.event_id for seen in state.seen_messages)

    _, outputs = when(state, [first])

    assert outputs == []
    assert len(state.seen_messages) == MESSAGE_WINDOW


def test_a_message_within_the_reopening_window_reopens_the_closed_case() -> None:
    first = received(1)
    case_id = case_id_for(first)
    state = given(first, closed_by_agent(case_id, at(days=1), "resolved"))

    state, outputs = when(state, [received(2, at(days=7, minutes=59))])

    assert outputs == [
        CaseReopened(
            event_id=derive_event_id(received(2).event_id, "streams.cases", "0"),
            occurred_at=at(days=7, minutes=59),
            correlation_id=received(2).correlation_id,
            causation_id=received(2).event_id,
            case_id=case_id,
            contact_id=first.contact_id,
            reopened_by_message_id=received(2).event_id,
            previous_closed_at=at(days=1),
            previous_close_reason="resolved",
        )
    ]
    assert state.case is not None
    assert state.case.status == "in_triage"


def test_a_message_after_the_reopening_window_opens_a_new_case() -> None:
    first = received(1)
    state = given(first, closed_by_agent(case_id_for(first), at(days=1), "resolved"))

    state, outputs = when(state, [received(2, at(days=8, minutes=1))])

    assert names(outputs) == ["CaseOpened"]
    assert state.case is not None
    assert state.case.case_id == case_id_for(received(2))
    assert state.case.case_id != case_id_for(first)


def test_a_case_closed_as_ineligible_is_not_reopened_a_new_case_opens() -> None:
    first = received(1)
    state = given(first, closed_by_agent(case_id_for(first), at(hours=1), "ineligible"))

    _, outputs = when(state, [received(2, at(hours=2))])

    assert names(outputs) == ["CaseOpened"]


def test_a_message_written_before_a_case_closed_for_good_opens_a_new_case_the_state_knows() -> None:
    first = received(1, at(minutes=10))
    state = given(first, closed_by_agent(case_id_for(first), at(minutes=20), "ineligible"))

    state, outputs = when(state, [received(2, at(minutes=5))])  # the other topic lagged

    assert names(outputs) == ["CaseOpened"]
    assert state.case is not None
    assert (state.case.case_id, state.case.status) == (case_id_for(received(2)), "in_triage")


def test_a_late_copy_of_an_earlier_case_opening_changes_nothing() -> None:
    first = received(1)
    opened = decide(ContactState(contact_id=CONTACT), first, POLICY)[0]
    state = given(
        first,
        closed_by_agent(case_id_for(first), at(hours=1), "ineligible"),
        received(2, at(hours=2)),
        closed_by_agent(case_id_for(received(2)), at(hours=3), "ineligible"),
    )

    after, outputs = handle(state, opened, POLICY)

    assert (after, outputs) == (state, [])


def test_a_reopened_case_that_had_been_queued_goes_back_to_its_queue() -> None:
    first = received(1)
    case_id = case_id_for(first)
    state = given(
        first,
        triaged(case_id, at(minutes=5)),
        queued(case_id, at(minutes=5)),
        closed_by_agent(case_id, at(days=2), "resolved"),
    )

    state, _ = when(state, [received(2, at(days=3))])

    assert state.case is not None
    assert (state.case.status, state.case.queue_id, state.case.agent_id) == (
        "queued",
        "familia-capital",
        None,
    )


def test_a_citizen_reply_resumes_a_case_held_for_documents() -> None:
    first = received(1)
    case_id = case_id_for(first)
    state = given(first, put_on_hold(case_id, at(hours=1), "documents_pending"))

    state, outputs = when(state, [received(2, at(hours=3))])

    assert len(outputs) == 1
    resumed = outputs[0]
    assert isinstance(resumed, CaseResumed)
    assert (resumed.case_id, resumed.reason, resumed.held_ms) == (
        case_id,
        "citizen_replied",
        2 * 3600 * 1000,
    )
    assert state.case is not None
    assert state.case.status == "in_triage"


def test_a_citizen_reply_does_not_resume_a_case_held_on_a_third_party() -> None:
    first = received(1)
    state = given(first, put_on_hold(case_id_for(first), at(hours=1), "external"))

    state, outputs = when(state, [received(2, at(hours=3))])

    assert outputs == []
    assert state.case is not None
    assert (state.case.status, state.case.last_citizen_message_at) == ("on_hold", at(hours=3))


def test_a_citizen_reply_to_an_agent_gives_the_move_back_without_an_event() -> None:
    first = received(1)
    case_id = case_id_for(first)
    state = given(first, assigned(case_id, at(minutes=10)), agent_replied(case_id, at(hours=1)))
    assert state.case is not None
    assert state.case.status == "waiting_on_citizen"

    state, outputs = when(state, [received(2, at(hours=2))])

    assert outputs == []  # CaseResumed is for holds; every reader sees this message anyway
    assert state.case is not None
    assert state.case.status == "assigned"


def test_a_message_for_another_contact_is_refused_as_misrouted() -> None:
    with pytest.raises(MisroutedEvent, match="key it by contact_id"):
        decide(ContactState(contact_id=CONTACT), received(1, contact="contact-joao"), POLICY)
