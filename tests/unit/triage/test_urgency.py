"""Urgent signals, in any message at any time, skip the remaining questions at once."""

from __future__ import annotations

import pytest

from schemas.events import CaseTriaged, MessageSent
from tests.unit.triage.conversation import FLOW, Citizen, given, outputs_of, when

SIGNALS = [
    (
        "meu marido me ameaçou de morte",
        "violence_or_threat",
        "violencia_domestica",
        "urgencia.ameaca",
    ),
    ("meu filho foi preso em flagrante agora", "just_arrested", "criminal", "urgencia.preso_agora"),
    (
        "minha mãe está sem o remédio e corre risco de vida",
        "health_risk",
        "saude",
        "urgencia.risco_saude",
    ),
    ("vou ser despejada amanhã", "imminent_eviction", "moradia", "urgencia.despejo_iminente"),
    ("ele me bateu ontem", "violence_or_threat", "violencia_domestica", "urgencia.violencia"),
    ("AUDIENCIA DE CUSTODIA do meu irmão", "just_arrested", "criminal", "urgencia.preso_agora"),
    ("tem ordem de despejo pra sexta", "imminent_eviction", "moradia", "urgencia.despejo_iminente"),
]
QUESTIONS = [q.id for q in FLOW.questions]


@pytest.mark.parametrize("question_id", QUESTIONS)
@pytest.mark.parametrize(("text", "flag", "area", "rule_id"), SIGNALS)
def test_an_urgent_signal_at_any_question_triages_urgent_at_once(
    question_id: str, text: str, flag: str, area: str, rule_id: str
) -> None:
    citizen = Citizen()
    state = given(citizen.at_question(question_id))
    urgent = citizen.says(text)

    out = when(state, urgent)

    triaged, reply = out
    assert isinstance(triaged, CaseTriaged)
    assert triaged.priority == "urgent"
    assert triaged.urgency_flags == (flag,)
    assert triaged.area == area
    assert rule_id in triaged.rules_fired
    assert "prioridade.urgente" in triaged.rules_fired
    assert triaged.causation_id == urgent.event_id
    assert isinstance(reply, MessageSent)
    assert reply.text == dict(FLOW.messages.urgent_by_flag)[flag]  # type: ignore[index]
    assert given([*citizen.at_question(question_id), urgent]).status == "done"


@pytest.mark.parametrize(("text", "flag", "area", "rule_id"), SIGNALS)
def test_an_urgent_opening_message_skips_every_question(
    text: str, flag: str, area: str, rule_id: str
) -> None:
    citizen = Citizen()
    state = given([citizen.says(text)])

    triaged, reply = when(state, citizen.case_opened())

    assert isinstance(triaged, CaseTriaged)
    assert (triaged.priority, triaged.urgency_flags, triaged.area) == ("urgent", (flag,), area)
    assert triaged.answers == ()
    assert triaged.region == "unknown"
    assert triaged.eligible is None
    assert isinstance(reply, MessageSent)
    assert reply.text != FLOW.messages.greeting


def test_an_urgent_first_message_after_case_opened_triages_without_greeting() -> None:
    citizen = Citizen()
    opened = citizen.case_opened()

    out = outputs_of([opened, citizen.says("socorro, meu marido me bateu")])

    assert isinstance(out[0], CaseTriaged)
    assert out[0].priority == "urgent"
    assert len(out) == 2


def test_the_urgent_problem_text_is_kept_as_the_answer() -> None:
    citizen = Citizen()
    state = given(citizen.started())

    triaged, _ = when(state, citizen.says("meu marido me ameaçou de morte"))

    assert isinstance(triaged, CaseTriaged)
    assert [a.question_id for a in triaged.answers] == ["problema"]


def test_urgent_signal_area_wins_over_the_problem_described_earlier() -> None:
    citizen = Citizen()
    events = [*citizen.at_question("renda"), citizen.says("e vou ser despejada amanhã")]

    (triaged,) = [o for o in outputs_of(events) if isinstance(o, CaseTriaged)]

    assert triaged.area == "moradia"
    assert "area.familia" in triaged.rules_fired  # the problem still explains itself
    assert triaged.region == "sao_paulo_capital"  # answers so far are kept


@pytest.mark.parametrize(
    ("problem", "flag", "area"),
    [
        ("meu ex não paga a pensão", "violence_or_threat", "familia"),
        ("meu filho foi levado pela polícia, está preso", "just_arrested", "criminal"),
        ("preciso de uma cirurgia", "health_risk", "saude"),
        ("estou com o aluguel atrasado", "imminent_eviction", "moradia"),
    ],
)
def test_danger_now_answered_yes_is_urgent_with_the_flag_of_the_area(
    problem: str, flag: str, area: str
) -> None:
    citizen = Citizen()
    events = [*citizen.started(), citizen.says(problem), citizen.says("1")]
    state = given(events)

    triaged, _ = when(state, citizen.says("sim"))

    assert isinstance(triaged, CaseTriaged)
    assert triaged.urgency_flags == (flag,)
    assert triaged.area == area
    assert triaged.priority == "urgent"
    assert triaged.rules_fired[-1] == "prioridade.urgente"
    assert "urgencia.perigo_agora" in triaged.rules_fired


def test_a_button_yes_to_danger_is_urgent_too() -> None:
    citizen = Citizen()
    state = given(citizen.at_question("perigo"))

    triaged, _ = when(state, citizen.taps("perigo.sim", "Sim"))

    assert isinstance(triaged, CaseTriaged)
    assert triaged.priority == "urgent"


def test_the_bots_own_question_quoted_in_an_email_reply_is_not_a_signal() -> None:
    citizen = Citizen(channel="email", address="maria@example.org")
    quoted = (
        "Não\n\nEm seg., 2 de mar. de 2026 às 12:00, Defensoria <bot@dpesp.example>\n"
        "escreveu:\n> Neste momento, você corre perigo (agressão, ameaça, risco de vida)?\n"
    )
    state = given(citizen.at_question("perigo"))

    out = when(state, citizen.says(quoted))

    assert not any(isinstance(o, CaseTriaged) for o in out)
    assert given([*citizen.at_question("perigo"), citizen.says(quoted)]).answers[-1].choice_id == (
        "nao"
    )


def test_a_photo_caption_can_carry_an_urgent_signal() -> None:
    citizen = Citizen()
    state = given(citizen.at_question("regiao"))

    out = when(state, citizen.sends_photo(caption="olha o que ele fez, me espancou"))

    assert isinstance(out[0], CaseTriaged)
    assert out[0].urgency_flags == ("violence_or_threat",)
