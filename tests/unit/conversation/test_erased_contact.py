"""Given a contact whose citizen was erased, when ticks and messages arrive, then the
conversation core decides exactly what it decides for the readable contact: the same events
with the same ids, their personal fields ERASED. A processor restored from the changelog
(values ERASED) and one still holding them in clear therefore agree, and so does a replay."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from schemas.events import MessageSent
from schemas.personal import ERASED, InMemoryKeyRing
from streams.conversation.core import ConversationState
from streams.conversation.processor import ConversationCore
from streams.shared import snapshots
from tests.unit.conversation.test_conversation import tick
from tests.unit.triage.conversation import CITIZEN, T0, Citizen

CORE = ConversationCore()


def dialogue_under_way() -> tuple[Citizen, ConversationState]:
    maria = Citizen(channel="email", address="maria.quiteria@example.org")
    state = CORE.initial("contact-1")
    for message in (
        maria.says("O Joaquim não paga a pensão", email_subject="Pensão do Pedro"),
        maria.says("meu ex marido não paga a pensão das crianças", email_subject="Re: Pensão"),
    ):
        after, _ = CORE.handle(state, message)
        assert after is not None
        state = after
    return maria, state


def restored_after_erasure(state: ConversationState) -> ConversationState:
    """The state as a processor restores it from its changelog once the citizen is erased."""
    ring = InMemoryKeyRing()
    ring.encryption_key(CITIZEN)
    data = snapshots.dump(state, ring, CORE.subject_of(state))
    ring.destroy(CITIZEN)
    return snapshots.load(CORE.state_type, data, ring)


def run(state: ConversationState, events: list[Any]) -> list[Any]:
    out: list[Any] = []
    current: ConversationState | None = state
    for event in events:
        assert current is not None
        current, produced = CORE.handle(current, event)
        out.extend(produced)
    return out


def test_a_restored_erased_contact_gets_the_same_reminder_and_close_with_the_same_ids() -> None:
    _, state = dialogue_under_way()
    erased = restored_after_erasure(state)
    ticks = [tick(T0 + timedelta(hours=3)), tick(T0 + timedelta(days=3))]

    outputs = run(erased, ticks)
    expected = run(state, ticks)

    assert erased.contact.contact_address is ERASED
    assert [(type(o).__name__, o.event_id) for o in outputs] == [
        (type(o).__name__, o.event_id) for o in expected
    ]
    assert [type(o).__name__ for o in outputs] == ["MessageSent", "MessageSent", "CaseClosed"]
    sent = [o for o in outputs if isinstance(o, MessageSent)]
    assert {m.contact_address for m in sent} == {ERASED}


def test_a_message_read_after_the_erasure_is_decided_alike_in_both() -> None:
    maria, state = dialogue_under_way()
    erased = restored_after_erasure(state)
    # Written before the erasure, read after it: its words open as ERASED.
    late = replace(maria.says("moro em São Paulo"), text=ERASED, contact_address=ERASED)

    outputs = run(erased, [late])
    expected = run(state, [late])

    assert [(type(o).__name__, o.event_id) for o in outputs] == [
        (type(o).__name__, o.event_id) for o in expected
    ]
    assert outputs  # the bot asks again, to an address no connector can deliver to
    assert {o.contact_address for o in outputs if isinstance(o, MessageSent)} == {ERASED}
