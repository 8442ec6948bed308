"""Given a contact in the middle of triage, when its citizen's erasure reaches the
conversation core, then the case is closed for citizen_erased, the bot says nothing more and
the dialogue (the citizen's words) is dropped at once; and the processor hands the erasure
to every contact of the partition, since no key names the contacts it concerns."""

from __future__ import annotations

from datetime import timedelta

from schemas.events import CaseClosed, ErasureRequested
from streams.conversation.processor import ConversationCore
from streams.shared.cores import partition_wide_of
from tests.unit.triage.conversation import CITIZEN, T0, Citizen

CORE = ConversationCore()


def erasure(citizen: str = CITIZEN) -> ErasureRequested:
    at = T0 + timedelta(hours=1)
    return ErasureRequested(
        event_id=f"erasure-{citizen}",
        occurred_at=at,
        correlation_id=f"erasure-{citizen}",
        citizen_id=citizen,
        legal_basis="data_subject_request",
        requested_at=at,
    )


def test_an_erasure_during_triage_closes_the_case_and_drops_the_dialogue() -> None:
    maria = Citizen()
    state = CORE.initial("contact-1")
    for text in ("Oi", "meu ex marido não paga a pensão das crianças"):
        after, _ = CORE.handle(state, maria.says(text))
        assert after is not None
        state = after
    assert state.triage is not None  # the bot is still asking

    after, outputs = CORE.handle(state, erasure())

    assert [(type(o).__name__, o.reason, o.closed_by_agent_id) for o in outputs] == [
        ("CaseClosed", "citizen_erased", None)
    ]
    assert isinstance(outputs[0], CaseClosed)
    assert outputs[0].causation_id == "erasure-citizen-1"
    assert after is not None
    assert after.triage is None  # nothing of the citizen's words is kept


def test_another_citizens_erasure_changes_nothing() -> None:
    state, _ = CORE.handle(CORE.initial("contact-1"), Citizen().says("Oi"))
    assert state is not None

    after, outputs = CORE.handle(state, erasure("citizen-2"))

    assert (after, outputs) == (state, [])


def test_the_processor_reads_the_erasure_and_hands_it_to_every_contact() -> None:
    assert "ErasureRequested" in CORE.reads
    assert partition_wide_of(CORE) == {"ErasureRequested"}
