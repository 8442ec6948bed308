"""Given a contact's history, when a message or a tick arrives, then these events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.envelope import derive_event_id
from schemas.events import (
    CaseAssigned,
    CaseClosed,
    CaseOpened,
    CaseTriaged,
    ClockTicked,
    CloseCase,
    MessageSent,
    SendReply,
)
from streams.cases.policy import default_policy
from streams.conversation.core import ConversationState, handle, initial, wakes_at
from streams.conversation.processor import ConversationCore
from streams.triage.flow import load_flow
from tests.unit.triage.conversation import CITIZEN, GOOD_ANSWERS, T0, Citizen

POLICY = default_policy()
FLOW = load_flow()


def run(
    events: Iterable[Any], state: ConversationState | None = None
) -> tuple[ConversationState, list[Any]]:
    current = state or initial("contact-1")
    out: list[Any] = []
    for event in events:
        after, produced = handle(current, event, POLICY, FLOW)
        out.extend(produced)
        current = after if after is not None else initial(current.contact.contact_id)
    return current, out


def names(events: Iterable[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_first_message_opens_a_case_and_the_bot_answers() -> None:
    citizen = Citizen()

    _, out = run([citizen.says("Oi, preciso de ajuda com a pensão do meu filho")])

    assert names(out)[0] == "CaseOpened"
    bot = [e for e in out if isinstance(e, MessageSent)]
    assert bot
    assert all(m.sender_kind == "bot" for m in bot)
    assert all(m.case_id == out[0].case_id for m in bot)


def test_a_whole_triage_ends_with_one_triaged_case_in_the_right_area() -> None:
    citizen = Citizen()
    messages = [citizen.says("Oi")] + [citizen.says(answer) for answer in GOOD_ANSWERS.values()]

    state, out = run(messages)

    triaged = [e for e in out if isinstance(e, CaseTriaged)]
    assert len(triaged) == 1
    assert triaged[0].area == "familia"
    assert triaged[0].priority in ("normal", "high")
    assert [e for e in out if isinstance(e, CaseOpened)] == [out[0]]
    assert state.triage is None  # the dialogue, with its personal data, is dropped when done
    assert state.contact.case is not None
    assert state.contact.case.triaged_at is not None  # its status moves on when routing queues it
    assert triaged[0].contact_id == "contact-1"  # so it can be written to the contact's stream


def test_an_urgent_first_message_skips_every_question() -> None:
    citizen = Citizen()

    _, out = run([citizen.says("Socorro, meu marido me ameaçou de morte agora")])

    triaged = [e for e in out if isinstance(e, CaseTriaged)]
    assert len(triaged) == 1
    assert triaged[0].priority == "urgent"
    assert "violence_or_threat" in triaged[0].urgency_flags
    assert names(out)[0] == "CaseOpened"


def test_a_burst_of_first_messages_opens_one_case() -> None:
    citizen = Citizen()
    burst = [citizen.says(text) for text in ("oi", "bom dia", "preciso de ajuda", "?", "alô")]

    _, out = run(burst)

    assert names(out).count("CaseOpened") == 1


def test_a_redelivered_message_changes_nothing() -> None:
    citizen = Citizen()
    first = citizen.says("oi")
    state, _ = run([first])

    again, out = run([first], state)

    assert out == []
    assert again == state


def test_silence_in_triage_gets_a_reminder_then_an_auto_close() -> None:
    citizen = Citizen()
    state, _ = run([citizen.says("oi")])
    due = wakes_at(state, POLICY)
    assert due is not None

    later = T0 + timedelta(days=3)
    tick = ClockTicked(
        event_id=derive_event_id("tick", later.isoformat()),
        occurred_at=later,
        correlation_id="tick",
        source="timer-1",
        sequence=1,
        tick_at=later,
        interval_ms=1000,
    )
    state, out = run([tick], state)

    closes = [e for e in out if isinstance(e, CaseClosed)]
    assert len(closes) == 1
    assert closes[0].contact_id == "contact-1"
    assert closes[0].reason == "auto_closed_inactivity"
    assert any(isinstance(e, MessageSent) for e in out)  # the citizen is told, never silently
    # No inactivity step is left; the next visit is to forget the contact, once a reopening
    # is no longer possible.
    assert wakes_at(state, POLICY) == later + POLICY.reopen_window


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["oi", "1", "2", "sim", "não", "", "rg e cpf", "pensão", "😀"]),
        min_size=1,
        max_size=25,
    )
)
def test_any_conversation_has_at_most_one_open_case_and_replays_identically(
    texts: list[str],
) -> None:
    citizen = Citizen()
    messages = [citizen.says(t) for t in texts]

    state, out = run(messages)
    again_state, again_out = run(messages)

    assert names(out).count("CaseOpened") == 1
    assert names(out).count("CaseTriaged") <= 1
    assert out == again_out
    assert state == again_state
    assert len({e.event_id for e in out}) == len(out)


def test_its_own_events_read_back_from_the_stream_change_nothing() -> None:
    citizen = Citizen()
    state, out = run([citizen.says("oi"), citizen.says(GOOD_ANSWERS["problema"])])

    again, echoed = run(out, state)

    assert echoed == []
    assert again == state


# -- agents' commands: the lifecycle's alone -------------------------------------------------


def assigned_during_triage() -> tuple[ConversationState, str]:
    """The bot is still asking when an agent takes the case (by hand, say)."""
    citizen = Citizen()
    state, out = run([citizen.says("Oi, preciso de ajuda com a pensão do meu filho")])
    case_id = out[0].case_id
    taken = CaseAssigned(
        event_id="assigned-1",
        occurred_at=T0 + timedelta(minutes=5),
        correlation_id="corr-1",
        case_id=case_id,
        agent_id="agent-ana",
        queue_id="familia-capital",
        routing_decision_id="decision-1",
        contact_id="contact-1",
    )
    state, _ = run([taken], state)
    assert state.triage is not None
    assert state.triage.status == "asking"
    return state, case_id


def command_envelope(n: int) -> dict[str, Any]:
    return {
        "event_id": f"command-{n}",
        "occurred_at": T0 + timedelta(minutes=10 + n),
        "correlation_id": "corr-1",
        "contact_id": "contact-1",
    }


def test_the_processor_reads_the_agents_commands_on_the_conversation_topic() -> None:
    assert {"SendReply", "PutCaseOnHold", "ResumeCase", "CloseCase"} <= ConversationCore.reads


def test_an_agents_reply_is_sent_and_the_bot_says_nothing_about_it() -> None:
    state, case_id = assigned_during_triage()
    reply = SendReply(
        **command_envelope(1),
        subject_id=CITIZEN,
        case_id=case_id,
        agent_id="agent-ana",
        text="Olá, sou a Ana.",
    )

    after, out = run([reply], state)

    assert [(type(e).__name__, e.sender_kind, e.agent_id) for e in out] == [
        ("MessageSent", "agent", "agent-ana")
    ]
    assert after.triage == state.triage  # the dialogue neither moved nor answered


def test_a_refused_command_reaches_the_agent_and_leaves_the_dialogue_alone() -> None:
    state, case_id = assigned_during_triage()
    close = CloseCase(
        **command_envelope(2), case_id=case_id, agent_id="agent-bia", reason="resolved"
    )

    after, out = run([close], state)

    assert [(type(e).__name__, e.reason) for e in out] == [("CommandRefused", "not_your_case")]
    assert after.triage == state.triage


def test_an_accepted_close_ends_the_bots_dialogue() -> None:
    state, case_id = assigned_during_triage()
    close = CloseCase(
        **command_envelope(3), case_id=case_id, agent_id="agent-ana", reason="withdrawn"
    )

    after, out = run([close], state)

    assert names(out) == ["CaseClosed"]
    assert after.triage is None  # the bot stopped, and its personal data is gone


def test_a_contact_is_forgotten_once_its_case_is_closed_and_the_windows_are_over() -> None:
    # Every citizen ever served would otherwise stay in memory, address included.
    citizen = Citizen()
    state, out = run([citizen.says("Oi, preciso de ajuda com a pensão do meu filho")])
    case_id = out[0].case_id
    closed_at = T0 + timedelta(hours=1)
    state, _ = run([closed(case_id, closed_at)], state)
    forget = wakes_at(state, POLICY)
    assert forget is not None
    assert forget >= closed_at + POLICY.reopen_window

    before, _ = handle(state, tick(forget - timedelta(seconds=1)), POLICY, FLOW)
    after, outputs = handle(state, tick(forget), POLICY, FLOW)

    assert before is not None  # not yet: a reopening or a late copy may still come
    assert (after, outputs) == (None, [])


def test_an_open_case_keeps_its_contact_remembered() -> None:
    citizen = Citizen()
    state, _ = run([citizen.says("Oi, preciso de ajuda com a pensão do meu filho")])

    after, _ = handle(state, tick(T0 + timedelta(days=365)), POLICY, FLOW)

    assert after is not None


def tick(at: Any) -> ClockTicked:
    return ClockTicked(
        event_id=f"tick-{at.isoformat()}",
        occurred_at=at,
        correlation_id="timer",
        source="timer",
        sequence=int(at.timestamp()),
        tick_at=at,
        interval_ms=1000,
    )


def closed(case_id: str, at: Any) -> CaseClosed:
    return CaseClosed(
        event_id=f"closed-{case_id}",
        occurred_at=at,
        correlation_id=f"closed-{case_id}",
        case_id=case_id,
        reason="resolved",
        closed_by_agent_id="ana",
        contact_id="contact-1",
    )
