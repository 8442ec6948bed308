"""Agents' commands on a case: given the contact's history, when an agent replies, puts the case
on hold, resumes it or closes it, then the fact, or CommandRefused with the reason; each command
once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from schemas.envelope import derive_event_id
from schemas.events import (
    Attachment,
    CaseClosed,
    CasePutOnHold,
    CaseResumed,
    Channel,
    CommandRefused,
    HoldReason,
    MessageSent,
    RefusalReason,
    SendReply,
)
from schemas.personal import ERASED
from streams.cases.commands import reply_message_id
from streams.cases.domain import decide, handle
from streams.cases.state import (
    CaseStatus,
    ContactState,
    Input,
    MisroutedEvent,
    Output,
    case_id_for,
    evolve,
)

from .builders import (
    CITIZEN,
    CONTACT,
    PHONE,
    POLICY,
    ask_close,
    ask_hold,
    ask_resume,
    assigned,
    at,
    closed_by_agent,
    given,
    names,
    queued,
    received,
    send_reply,
    triaged,
    when,
)

FIRST = received(1)
CASE = case_id_for(FIRST)
ANA = "agent-ana"


def held_by_ana() -> ContactState:
    """A citizen wrote, the case was triaged, queued and assigned to Ana."""
    return given(
        FIRST,
        triaged(CASE, at(minutes=3)),
        queued(CASE, at(minutes=4)),
        assigned(CASE, at(minutes=9), agent_id=ANA),
    )


def only(outputs: list[Output]) -> Output:
    assert len(outputs) == 1, outputs
    return outputs[0]


def status(state: ContactState) -> CaseStatus | None:
    return state.case.status if state.case else None


def refusal(outputs: list[Output]) -> tuple[RefusalReason, str]:
    refused = only(outputs)
    assert isinstance(refused, CommandRefused), refused
    return refused.reason, refused.detail


# -- SendReply ---------------------------------------------------------------------------------


def test_a_reply_from_the_agent_holding_the_case_is_sent_to_the_contact() -> None:
    command = send_reply(CASE, at(minutes=15))

    state, outputs = when(held_by_ana(), [command])

    sent = only(outputs)
    assert isinstance(sent, MessageSent)
    assert (sent.sender_kind, sent.agent_id, sent.case_id) == ("agent", ANA, CASE)
    assert (sent.contact_id, sent.contact_address, sent.channel) == (CONTACT, PHONE, "whatsapp")
    assert (sent.subject_id, sent.text) == (CITIZEN, command.text)
    assert sent.event_id == derive_event_id(command.event_id, "streams.cases", "0")
    assert sent.message_id == reply_message_id(command.event_id)
    assert (sent.causation_id, sent.correlation_id) == (command.event_id, command.correlation_id)
    assert sent.occurred_at == sent.sent_at == command.occurred_at
    assert status(state) == "waiting_on_citizen"


def test_a_reply_goes_out_through_the_contacts_account_and_thread() -> None:
    email = replace(
        received(1, channel="email"), channel_account_id="atendimento@defensoria", thread_id="<t1>"
    )
    case = case_id_for(email)
    state = given(email, assigned(case, at(minutes=9)))

    sent = only(decide(state, send_reply(case, at(minutes=15)), POLICY))

    assert isinstance(sent, MessageSent)
    assert (sent.channel, sent.channel_account_id, sent.thread_id) == (
        "email",
        "atendimento@defensoria",
        "<t1>",
    )


def test_a_reply_carries_its_attachments() -> None:
    rg = Attachment(
        attachment_id="att-1",
        media_type="application/pdf",
        size_bytes=1024,
        sha256="a" * 64,
        storage_ref="media/aaaa",
        file_name="orientacoes.pdf",
    )
    command = replace(send_reply(CASE, at(minutes=15), text=None), attachments=(rg,))

    sent = only(decide(held_by_ana(), command, POLICY))

    assert isinstance(sent, MessageSent)
    assert (sent.text, sent.attachments) == (None, (rg,))


def test_a_reply_from_another_agent_is_refused_as_not_their_case() -> None:
    state, outputs = when(held_by_ana(), [send_reply(CASE, at(minutes=15), agent_id="agent-bia")])

    assert refusal(outputs) == ("not_your_case", f"case {CASE} is held by agent {ANA}")
    refused = only(outputs)
    assert isinstance(refused, CommandRefused)
    assert (refused.command, refused.agent_id, refused.case_id, refused.contact_id) == (
        "SendReply",
        "agent-bia",
        CASE,
        CONTACT,
    )
    assert state.case == held_by_ana().case  # nothing about the case changed


def test_a_reply_to_a_case_waiting_in_its_queue_is_refused_as_not_their_case() -> None:
    state = given(FIRST, queued(CASE, at(minutes=4)))

    reason, detail = refusal(decide(state, send_reply(CASE, at(minutes=15)), POLICY))

    assert reason == "not_your_case"
    assert detail == f"case {CASE} is held by nobody (queued)"


def test_a_reply_to_a_closed_case_is_refused_as_case_closed() -> None:
    state = given(
        FIRST, assigned(CASE, at(minutes=9)), closed_by_agent(CASE, at(hours=1), "ineligible")
    )

    assert refusal(decide(state, send_reply(CASE, at(hours=2)), POLICY))[0] == "case_closed"


def test_a_reply_to_an_earlier_case_of_the_contact_is_refused_as_case_closed() -> None:
    later = received(2, at(days=30))  # past the reopening window: a new case
    state = given(
        FIRST,
        closed_by_agent(CASE, at(hours=1), "resolved"),
        later,
        assigned(case_id_for(later), at(days=30, minutes=5)),
    )

    assert refusal(decide(state, send_reply(CASE, at(days=30, hours=1)), POLICY)) == (
        "case_closed",
        f"case {CASE} is closed",
    )


@pytest.mark.parametrize("history", [[], [FIRST]], ids=["no case yet", "another case"])
def test_a_reply_to_a_case_the_contact_never_had_is_refused_as_no_such_case(
    history: list[Input],
) -> None:
    state = given(*history)

    reason, _ = refusal(decide(state, send_reply("case-unknown", at(minutes=15)), POLICY))

    assert reason == "no_such_case"


def test_an_empty_reply_is_refused_as_invalid() -> None:
    command = send_reply(CASE, at(minutes=15), text="")

    assert refusal(decide(held_by_ana(), command, POLICY)) == (
        "invalid",
        "a reply needs text, a template or at least one attachment",
    )


HEARING = '["amanhã, 14h", "Fórum João Mendes"]'


def template_reply(case_id: str = CASE, **changes: Any) -> SendReply:
    """A reply that is an approved WhatsApp template: the way past the 24-hour window."""
    command = send_reply(case_id, at(days=2), text=None)
    fields: dict[str, Any] = {
        "template_name": "lembrete_audiencia",
        "template_language": "pt_BR",
        "template_parameters": HEARING,
    }
    return replace(command, **(fields | changes))


def test_a_template_reply_is_sent_as_that_template_and_no_text() -> None:
    command = template_reply()

    state, outputs = when(held_by_ana(), [command])

    sent = only(outputs)
    assert isinstance(sent, MessageSent)
    assert (sent.template_name, sent.template_language, sent.template_parameters) == (
        "lembrete_audiencia",
        "pt_BR",
        HEARING,
    )
    assert (sent.text, sent.attachments) == (None, ())
    assert (sent.sender_kind, sent.agent_id, sent.channel) == ("agent", ANA, "whatsapp")
    assert sent.message_id == reply_message_id(command.event_id)
    assert status(state) == "waiting_on_citizen"
    # redelivered, it adds nothing
    assert handle(state, command, POLICY) == (state, [])


def test_a_template_without_parameters_is_sent_without_them() -> None:
    sent = only(decide(held_by_ana(), template_reply(template_parameters=None), POLICY))

    assert isinstance(sent, MessageSent)
    assert (sent.template_name, sent.template_parameters) == ("lembrete_audiencia", None)


@pytest.mark.parametrize("channel", ["email", "web_chat"])
def test_a_template_on_an_email_or_web_chat_case_is_refused_as_invalid(channel: Channel) -> None:
    first = received(1, channel=channel)
    case = case_id_for(first)
    state = given(first, assigned(case, at(minutes=9), agent_id=ANA))

    reason, detail = refusal(decide(state, template_reply(case), POLICY))

    assert reason == "invalid"
    assert detail == (
        f"templates are WhatsApp's and case {case} is on {channel}, which takes text: "
        "send the reply as text"
    )
    assert HEARING not in detail


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"text": "Bom dia"}, "a template goes alone: no text or attachments with it"),
        ({"template_language": None}, "a template needs its name and its language"),
        (
            {"template_name": None},
            "template_language and template_parameters need a template_name",
        ),
    ],
    ids=["with text", "without language", "parameters without a name"],
)
def test_a_template_reply_that_makes_no_sense_is_refused_as_invalid(
    changes: dict[str, Any], detail: str
) -> None:
    assert refusal(decide(held_by_ana(), template_reply(**changes), POLICY)) == ("invalid", detail)


def test_a_template_reply_is_refused_unless_the_agent_holds_the_open_case() -> None:
    command = template_reply(agent_id="agent-bia")

    assert refusal(decide(held_by_ana(), command, POLICY))[0] == "not_your_case"


def test_a_reply_whose_text_reads_erased_is_decided_as_the_readable_one_was() -> None:
    # The command was sealed before the citizen's erasure and read after it: a replay must
    # decide what the first run did, so the fact is the same, its text ERASED.
    command = send_reply(CASE, at(minutes=15))

    sent = only(decide(held_by_ana(), replace(command, text=ERASED), POLICY))
    expected = only(decide(held_by_ana(), command, POLICY))

    assert isinstance(expected, MessageSent)
    assert sent == replace(expected, text=ERASED)


def test_a_reply_to_a_contact_whose_address_reads_erased_is_still_a_reply() -> None:
    command = send_reply(CASE, at(minutes=15))

    sent = only(decide(replace(held_by_ana(), contact_address=ERASED), command, POLICY))
    expected = only(decide(held_by_ana(), command, POLICY))

    assert isinstance(expected, MessageSent)
    assert sent == replace(expected, contact_address=ERASED)


# -- PutCaseOnHold -----------------------------------------------------------------------------


def test_the_agent_holding_the_case_puts_it_on_hold_until_its_ladder_takes_over() -> None:
    command = ask_hold(CASE, at(hours=1), "documents_pending")

    state, outputs = when(held_by_ana(), [command])

    hold = only(outputs)
    assert isinstance(hold, CasePutOnHold)
    assert (hold.reason, hold.put_by_agent_id, hold.contact_id) == (
        "documents_pending",
        ANA,
        CONTACT,
    )
    assert hold.until == at(hours=1) + timedelta(days=3)  # the ladder's first step: a reminder
    assert hold.causation_id == command.event_id
    assert status(state) == "on_hold"


def test_a_hold_for_a_reason_without_a_ladder_is_open_ended() -> None:
    hold = only(decide(held_by_ana(), ask_hold(CASE, at(hours=1), "external"), POLICY))

    assert isinstance(hold, CasePutOnHold)
    assert hold.until is None


def test_a_hold_for_another_reason_changes_the_reason_and_the_same_reason_is_refused() -> None:
    state = given(FIRST, assigned(CASE, at(minutes=9)), ask_hold(CASE, at(hours=1), "external"))

    changed = only(decide(state, ask_hold(CASE, at(hours=2), "documents_pending"), POLICY))
    again = decide(state, ask_hold(CASE, at(hours=2), "external"), POLICY)

    assert isinstance(changed, CasePutOnHold)
    assert refusal(again) == ("invalid", f"case {CASE} is already on hold: external")


@pytest.mark.parametrize(
    ("state", "agent", "expected"),
    [
        pytest.param(held_by_ana(), "agent-bia", "not_your_case", id="another agent's case"),
        pytest.param(
            given(
                FIRST, assigned(CASE, at(minutes=9)), closed_by_agent(CASE, at(hours=1), "resolved")
            ),
            ANA,
            "case_closed",
            id="a closed case",
        ),
        pytest.param(given(), ANA, "no_such_case", id="no case"),
    ],
)
def test_a_hold_is_refused_unless_the_agent_holds_the_open_case(
    state: ContactState, agent: str, expected: RefusalReason
) -> None:
    command = ask_hold(CASE, at(hours=2), "waiting_on_citizen", agent_id=agent)

    assert refusal(decide(state, command, POLICY))[0] == expected


def test_a_hold_for_an_unknown_reason_is_refused_as_invalid() -> None:
    command = ask_hold(CASE, at(hours=1), "unknown")

    assert refusal(decide(held_by_ana(), command, POLICY))[0] == "invalid"


# -- ResumeCase --------------------------------------------------------------------------------


def on_hold_with_ana(reason: HoldReason = "external") -> ContactState:
    """Ana's case, put on hold an hour after the first message."""
    return given(
        FIRST,
        triaged(CASE, at(minutes=3)),
        queued(CASE, at(minutes=4)),
        assigned(CASE, at(minutes=9), agent_id=ANA),
        ask_hold(CASE, at(hours=1), reason),
    )


def test_the_agent_holding_the_case_ends_a_hold_no_reply_would_end() -> None:
    # Waiting on a court: the citizen writing does not end the hold, Ana does.
    state, outputs = when(on_hold_with_ana("external"), [received(2, at(hours=5))])
    assert outputs == []
    assert status(state) == "on_hold"
    command = ask_resume(CASE, at(days=2, hours=1))

    state, outputs = when(state, [command])

    resumed = only(outputs)
    assert isinstance(resumed, CaseResumed)
    assert (resumed.reason, resumed.resumed_by_agent_id) == ("agent", ANA)
    assert (resumed.case_id, resumed.contact_id) == (CASE, CONTACT)
    assert resumed.held_ms == 2 * 24 * 3600 * 1000  # from the hold at 1h to 2 days and 1h
    assert resumed.event_id == derive_event_id(command.event_id, "streams.cases", "0")
    assert (resumed.causation_id, resumed.correlation_id) == (
        command.event_id,
        command.correlation_id,
    )
    assert resumed.occurred_at == command.occurred_at
    assert state.case is not None
    assert (state.case.status, state.case.hold_reason, state.case.held_since) == (
        "assigned",
        None,
        None,
    )


def test_an_agents_resume_reports_the_hold_as_a_citizens_reply_would() -> None:
    state = on_hold_with_ana("documents_pending")

    by_citizen = only(decide(state, received(2, at(hours=4)), POLICY))
    by_agent = only(decide(state, ask_resume(CASE, at(hours=4)), POLICY))

    assert isinstance(by_citizen, CaseResumed)
    assert isinstance(by_agent, CaseResumed)
    assert (by_citizen.reason, by_agent.reason) == ("citizen_replied", "agent")
    assert (by_citizen.resumed_by_agent_id, by_agent.resumed_by_agent_id) == (None, ANA)
    assert by_agent.held_ms == by_citizen.held_ms == 3 * 3600 * 1000


@pytest.mark.parametrize(
    ("history", "expected_status"),
    [
        pytest.param([], "assigned", id="an assigned case"),
        pytest.param([send_reply(CASE, at(minutes=15))], "waiting_on_citizen", id="waiting"),
        pytest.param(
            [ask_hold(CASE, at(hours=1), "external"), ask_resume(CASE, at(hours=2))],
            "assigned",
            id="a case resumed already",
        ),
    ],
)
def test_a_resume_of_a_case_that_is_not_on_hold_is_refused_as_invalid(
    history: list[Input], expected_status: CaseStatus
) -> None:
    before, _ = when(held_by_ana(), history)

    state, outputs = when(before, [ask_resume(CASE, at(hours=3))])

    assert refusal(outputs) == ("invalid", f"case {CASE} is not on hold: it is {expected_status}")
    assert state.case == before.case  # nothing about the case changed


@pytest.mark.parametrize(
    ("state", "agent", "expected"),
    [
        pytest.param(on_hold_with_ana(), "agent-bia", "not_your_case", id="another agent's case"),
        pytest.param(
            given(
                FIRST,
                assigned(CASE, at(minutes=9)),
                ask_hold(CASE, at(hours=1), "external"),
                closed_by_agent(CASE, at(hours=2), "resolved"),
            ),
            ANA,
            "case_closed",
            id="a closed case",
        ),
        pytest.param(given(), ANA, "no_such_case", id="no case"),
    ],
)
def test_a_resume_is_refused_unless_the_agent_holds_the_open_case(
    state: ContactState, agent: str, expected: RefusalReason
) -> None:
    command = ask_resume(CASE, at(hours=3), agent_id=agent)

    refused = only(decide(state, command, POLICY))

    assert isinstance(refused, CommandRefused)
    assert (refused.reason, refused.command, refused.agent_id) == (expected, "ResumeCase", agent)


def test_a_redelivered_resume_does_not_end_a_later_hold() -> None:
    command = ask_resume(CASE, at(hours=2))
    state, first = when(on_hold_with_ana(), [command])
    held_again, _ = when(state, [ask_hold(CASE, at(hours=3), "documents_pending")])

    assert names(first) == ["CaseResumed"]
    assert handle(state, command, POLICY) == (state, [])
    assert handle(held_again, command, POLICY) == (held_again, [])
    assert status(held_again) == "on_hold"


# -- CloseCase ---------------------------------------------------------------------------------


def test_the_agent_holding_the_case_closes_it() -> None:
    command = ask_close(CASE, at(hours=1), "resolved")

    state, outputs = when(held_by_ana(), [command])

    closed = only(outputs)
    assert isinstance(closed, CaseClosed)
    assert (closed.reason, closed.closed_by_agent_id, closed.contact_id) == (
        "resolved",
        ANA,
        CONTACT,
    )
    assert closed.event_id == derive_event_id(command.event_id, "streams.cases", "0")
    assert status(state) == "closed"
    later = decide(state, send_reply(CASE, at(hours=2)), POLICY)
    assert refusal(later)[0] == "case_closed"


def test_a_duplicate_is_closed_with_the_case_it_duplicates() -> None:
    command = ask_close(CASE, at(hours=1), "duplicate", duplicate_of="case-older")

    closed = only(decide(held_by_ana(), command, POLICY))

    assert isinstance(closed, CaseClosed)
    assert (closed.reason, closed.duplicate_of_case_id) == ("duplicate", "case-older")


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            ask_close(CASE, at(hours=1), "auto_closed_inactivity"), id="the rule's reason"
        ),
        pytest.param(ask_close(CASE, at(hours=1), "unknown"), id="an unknown reason"),
        pytest.param(ask_close(CASE, at(hours=1), "duplicate"), id="a duplicate of nothing"),
        pytest.param(
            ask_close(CASE, at(hours=1), "duplicate", duplicate_of=CASE), id="a duplicate of itself"
        ),
        pytest.param(
            ask_close(CASE, at(hours=1), "resolved", duplicate_of="case-older"),
            id="a duplicate id without the reason",
        ),
    ],
)
def test_a_close_that_makes_no_sense_is_refused_as_invalid(command: Input) -> None:
    state, outputs = when(held_by_ana(), [command])

    assert refusal(outputs)[0] == "invalid"
    assert status(state) == "assigned"


@pytest.mark.parametrize(
    ("state", "agent", "expected"),
    [
        pytest.param(held_by_ana(), "agent-bia", "not_your_case", id="another agent's case"),
        pytest.param(given(FIRST), ANA, "not_your_case", id="a case in triage"),
        pytest.param(
            given(
                FIRST, assigned(CASE, at(minutes=9)), closed_by_agent(CASE, at(hours=1), "resolved")
            ),
            ANA,
            "case_closed",
            id="a closed case",
        ),
        pytest.param(given(), ANA, "no_such_case", id="no case"),
    ],
)
def test_a_close_is_refused_unless_the_agent_holds_the_open_case(
    state: ContactState, agent: str, expected: RefusalReason
) -> None:
    command = ask_close(CASE, at(hours=2), "resolved", agent_id=agent)

    assert refusal(decide(state, command, POLICY))[0] == expected


# -- once each ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(send_reply(CASE, at(minutes=15)), id="an accepted reply"),
        pytest.param(send_reply(CASE, at(minutes=15), agent_id="agent-bia"), id="a refused reply"),
        pytest.param(ask_close(CASE, at(hours=1)), id="an accepted close"),
        pytest.param(ask_hold(CASE, at(hours=1), "external"), id="an accepted hold"),
        pytest.param(ask_resume(CASE, at(hours=1)), id="a refused resume"),
    ],
)
def test_a_redelivered_command_decides_nothing(command: Input) -> None:
    state, first = when(held_by_ana(), [command])
    later, _ = when(state, [received(2, at(hours=3)), triaged(CASE, at(hours=3, minutes=1))])

    assert len(first) == 1
    assert handle(state, command, POLICY) == (state, [])
    assert decide(later, command, POLICY) == []  # still once, a few events later


def test_the_processors_own_refusal_read_back_changes_nothing() -> None:
    state, outputs = when(held_by_ana(), [send_reply(CASE, at(minutes=15), agent_id="agent-bia")])

    assert decide(state, only(outputs), POLICY) == []
    assert evolve(state, only(outputs)) == state


def test_a_command_for_another_contact_is_misrouted() -> None:
    with pytest.raises(MisroutedEvent, match="key it by contact_id"):
        decide(held_by_ana(), send_reply(CASE, at(minutes=15), contact="contact-joao"), POLICY)


AGENTS_FILE = Attachment(
    attachment_id="att-1",
    media_type="application/pdf",
    size_bytes=1024,
    sha256="ab" * 32,
    storage_ref="media/" + "cd" * 32,
    file_name="procuracao.pdf",
)


@pytest.mark.parametrize("channel", ["whatsapp", "email", "web_chat"])
def test_a_reply_with_a_file_goes_out_on_whatsapp_email_and_web_chat(channel: Channel) -> None:
    first = received(1, channel=channel)
    case = case_id_for(first)
    state = given(first, assigned(case, at(minutes=9), agent_id=ANA))

    sent = only(
        decide(state, replace(send_reply(case, at(minutes=12)), attachments=(AGENTS_FILE,)), POLICY)
    )

    assert isinstance(sent, MessageSent)
    assert (sent.channel, sent.attachments) == (channel, (AGENTS_FILE,))


def test_a_files_only_reply_on_a_web_chat_case_goes_out() -> None:
    first = received(1, channel="web_chat")
    case = case_id_for(first)
    state = given(first, assigned(case, at(minutes=9), agent_id=ANA))
    command = replace(send_reply(case, at(minutes=12), text=None), attachments=(AGENTS_FILE,))

    sent = only(decide(state, command, POLICY))

    assert isinstance(sent, MessageSent)
    assert (sent.channel, sent.text, sent.attachments) == ("web_chat", None, (AGENTS_FILE,))
