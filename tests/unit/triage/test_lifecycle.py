"""Once triage is done, or someone else took over, the bot stays silent."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.events import CaseClosed, CaseTriaged
from streams.triage.domain import TriageState, evolve
from streams.triage.flow import DEFAULT_FLOW_PATH, parse_flow
from tests.unit.triage.conversation import CASE_ID, FLOW, Citizen, given, outputs_of, when


def _agent_triaged() -> CaseTriaged:
    return CaseTriaged(
        event_id="agent-triage-1",
        occurred_at=datetime(2026, 3, 2, 13, tzinfo=UTC),
        correlation_id="corr-1",
        subject_id="citizen-1",
        case_id=CASE_ID,
        area="familia",
        priority="high",
        rules_version="manual",
        triaged_by_agent_id="agent-7",
    )


def test_after_triage_later_messages_get_nothing_from_the_bot() -> None:
    citizen = Citizen()
    state = given(citizen.all_answered())

    assert state.status == "done"
    assert when(state, citizen.says("obrigada! quando vão me ligar?")) == []
    assert when(state, citizen.says("ele me ameaçou de novo")) == []
    assert when(state, citizen.case_opened()) == []


def test_the_done_state_keeps_no_personal_data() -> None:
    state = given(Citizen().all_answered())

    assert state.answers == ()
    assert state.narrative == ()
    assert state.reply_to is None
    assert state.seen_message_ids == frozenset()


def test_an_agent_triaging_by_hand_stops_the_bot() -> None:
    citizen = Citizen()
    events = [*citizen.at_question("renda"), _agent_triaged()]

    assert when(given(events[:-1]), events[-1]) == []
    assert given(events).status == "done"
    assert when(given(events), citizen.says("2")) == []


def test_a_closed_case_stops_the_bot() -> None:
    citizen = Citizen()
    closed = CaseClosed(
        event_id="closed-1",
        occurred_at=datetime(2026, 3, 2, 13, tzinfo=UTC),
        correlation_id="corr-1",
        case_id=CASE_ID,
        reason="withdrawn",
    )
    state = evolve(given(citizen.started()), closed, FLOW)

    assert state.status == "done"


def test_the_bots_own_case_triaged_fed_back_changes_nothing() -> None:
    citizen = Citizen()
    events = citizen.all_answered()
    (triaged,) = [o for o in outputs_of(events) if isinstance(o, CaseTriaged)]
    state = given(events)

    assert evolve(state, triaged, FLOW) == state


def test_a_new_flow_version_mid_conversation_continues_with_its_questions() -> None:
    citizen = Citizen()
    events = citizen.at_question("regiao")
    state = given(events)
    raw = (
        DEFAULT_FLOW_PATH.read_text(encoding="utf-8")
        .replace('"id": "regiao"', '"id": "cidade"')
        .replace("2026-11-28.1", "2026-12-01.1")
    )
    newer = parse_flow(raw)

    out = when(state, citizen.says("2"), newer)

    assert out  # "2" answers the renamed region question
    assert evolve(state, citizen.says("2"), newer).answers[-1].question_id == "cidade"


def test_a_state_for_another_case_ignores_this_cases_events() -> None:
    citizen = Citizen()
    other = TriageState(case_id="case-9")

    assert evolve(other, citizen.case_opened(), FLOW) == other
