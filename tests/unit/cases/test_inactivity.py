"""Inactivity rules fire explicitly, in ladder order, once per period, from clock ticks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from schemas.envelope import derive_event_id
from schemas.events import CaseClosed, CasePutOnHold, MessageSent
from schemas.personal import ERASED
from streams.cases.domain import decide, handle, next_deadline
from streams.cases.state import ContactState, Input, case_id_for, reminder_message_id

from .builders import (
    CITIZEN,
    CLOSE_NOTICE,
    CONTACT,
    HOLD_NOTICE,
    PHONE,
    POLICY,
    REMIND_TRIAGE,
    REMIND_WAITING,
    agent_replied,
    assigned,
    at,
    given,
    names,
    put_on_hold,
    received,
    tick,
    triaged,
    when,
)

FIRST = received(1)
CASE = case_id_for(FIRST)
REPLIED_AT = at(hours=1)
DAY = timedelta(days=1)
WAITING_ON_CITIZEN: tuple[Input, ...] = (
    FIRST,
    assigned(CASE, at(minutes=10)),
    agent_replied(CASE, REPLIED_AT),
)


def test_a_citizen_silent_in_triage_is_reminded_after_two_hours() -> None:
    state = given(FIRST, tick(at(hours=1, minutes=59)))
    reminder_tick = tick(at(hours=2))

    outputs = decide(state, reminder_tick, POLICY)

    assert outputs == [
        MessageSent(
            event_id=derive_event_id(reminder_tick.event_id, "streams.cases", CASE, "0"),
            occurred_at=at(hours=2),
            correlation_id=FIRST.correlation_id,  # the case's flow, not the timer's
            causation_id=reminder_tick.event_id,
            subject_id=CITIZEN,
            channel="whatsapp",
            contact_id=CONTACT,
            contact_address=PHONE,
            case_id=CASE,
            message_id=reminder_message_id(CASE, 1),
            sender_kind="bot",
            text=REMIND_TRIAGE,
            sent_at=at(hours=2),
        )
    ]


def test_a_reminder_fires_once_however_many_ticks_follow() -> None:
    ticks = [tick(at(hours=2, minutes=m)) for m in range(0, 120, 1)]

    state, outputs = when(given(FIRST), ticks)

    assert names(outputs) == ["MessageSent"]
    assert state.case is not None
    assert state.case.reminders_sent == 1


def test_a_redelivered_tick_fires_nothing_more() -> None:
    state, first = when(given(FIRST), [tick(at(hours=3))])

    _, again = when(state, [tick(at(hours=3))])

    assert names(first) == ["MessageSent"]
    assert again == []


def test_a_case_silent_in_triage_is_auto_closed_after_two_days() -> None:
    state, _ = when(given(FIRST), [tick(at(hours=2))])

    state, outputs = when(state, [tick(at(hours=47, minutes=59)), tick(at(hours=48))])

    assert len(outputs) == 1
    closed = outputs[0]
    assert isinstance(closed, CaseClosed)
    assert (closed.case_id, closed.reason, closed.closed_by_agent_id) == (
        CASE,
        "auto_closed_inactivity",
        None,
    )
    assert state.case is not None
    assert (state.case.status, state.case.closed_at) == ("closed", at(hours=48))


def test_the_triage_ladder_stops_once_the_case_is_triaged() -> None:
    state = given(FIRST, triaged(CASE, at(minutes=5)))

    _, outputs = when(state, [tick(at(days=30))])

    assert outputs == []


def test_a_citizen_message_starts_a_new_period() -> None:
    state, first = when(given(FIRST), [tick(at(hours=2))])

    state, outputs = when(state, [received(2, at(hours=3)), tick(at(hours=4, minutes=59))])
    assert (names(first), outputs) == (["MessageSent"], [])

    _, outputs = when(state, [tick(at(hours=5))])
    assert names(outputs) == ["MessageSent"]
    sent = outputs[0]
    assert isinstance(sent, MessageSent)
    assert sent.message_id == reminder_message_id(CASE, 2)


def test_waiting_on_the_citizen_reminds_after_a_day_with_the_approved_template() -> None:
    state = given(*WAITING_ON_CITIZEN)

    _, outputs = when(state, [tick(REPLIED_AT + DAY)])

    assert len(outputs) == 1
    sent = outputs[0]
    assert isinstance(sent, MessageSent)
    # the citizen last wrote more than 24 hours ago: WhatsApp only accepts a template
    assert (sent.sender_kind, sent.template_name, sent.template_language, sent.text) == (
        "bot",
        "lembrete",
        "pt_BR",
        None,
    )


def test_a_web_chat_citizen_is_reminded_in_plain_text() -> None:
    first = received(1, channel="web_chat")
    case_id = case_id_for(first)
    state = given(first, agent_replied(case_id, REPLIED_AT, channel="web_chat"))

    _, outputs = when(state, [tick(REPLIED_AT + DAY)])

    assert len(outputs) == 1
    sent = outputs[0]
    assert isinstance(sent, MessageSent)
    assert (sent.channel, sent.text, sent.template_name) == ("web_chat", REMIND_WAITING, None)


def test_a_tick_far_ahead_fires_remind_hold_and_close_in_order_exactly_once() -> None:
    state = given(*WAITING_ON_CITIZEN)
    far = tick(at(days=60))

    state, outputs = when(state, [far, far, tick(at(days=61))])

    assert names(outputs) == [
        "MessageSent",  # the reminder
        "MessageSent",  # the hold notice
        "CasePutOnHold",
        "MessageSent",  # the close notice
        "CaseClosed",
    ]
    reminder, hold_notice, hold, close_notice, close = outputs
    assert isinstance(reminder, MessageSent)
    assert isinstance(hold_notice, MessageSent)
    assert isinstance(close_notice, MessageSent)
    assert isinstance(hold, CasePutOnHold)
    assert isinstance(close, CaseClosed)
    assert (reminder.sender_kind, hold_notice.text, close_notice.text) == (
        "bot",
        HOLD_NOTICE,
        CLOSE_NOTICE,
    )
    assert (hold.reason, hold.put_by_agent_id, hold.until) == (
        "inactivity",
        None,
        REPLIED_AT + 7 * DAY,
    )
    assert close.reason == "auto_closed_inactivity"
    assert [o.event_id for o in outputs] == [
        derive_event_id(far.event_id, "streams.cases", CASE, str(n)) for n in range(5)
    ]
    assert {o.occurred_at for o in outputs} == {at(days=60)}
    assert state.case is not None
    assert state.case.status == "closed"


def test_hold_then_close_come_on_time_across_ticks() -> None:
    state = given(*WAITING_ON_CITIZEN)
    state, by_day3 = when(state, [tick(REPLIED_AT + DAY), tick(REPLIED_AT + 3 * DAY)])
    assert names(by_day3) == ["MessageSent", "MessageSent", "CasePutOnHold"]
    assert state.case is not None
    assert (state.case.status, state.case.hold_reason) == ("on_hold", "inactivity")

    state, by_day6 = when(state, [tick(REPLIED_AT + 6 * DAY)])
    assert by_day6 == []

    state, by_day7 = when(state, [tick(REPLIED_AT + 7 * DAY)])
    assert names(by_day7) == ["MessageSent", "CaseClosed"]


def test_a_citizen_reply_resumes_a_case_the_ladder_put_on_hold() -> None:
    state = given(*WAITING_ON_CITIZEN)
    state, _ = when(state, [tick(at(days=4))])
    assert state.case is not None
    assert state.case.status == "on_hold"

    state, outputs = when(state, [received(2, at(days=5)), tick(at(days=30))])

    assert names(outputs) == ["CaseResumed"]
    assert state.case is not None
    assert state.case.status == "assigned"


def test_an_agent_hold_for_documents_runs_its_own_ladder() -> None:
    state = given(FIRST, put_on_hold(CASE, at(hours=1), "documents_pending"))

    state, outputs = when(state, [tick(at(days=3, hours=1)), tick(at(days=31))])

    assert names(outputs) == ["MessageSent", "CaseClosed"]


def test_a_status_without_a_ladder_is_never_touched() -> None:
    state = given(FIRST, triaged(CASE, at(minutes=5)), assigned(CASE, at(minutes=9)))

    _, outputs = when(state, [tick(at(days=365))])

    assert outputs == []


def test_an_erased_contact_runs_its_ladder_as_any_other_with_the_same_ids() -> None:
    # Whether the citizen was erased is not an input (a restore reads the address ERASED, a
    # running processor may still hold it): both decide the same events, the same ids. The
    # publisher writes the messages ERASED; no connector can deliver them.
    readable = given(FIRST)
    erased = replace(readable, contact_address=ERASED)

    _, outputs = when(erased, [tick(at(hours=3)), tick(at(days=3))])
    _, expected = when(readable, [tick(at(hours=3)), tick(at(days=3))])

    assert names(outputs) == names(expected) == ["MessageSent", "CaseClosed"]
    assert [o.event_id for o in outputs] == [o.event_id for o in expected]
    assert [o.contact_address for o in outputs if isinstance(o, MessageSent)] == [ERASED]


def test_the_next_deadline_is_the_next_step_not_yet_fired() -> None:
    state = given(FIRST)
    assert next_deadline(state, POLICY) == at(hours=2)

    state, _ = when(state, [tick(at(hours=2))])
    assert next_deadline(state, POLICY) == at(hours=48)

    state, _ = when(state, [tick(at(hours=48))])
    assert next_deadline(state, POLICY) is None


def test_one_tick_reminding_two_contacts_gives_each_reminder_its_own_id() -> None:
    # The timer writes the same tick into every partition: ids derived from the tick alone
    # would make the second contact's reminder look like a redelivery of the first's.
    other_first = type(FIRST).from_record(
        FIRST.to_record()
        | {"event_id": "other-1", "contact_id": "contact-other", "subject_id": "citizen-other"}
    )
    reminder_tick = tick(at(hours=2))

    theirs_before, _ = handle(ContactState(contact_id="contact-other"), other_first, POLICY)

    mine = decide(given(FIRST), reminder_tick, POLICY)
    theirs = decide(theirs_before, reminder_tick, POLICY)

    assert names(mine) == names(theirs) == ["MessageSent"]
    assert mine[0].event_id != theirs[0].event_id
    assert mine[0].causation_id == theirs[0].causation_id == reminder_tick.event_id
