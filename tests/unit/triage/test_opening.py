"""The bot greets the citizen and asks the first question once the case is open."""

from __future__ import annotations

from dataclasses import replace

from schemas.envelope import derive_event_id
from schemas.events import MessageSent
from schemas.personal import ERASED
from tests.unit.triage.conversation import CASE_ID, CITIZEN, FLOW, Citizen, given, when


def test_case_opened_after_the_first_message_sends_greeting_and_first_question() -> None:
    citizen = Citizen()
    first = citizen.says("Olá, bom dia")
    state = given([first])
    opened = citizen.case_opened()

    out = when(state, opened)

    assert len(out) == 1
    sent = out[0]
    assert isinstance(sent, MessageSent)
    assert sent.sender_kind == "bot"
    assert isinstance(sent.text, str)
    assert sent.text.startswith(FLOW.messages.greeting)
    assert FLOW.questions[0].prompt in sent.text
    assert (sent.subject_id, sent.case_id, sent.contact_id) == (CITIZEN, CASE_ID, "contact-1")
    assert (sent.channel, sent.contact_address) == ("whatsapp", "+5511999990000")
    assert sent.channel_account_id == "account-1"


def test_outputs_carry_ids_and_times_derived_from_their_cause() -> None:
    citizen = Citizen()
    state = given([citizen.says("Olá")])
    opened = citizen.case_opened()

    (sent,) = when(state, opened)

    assert sent.event_id == derive_event_id(opened.event_id, "streams.triage", "0")
    assert sent.causation_id == opened.event_id
    assert sent.correlation_id == opened.correlation_id
    assert sent.occurred_at == opened.occurred_at
    assert isinstance(sent, MessageSent)
    assert sent.sent_at == opened.occurred_at
    assert sent.message_id == derive_event_id(opened.event_id, "streams.triage", "message", "0")


def test_case_opened_before_any_message_waits_for_the_citizens_first_message() -> None:
    citizen = Citizen()
    state = given([])
    opened = citizen.case_opened()

    assert when(state, opened) == []

    state = given([opened])
    first = citizen.says("Oi, preciso de ajuda")
    out = when(state, first)

    assert len(out) == 1
    assert isinstance(out[0], MessageSent)
    assert isinstance(out[0].text, str)
    assert out[0].text.startswith(FLOW.messages.greeting)
    assert out[0].causation_id == first.event_id
    assert given([opened, first]).question_id == FLOW.questions[0].id


def test_messages_before_the_case_opens_get_no_answer_yet() -> None:
    citizen = Citizen()
    state = given([citizen.says("Olá")])

    assert when(state, citizen.says("tem alguém aí?")) == []


def test_a_redelivered_case_opened_greets_only_once() -> None:
    citizen = Citizen()
    first, opened = citizen.says("Olá"), citizen.case_opened()
    state = given([first, opened])

    assert when(state, opened) == []


def test_a_redelivered_message_is_not_a_second_answer() -> None:
    citizen = Citizen()
    answer = citizen.says("meu vizinho não me deixa passar")
    state = given([*citizen.started(), answer])

    assert when(state, answer) == []
    assert given([*citizen.started(), answer, answer]).question_id == "regiao"


def test_messages_of_another_case_are_ignored() -> None:
    citizen = Citizen()
    state = given(citizen.started())

    assert when(state, citizen.says("pensão", case_id="case-2")) == []


def test_an_erased_address_changes_nothing_the_bot_decides() -> None:
    # Whether the citizen was erased is not an input: a replay or a restored state decides
    # what the first run did, with the same ids (the publisher writes the message ERASED).
    erased, readable = Citizen(address=ERASED), Citizen()

    sent = when(given([erased.says("Olá")]), erased.case_opened())

    expected = when(given([readable.says("Olá")]), readable.case_opened())
    assert all(isinstance(m, MessageSent) for m in expected)
    assert sent == [
        replace(m, contact_address=ERASED) for m in expected if isinstance(m, MessageSent)
    ]
    assert given([erased.says("Olá"), erased.case_opened()]).status == "asking"


def test_an_email_reply_continues_the_citizens_thread() -> None:
    citizen = Citizen(channel="email", address="maria@example.org")
    first = citizen.says("Preciso de ajuda", email_subject="Pensão", thread_id=None)
    state = given([first])

    (sent,) = when(state, citizen.case_opened())

    assert isinstance(sent, MessageSent)
    assert sent.email_subject == "Re: Pensão"
    assert sent.thread_id == first.provider_message_id
    assert sent.reply_to_provider_message_id == first.provider_message_id


def test_an_email_without_subject_gets_the_flows_subject() -> None:
    citizen = Citizen(channel="email", address="maria@example.org")
    state = given([citizen.says("Preciso de ajuda")])

    (sent,) = when(state, citizen.case_opened())

    assert isinstance(sent, MessageSent)
    assert sent.email_subject == FLOW.messages.email_subject
