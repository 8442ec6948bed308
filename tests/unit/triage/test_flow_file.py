"""The flow file loads into checked data, and a bad file says where it is bad."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streams.shared.errors import BadInput
from streams.triage.flow import DEFAULT_FLOW_PATH, FlowError, brl, load_flow, parse_flow

Doc = dict[str, Any]


def _default() -> Doc:
    data: Doc = json.loads(DEFAULT_FLOW_PATH.read_text(encoding="utf-8"))
    return data


def test_the_default_flow_is_portuguese_versioned_and_complete() -> None:
    flow = load_flow()

    assert flow.version == "2026-11-28.1"
    assert flow.language == "pt-BR"
    assert [q.purpose for q in flow.questions] == [
        "problem",
        "region",
        "danger",
        "income",
        "documents",
    ]
    assert {r.flag for r in flow.urgency_rules} == {
        "violence_or_threat",
        "just_arrested",
        "health_risk",
        "imminent_eviction",
    }
    assert flow.eligibility.minimum_wage_brl == Decimal("1621.00")
    assert flow.eligibility.line_minimum_wages == 3
    areas = {r.area for r in flow.area_rules}
    assert areas == {
        "familia",
        "violencia_domestica",
        "criminal",
        "execucao_penal",
        "infancia_juventude",
        "saude",
        "moradia",
        "consumidor",
        "idoso",
        "previdencia",
    }


def test_placeholders_are_filled_from_the_eligibility_line() -> None:
    flow = load_flow()

    income = flow.question_for("income")
    assert income is not None
    assert "R$ 1.621,00" in income.prompt
    assert "R$ 4.863,00" in income.choices[3].label
    assert brl(Decimal("1234567.5")) == "R$ 1.234.567,50"


def _set(path: list[str | int], value: object) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(path: list[str | int]) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


@pytest.mark.parametrize(
    ("change", "bad_path"),
    [
        (_drop(["version"]), "$.version"),
        (_set(["version"], ""), "$.version"),
        (_set(["questions"], []), "$.questions"),
        (_set(["questions", 1, "choices", 0, "id"], "Capital!"), "$.questions[1].choices[0].id"),
        (_set(["questions", 1, "choices", 1, "id"], "capital"), "$.questions[1].choices[1].id"),
        (_set(["questions", 2, "id"], "problema"), "$.questions[2].id"),
        (_set(["questions", 0, "kind"], "single"), "$.questions[0].kind"),
        (_set(["questions", 0, "max_attempts"], 0), "$.questions[0].max_attempts"),
        (_set(["questions", 0, "max_attempts"], True), "$.questions[0].max_attempts"),
        (_set(["questions", 1, "choices", 2, "region"], "lua"), "$.questions[1].choices[2].region"),
        (_drop(["questions", 1, "choices", 2, "region"]), "$.questions[1].choices[2].region"),
        (
            _set(["questions", 4, "choices", 0, "document_type"], "passaporte"),
            "$.questions[4].choices[0].document_type",
        ),
        (
            _set(["questions", 4, "choices", 0, "synonyms", 1], "!!!"),
            "$.questions[4].choices[0].synonyms[1]",
        ),
        (
            _set(["questions", 3, "choices", 1, "income_minimum_wages", "up_to"], 1),
            "$.questions[3].choices[1].income_minimum_wages.up_to",
        ),
        (
            _set(["questions", 3, "choices", 1, "region"], "interior"),
            "$.questions[3].choices[1].region",
        ),
        (
            _set(["questions", 2, "choices", 0, "urgent", "flag"], "fire"),
            "$.questions[2].choices[0].urgent.flag",
        ),
        (_set(["areas", "rules", 3, "area"], "astrologia"), "$.areas.rules[3].area"),
        (_set(["areas", "rules", 3, "phrases"], []), "$.areas.rules[3].phrases"),
        (_set(["areas", "rules", 2, "id"], "area.familia"), "$.areas.rules[5].id"),
        (_set(["urgency", "rules", 0, "flag"], "urgent"), "$.urgency.rules[0].flag"),
        (_set(["urgency", "rules", 0, "phraes"], ["x"]), "$.urgency.rules[0].phraes"),
        (_set(["priority", "rules", 1, "areas", 0], "vip"), "$.priority.rules[1].areas[0]"),
        (_set(["priority", "default"], "asap"), "$.priority.default"),
        (_set(["eligibility", "minimum_wage_brl"], 0), "$.eligibility.minimum_wage_brl"),
        (_set(["eligibility", "minimum_wage_brl"], "1621"), "$.eligibility.minimum_wage_brl"),
        (
            _set(["messages", "urgent_by_flag", "tsunami"], "..."),
            "$.messages.urgent_by_flag.tsunami",
        ),
        (_set(["messages", "greeting"], None), "$.messages.greeting"),
    ],
)
def test_an_invalid_flow_names_the_bad_path(change: Callable[[Doc], None], bad_path: str) -> None:
    doc = copy.deepcopy(_default())
    change(doc)

    with pytest.raises(FlowError) as raised:
        parse_flow(json.dumps(doc), source="flows/test.json")

    assert raised.value.path == bad_path
    assert str(raised.value).startswith(f"flows/test.json: {bad_path}: ")
    assert isinstance(raised.value, BadInput)


def test_comment_keys_are_allowed_anywhere() -> None:
    doc = _default()
    doc["_author"] = "equipe de triagem"
    doc["questions"][0]["_nota"] = "revisar"

    assert parse_flow(json.dumps(doc)).version == doc["version"]


def test_a_duplicate_key_is_refused() -> None:
    raw = DEFAULT_FLOW_PATH.read_text(encoding="utf-8").replace(
        '"version": "2026-11-28.1",', '"version": "2026-11-28.1", "version": "x",'
    )

    with pytest.raises(FlowError, match="'version' appears twice"):
        parse_flow(raw)


def test_invalid_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text('{"version": "1",\n  oops}', encoding="utf-8")

    with pytest.raises(FlowError, match=r"flow\.json: \$: not valid JSON at line 2 column 3"):
        load_flow(path)


def test_a_missing_file_is_a_flow_error(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="cannot read the file"):
        load_flow(tmp_path / "absent.json")
