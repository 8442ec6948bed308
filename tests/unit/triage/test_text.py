"""Accents, case and spacing never decide a match; quoted history is not the citizen's words."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.triage.flow import load_flow
from streams.triage.model import AreaRule, UrgencyRule
from streams.triage.text import (
    any_of,
    compile_phrase,
    fold,
    letter_count,
    strip_accents,
    without_quoted_history,
    words,
)


def test_fold_strips_accents_lowercases_and_collapses_spaces() -> None:
    assert fold("  PENSÃO   Alimentícia\n\tJá ") == "pensao alimenticia ja"
    assert strip_accents("ação, coração, açúcar") == "acao, coracao, acucar"


def test_words_keeps_only_letters_and_digits() -> None:
    assert words("Maria-da-Penha!!! 😡 R$ 1.500,00") == "maria da penha r 1 500 00"


@pytest.mark.parametrize(
    ("phrase", "text", "found"),
    [
        ("pensão", "Preciso de PENSAO", True),
        ("pensão", "pensionista", False),  # whole words only
        ("ameaç*", "ele me ameaçou ontem", True),
        ("ameaç*", "ameaças constantes", True),
        ("despej* amanhã", "serei despejada amanha cedo", True),
        ("maria da penha", "lei maria  da   penha", True),
        ("me bateu", "bateu o carro", False),
        ("inss", "INSS negou", True),
    ],
)
def test_phrases_match_whole_words_with_optional_endings(
    phrase: str, text: str, found: bool
) -> None:
    pattern = compile_phrase(phrase)

    assert pattern is not None
    assert bool(pattern.search(words(text))) is found


def test_a_phrase_without_letters_or_digits_cannot_be_compiled() -> None:
    assert compile_phrase("?!*") is None


def test_letters_are_counted_without_emoji_or_punctuation() -> None:
    assert letter_count("🙂🙂 !!") == 0
    assert letter_count("é isso") == 5


def test_quoted_history_is_dropped() -> None:
    reply = (
        "Sim, moro em Osasco\n\n"
        "Em seg., 2 de mar. de 2026 às 12:00, Defensoria <bot@example.org>\n"
        "escreveu:\n> Você corre perigo? ameaça\n> 1. Sim\n"
    )

    assert without_quoted_history(reply).strip() == "Sim, moro em Osasco"
    assert without_quoted_history("ok\n> citado\nfim").split() == ["ok", "fim"]
    assert without_quoted_history("On Mon, X wrote:\n> quoted").strip() == ""


_FLOW = load_flow()
_RULES: list[AreaRule | UrgencyRule] = [*_FLOW.area_rules, *_FLOW.urgency_rules]
_VOCABULARY = sorted(
    {
        w.rstrip("*") + tail
        for r in _RULES
        for p in r.phrases
        for w in p.text.split()
        for tail in ("", "ou", "s")
    }
    | {"e", "meu", "não", "1", "2", "ajuda", "hoje"}
)


@given(st.lists(st.sampled_from(_VOCABULARY), max_size=12).map(" ".join))
def test_a_rule_fires_exactly_when_one_of_its_phrases_is_found(said: str) -> None:
    # Each rule searches all its phrases in one pattern; it must find what the phrases
    # would find one by one, no more and no less.
    text = words(said)
    for rule in _RULES:
        one_by_one = any(p.pattern.search(text) for p in rule.phrases)
        assert bool(rule.matcher.search(text)) == one_by_one, (rule.id, text)


def test_only_compiled_phrases_can_be_combined() -> None:
    with pytest.raises(ValueError, match="not a compiled phrase"):
        any_of([re.compile("pensao")])
