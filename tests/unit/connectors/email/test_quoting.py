"""Given reply texts from the clients citizens use, when split, then only the new text stays."""

from __future__ import annotations

import pytest

from connectors.email.mime import parse_mail
from connectors.email.quoting import new_text, split_reply
from tests.unit.connectors.email.helpers import mail_bytes, parsed


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "gmail_reply_pt.eml",
            "Bom dia! Consegui a certidão de nascimento das crianças.\n"
            "O pai deles não paga a pensão há três meses.",
        ),
        (
            "outlook_reply_pt.eml",
            "Olá, vou comparecer à audiência. Posso levar meu irmão como “testemunha”?\n\n"
            "Obrigado,\nJosé",
        ),
        (
            "thunderbird_reply_en.eml",
            "Hello, the landlord gave me until Friday to leave the flat. I have the contract "
            "and the receipts of the last six months.",
        ),
        ("outlook_original_en.eml", "I sent the documents yesterday, did you receive them?"),
    ],
)
def test_real_replies_lose_their_history(fixture: str, expected: str) -> None:
    text = parsed(parse_mail(mail_bytes(fixture))).text
    assert text is not None
    split = split_reply(text)
    assert (split.new_text, split.has_history) == (expected, True)


def test_text_without_history_is_unchanged() -> None:
    text = "Preciso de ajuda.\nMeu CPF é 123.\n\nObrigada"
    assert (split_reply(text).new_text, split_reply(text).has_history) == (text, False)


def test_gmail_attribution_wrapped_over_two_lines_in_english() -> None:
    text = (
        "Yes, tomorrow works.\n\nOn Mon, Mar 2, 2026 at 9:00 AM Public Defender <\n"
        "atendimento@defensoria.sp.def.br> wrote:\n\n> Can you come tomorrow?\n"
    )
    assert new_text(text) == "Yes, tomorrow works."


def test_interleaved_answers_keep_the_answers_and_drop_the_quotes() -> None:
    text = (
        "Em 02/03/2026 09:00, Defensoria escreveu:\n> Qual o seu bairro?\n"
        "Moro em Itaquera.\n> Tem filhos?\nSim, dois."
    )
    assert new_text(text) == "Moro em Itaquera.\nSim, dois."


def test_unquoted_history_after_attribution_is_cut() -> None:
    text = "Ok, obrigado.\n\nEm ter., 3 de mar. de 2026 às 10:00, Defensoria escreveu:\nBom dia."
    assert new_text(text) == "Ok, obrigado."


@pytest.mark.parametrize(
    "separator",
    [
        "-----Mensagem original-----\nDe: Defensoria\nEnviada em: 2 de março\nPara: Ana",
        "----- Original Message -----\nFrom: Defensoria",
        "De: Defensoria Pública <a@b.br>\nEnviado: segunda-feira\nPara: Ana\nAssunto: x",
        "From: Defensoria <a@b.br>\nSent: Monday, March 2, 2026\nTo: Ana",
        "-- \nAna Lima\nTel 11 9999",
    ],
)
def test_outlook_separators_header_blocks_and_signatures_cut_the_rest(separator: str) -> None:
    assert new_text(f"Segue o documento.\n\n{separator}\n\nhistórico") == "Segue o documento."


def test_a_from_line_without_a_sent_line_is_text() -> None:
    text = "De: quem é a carta? Não sei.\nEla chegou ontem."
    assert new_text(text) == text


def test_a_forwarded_message_is_kept_with_its_headers() -> None:
    text = parsed(parse_mail(mail_bytes("forwarded.eml"))).text
    assert text is not None
    assert split_reply(text).new_text == text
    assert not split_reply(text).has_history
