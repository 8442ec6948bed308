"""The bot understands free text, numbered and button answers, and asks again when it cannot."""

from __future__ import annotations

import pytest

from schemas.events import CaseTriaged, Event, MessageSent, TriageAnswer
from schemas.personal import ERASED, Erased
from tests.unit.triage.conversation import FLOW, Citizen, bot_text, given, outputs_of, when


def test_a_free_text_problem_is_recorded_and_the_next_question_asked() -> None:
    citizen = Citizen()
    state = given(citizen.started())

    out = when(state, citizen.says("Meu ex não paga a pensão"))

    assert FLOW.questions[1].prompt in bot_text(out)
    after = given([*citizen.started(), citizen.says("Meu ex não paga a pensão")])
    assert after.answers == (
        TriageAnswer(question_id="problema", answer="Meu ex não paga a pensão"),
    )
    assert after.area_guess == "familia"


@pytest.mark.parametrize(
    ("answer", "choice_id"),
    [
        ("1", "capital"),
        ("2", "grande_sp"),
        ("opção 3", "interior"),
        ("Moro em Guarulhos", "grande_sp"),
        ("SAO BERNARDO DO CAMPO", "grande_sp"),
        ("itaquera, zona leste", "capital"),
        ("santana de parnaíba", "grande_sp"),
        ("interior de SP, Ribeirão Preto", "interior"),
        ("não sei", "nao_sei"),
    ],
)
def test_numbered_and_free_text_choices(answer: str, choice_id: str) -> None:
    citizen = Citizen()
    events = [*citizen.at_question("regiao"), citizen.says(answer)]

    state = given(events)

    assert state.answers[-1].question_id == "regiao"
    assert state.answers[-1].choice_id == choice_id


def test_a_button_reply_is_understood_by_its_id() -> None:
    citizen = Citizen()
    events = [*citizen.at_question("perigo"), citizen.taps("perigo.nao", "Não")]

    state = given(events)

    assert state.answers[-1] == TriageAnswer(question_id="perigo", answer="Não", choice_id="nao")
    assert state.question_id == "renda"


def test_a_bare_choice_id_as_reply_id_is_understood_too() -> None:
    citizen = Citizen()
    events = [*citizen.at_question("perigo"), citizen.taps("nao", "Não")]

    assert given(events).answers[-1].choice_id == "nao"


@pytest.mark.parametrize("answer", ["nao", "NÃO", "não, estou bem", "Nao!", "n"])
def test_synonyms_match_without_accents_or_case(answer: str) -> None:
    citizen = Citizen()
    state = given([*citizen.at_question("perigo"), citizen.says(answer)])

    assert state.answers[-1].choice_id == "nao"
    assert state.urgency_flags == ()


def test_a_numbered_answer_records_the_label_chosen() -> None:
    citizen = Citizen()
    state = given([*citizen.at_question("regiao"), citizen.says("1")])

    assert state.answers[-1].answer == "Cidade de São Paulo (capital)"


def test_an_unusable_answer_is_asked_again() -> None:
    citizen = Citizen()
    state = given(citizen.at_question("regiao"))

    text = bot_text(when(state, citizen.says("🙂🙂")))

    region = FLOW.questions[1]
    assert text.startswith(region.reask)
    assert region.prompt in text
    assert given([*citizen.at_question("regiao"), citizen.says("🙂🙂")]).attempts == 1


@pytest.mark.parametrize("text", [None, ERASED, "", "   ", "?!", "ok"])
def test_no_text_or_an_erased_text_is_unusable(text: str | Erased | None) -> None:
    citizen = Citizen()
    state = given(citizen.started())

    out = when(state, citizen.says(text))

    assert bot_text(out).startswith(FLOW.questions[0].reask)


def test_after_max_attempts_the_fallback_is_recorded_and_the_bot_moves_on() -> None:
    citizen = Citizen()
    region = FLOW.questions[1]
    tries = [citizen.says(f"xyz {i}") for i in range(region.max_attempts)]
    state = given([*citizen.at_question("regiao"), *tries[:-1]])

    text = bot_text(when(state, tries[-1]))

    assert text.startswith(FLOW.messages.fallback_notice)
    assert FLOW.questions[2].prompt in text
    after = given([*citizen.at_question("regiao"), *tries])
    assert after.answers[-1] == TriageAnswer(
        question_id="regiao", answer=f"xyz {region.max_attempts - 1}", choice_id="nao_sei"
    )
    assert after.question_id == "perigo"
    assert after.attempts == 0


def test_a_fallback_region_triages_as_unknown() -> None:
    citizen = Citizen()
    region = FLOW.questions[1]
    events = [*citizen.at_question("regiao")]
    events += [citizen.says("Marte") for _ in range(region.max_attempts)]
    events += [citizen.says(a) for a in ("2", "2", "1")]

    triaged = [o for o in outputs_of(events) if isinstance(o, CaseTriaged)]

    assert len(triaged) == 1
    assert triaged[0].region == "unknown"


def test_a_fully_answered_triage_closes_with_case_triaged_and_a_closing_message() -> None:
    citizen = Citizen()
    state = given(citizen.at_question("documentos"))
    last = citizen.says("1 e 2")

    triaged, closing = when(state, last)

    assert isinstance(triaged, CaseTriaged)
    assert isinstance(closing, MessageSent)
    assert closing.text == FLOW.messages.closing
    assert triaged.area == "familia"
    assert triaged.priority == "normal"
    assert triaged.urgency_flags == ()
    assert triaged.region == "sao_paulo_capital"
    assert triaged.eligible is True
    assert triaged.documents_present == ("rg", "cpf")
    assert [a.question_id for a in triaged.answers] == [q.id for q in FLOW.questions]
    assert triaged.rules_version == FLOW.version
    assert triaged.triaged_by_agent_id is None
    assert (triaged.subject_id, triaged.case_id) == ("citizen-1", "case-1")
    assert triaged.causation_id == last.event_id
    assert closing.event_id != triaged.event_id
    assert given([*citizen.at_question("documentos"), last]).status == "done"


def test_rules_fired_name_every_rule_that_decided() -> None:
    citizen = Citizen()
    events = [
        *citizen.started(),
        citizen.says("meu ex não paga pensão e me cobram aluguel atrasado"),
        citizen.says("Guarulhos"),
        citizen.says("não"),
        citizen.says("R$ 6.000,00"),
        citizen.says("nenhum"),
    ]

    (triaged,) = [o for o in outputs_of(events) if isinstance(o, CaseTriaged)]

    assert triaged.rules_fired == (
        "regiao.grande_sp",
        "area.familia",
        "area.moradia",
        "elegibilidade.renda_acima_linha",
    )
    assert triaged.area == "familia"
    assert triaged.eligible is False
    assert triaged.documents_present == ()


def test_the_opening_message_counts_towards_the_area() -> None:
    citizen = Citizen()
    events: list[Event] = [
        citizen.says("Boa tarde, é sobre aposentadoria do INSS"),
        citizen.case_opened(),
        citizen.says("quero saber como funciona"),
        *(citizen.says(a) for a in ("1", "2", "1", "7")),
    ]

    (triaged,) = [o for o in outputs_of(events) if isinstance(o, CaseTriaged)]

    assert triaged.area == "previdencia"
    assert "area.previdencia" in triaged.rules_fired


def test_a_description_without_any_known_keyword_is_area_other() -> None:
    citizen = Citizen()
    events = [
        *citizen.started(),
        citizen.says("quero conversar com alguém"),
        *(citizen.says(a) for a in ("1", "2", "1", "7")),
    ]

    (triaged,) = [o for o in outputs_of(events) if isinstance(o, CaseTriaged)]

    assert triaged.area == "other"
    assert triaged.priority == "normal"


@pytest.mark.parametrize(
    ("problem", "area", "priority"),
    [
        ("minha mãe idosa foi abandonada", "idoso", "high"),
        ("preciso de um remédio que o SUS não dá", "saude", "high"),
        ("meu filho está cumprindo pena e quer progressão de regime", "execucao_penal", "normal"),
        ("o conselho tutelar levou meu sobrinho adolescente", "infancia_juventude", "normal"),
        ("cobrança indevida no meu cartão", "consumidor", "normal"),
        ("pensão por morte do meu marido", "previdencia", "normal"),
        ("quero a guarda da minha filha", "familia", "normal"),
        ("divorcio", "familia", "normal"),
    ],
)
def test_area_and_priority_from_the_problem(problem: str, area: str, priority: str) -> None:
    citizen = Citizen()
    events: list[Event] = [*citizen.started(), citizen.says(problem)]
    events += [citizen.says(a) for a in ("1", "2", "1", "7")]

    (triaged,) = [o for o in outputs_of(events) if isinstance(o, CaseTriaged)]

    assert (triaged.area, triaged.priority) == (area, priority)
