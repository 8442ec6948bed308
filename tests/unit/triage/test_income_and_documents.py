"""Eligibility from the family income, and the documents the citizen has or sends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schemas.events import CaseTriaged, DocumentType
from tests.unit.triage.conversation import FLOW, Citizen, bot_text, given, when


def _triaged_after(citizen: Citizen, question_id: str, *answers: str) -> CaseTriaged:
    events = [*citizen.at_question(question_id)]
    events += [citizen.says(a) for a in answers[:-1]]
    state = given(events)
    out = when(state, citizen.says(answers[-1]))
    triaged = out[0]
    assert isinstance(triaged, CaseTriaged)
    return triaged


@pytest.mark.parametrize(
    ("income", "eligible", "choice_id"),
    [
        ("1", True, "ate_1_sm"),
        ("3", True, "de_2_a_3_sm"),
        ("4", False, "acima_3_sm"),
        ("5", None, "nao_sei"),
        ("não tenho renda", True, "ate_1_sm"),
        ("desempregada", True, "ate_1_sm"),
        ("R$ 2.500,00", True, "de_1_a_2_sm"),
        ("uns 1500 reais", True, "ate_1_sm"),
        ("4863", True, "de_2_a_3_sm"),  # exactly 3 minimum wages: on the line, eligible
        ("4.864,00", False, "acima_3_sm"),
        ("2 mil", True, "de_1_a_2_sm"),
        ("1,5 mil", True, "ate_1_sm"),
        ("10 mil por mês", False, "acima_3_sm"),
        ("dois salários mínimos", True, "de_1_a_2_sm"),
        ("3 salarios", True, "de_2_a_3_sm"),
        ("não sei dizer", None, "nao_sei"),
    ],
)
def test_eligibility_by_family_income(income: str, eligible: bool | None, choice_id: str) -> None:
    triaged = _triaged_after(Citizen(), "renda", income, "7")

    assert triaged.eligible is eligible
    renda = next(a for a in triaged.answers if a.question_id == "renda")
    assert renda.choice_id == choice_id
    line = FLOW.eligibility
    if eligible is True:
        assert line.eligible_rule_id in triaged.rules_fired
    if eligible is False:
        assert line.ineligible_rule_id in triaged.rules_fired


@pytest.mark.parametrize("income", ["ganho 1500 e meu marido 2000", "7", "muito pouco"])
def test_an_ambiguous_income_is_asked_again(income: str) -> None:
    citizen = Citizen()
    state = given(citizen.at_question("renda"))

    reask = bot_text(when(state, citizen.says(income)))

    assert reask.startswith(FLOW.questions[3].reask)


def test_unknown_income_after_max_attempts_is_eligibility_unknown() -> None:
    attempts = FLOW.questions[3].max_attempts
    triaged = _triaged_after(Citizen(), "renda", *(["???"] * attempts), "7")

    assert triaged.eligible is None
    assert not any(r.startswith("elegibilidade.") for r in triaged.rules_fired)


@pytest.mark.parametrize(
    ("answer", "documents"),
    [
        ("1, 3 e 5", ("rg", "proof_of_address", "birth_certificate")),
        ("1,2", ("rg", "cpf")),
        ("2 4 6", ("cpf", "proof_of_income", "court_papers")),
        ("rg e cpf", ("rg", "cpf")),
        ("RG, CPF e a certidão das crianças", ("rg", "cpf", "birth_certificate")),
        ("tenho holerite e conta de luz", ("proof_of_address", "proof_of_income")),
        ("nenhum", ()),
        ("7", ()),
        ("não tenho rg nem cpf", ()),
        ("tenho o cpf mas não tenho comprovante de residência", ("cpf",)),
    ],
)
def test_documents_multi_choice(answer: str, documents: tuple[DocumentType, ...]) -> None:
    triaged = _triaged_after(Citizen(), "documentos", answer)

    assert triaged.documents_present == documents
    assert triaged.answers[-1].question_id == "documentos"


def test_multi_choice_records_every_option_id() -> None:
    triaged = _triaged_after(Citizen(), "documentos", "1, 3 e 5")

    assert triaged.answers[-1].choice_id == "rg,comprovante_residencia,certidao_nascimento"
    assert triaged.answers[-1].answer == "RG, Comprovante de residência, Certidão de nascimento"


def test_a_photo_answers_the_documents_question() -> None:
    citizen = Citizen()
    state = given(citizen.at_question("documentos"))

    out = when(state, citizen.sends_photo(file_name="RG_frente.jpg"))

    triaged = out[0]
    assert isinstance(triaged, CaseTriaged)
    assert triaged.documents_present == ("rg",)
    assert triaged.answers[-1].choice_id is None


def test_a_photo_that_says_nothing_is_another_document() -> None:
    citizen = Citizen()
    state = given(citizen.at_question("documentos"))

    triaged = when(state, citizen.sends_photo(file_name="IMG_2031.jpg"))[0]

    assert isinstance(triaged, CaseTriaged)
    assert triaged.documents_present == ("other",)


def test_a_photo_sent_at_another_question_is_asked_again_but_counts_as_a_document() -> None:
    citizen = Citizen()
    before = citizen.at_question("regiao")
    photo = citizen.sends_photo(caption="meu cpf")

    reask = bot_text(when(given(before), photo))

    assert reask.startswith(FLOW.questions[1].reask)
    rest = [citizen.says(a) for a in ("1", "2", "1")]
    triaged = when(given([*before, photo, *rest]), citizen.says("1"))[0]
    assert isinstance(triaged, CaseTriaged)
    assert triaged.documents_present == ("rg", "cpf")


def test_a_sticker_is_not_a_document() -> None:
    citizen = Citizen()
    state = given(citizen.at_question("documentos"))
    sticker = replace(citizen.sends_photo(), kind="sticker")

    reask = bot_text(when(state, sticker))

    assert reask.startswith(FLOW.questions[4].reask)
