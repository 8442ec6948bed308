"""Loading a triage flow: questions, choices and rules as versioned data, from a JSON file.

The flow file is the office's to change (wording, keywords, the minimum wage) without a code
change; its `version` goes into every CaseTriaged so that a replay can explain each result.
Loading checks everything up front and names the bad path (`$.questions[2].choices[0].id`):
a flow that loads is a flow the bot can run. Keys starting with `_` are comments; question
prompts, re-asks and option labels may use {salario_minimo}, {limite_renda} and
{limite_salarios}, filled from `eligibility`.

Pure apart from reading the file in `load_flow`; JSON from the standard library only
(PyYAML is a dev-only dependency).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

from streams.triage.checks import (
    FlowError,
    expect_bool,
    expect_id,
    expect_int,
    expect_list,
    expect_number,
    expect_object,
    expect_one_of,
    expect_phrases,
    expect_rule_id,
    expect_text,
    expect_unique,
    fail,
)
from streams.triage.model import (
    AREAS,
    DOCUMENT_TYPES,
    PRIORITIES,
    PURPOSES,
    QUESTION_KINDS,
    REGIONS,
    URGENCY_FLAGS,
    AreaRule,
    Choice,
    Eligibility,
    Flow,
    IncomeRange,
    Messages,
    Phrase,
    PriorityRule,
    Purpose,
    Question,
    QuestionKind,
    UrgencyRule,
    UrgentChoice,
    combine,
)
from streams.triage.text import compile_phrase

__all__ = ["DEFAULT_FLOW_PATH", "Flow", "FlowError", "brl", "load_flow", "parse_flow"]

DEFAULT_FLOW_PATH = Path(__file__).parent / "flows" / "pt-BR.json"
_KIND_OF_PURPOSE: Mapping[Purpose, QuestionKind] = {
    "problem": "text",
    "region": "single",
    "danger": "single",
    "income": "single",
    "documents": "multi",
}


def load_flow(path: Path | str = DEFAULT_FLOW_PATH) -> Flow:
    """Read and check a flow file; FlowError names the file and the bad path."""
    source = str(path)
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError("$", f"cannot read the file ({exc})", source=source) from exc
    return parse_flow(raw, source=source)


def parse_flow(raw: str, *, source: str = "flow") -> Flow:
    """Check a flow given as JSON text; FlowError names the bad path."""
    try:
        data = json.loads(raw, parse_float=Decimal, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise FlowError("$", f"not valid JSON at {where}: {exc.msg}", source=source) from exc
    except _DuplicateKeyError as exc:
        raise FlowError("$", f"key {exc.key!r} appears twice in one object", source=source) from exc
    try:
        return _flow(data)
    except FlowError as exc:
        raise FlowError(exc.path, exc.problem, source=source) from None


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _flow(data: object) -> Flow:
    top = expect_object(
        data,
        "$",
        (
            "version",
            "language",
            "messages",
            "eligibility",
            "questions",
            "areas",
            "urgency",
            "priority",
        ),
    )
    eligibility = _eligibility(top["eligibility"], "$.eligibility")
    placeholders = {
        "{salario_minimo}": brl(eligibility.minimum_wage_brl),
        "{limite_renda}": brl(eligibility.minimum_wage_brl * eligibility.line_minimum_wages),
        "{limite_salarios}": f"{eligibility.line_minimum_wages.normalize():f}",
    }
    questions_raw = expect_list(top["questions"], "$.questions", nonempty=True)
    questions = tuple(
        _question(q, f"$.questions[{i}]", placeholders) for i, q in enumerate(questions_raw)
    )
    expect_unique(((q.id, f"$.questions[{i}].id") for i, q in enumerate(questions)), "question id")
    expect_unique(
        (
            (q.purpose, f"$.questions[{i}].purpose")
            for i, q in enumerate(questions)
            if q.purpose != "other"
        ),
        "purpose",
    )
    areas = expect_object(top["areas"], "$.areas", ("default", "rules"))
    urgency = expect_object(top["urgency"], "$.urgency", ("rules",))
    priority = expect_object(top["priority"], "$.priority", ("default", "rules"))
    flow = Flow(
        version=expect_text(top, "version", "$"),
        language=expect_text(top, "language", "$"),
        messages=_messages(top["messages"], "$.messages"),
        questions=questions,
        default_area=expect_one_of(areas["default"], "$.areas.default", AREAS),
        area_rules=tuple(
            _area_rule(r, f"$.areas.rules[{i}]")
            for i, r in enumerate(expect_list(areas["rules"], "$.areas.rules"))
        ),
        urgency_rules=tuple(
            _urgency_rule(r, f"$.urgency.rules[{i}]")
            for i, r in enumerate(expect_list(urgency["rules"], "$.urgency.rules"))
        ),
        default_priority=expect_one_of(priority["default"], "$.priority.default", PRIORITIES),
        priority_rules=tuple(
            _priority_rule(r, f"$.priority.rules[{i}]")
            for i, r in enumerate(expect_list(priority["rules"], "$.priority.rules"))
        ),
        eligibility=eligibility,
    )
    expect_unique(_rule_ids(flow), "rule id")
    return flow


def _rule_ids(flow: Flow) -> Iterable[tuple[str, str]]:
    for i, q in enumerate(flow.questions):
        for j, c in enumerate(q.choices):
            if c.rule_id:
                yield c.rule_id, f"$.questions[{i}].choices[{j}].rule_id"
            if c.urgent:
                yield c.urgent.rule_id, f"$.questions[{i}].choices[{j}].urgent.rule_id"
    for i, area_rule in enumerate(flow.area_rules):
        yield area_rule.id, f"$.areas.rules[{i}].id"
    for i, urgency_rule in enumerate(flow.urgency_rules):
        yield urgency_rule.id, f"$.urgency.rules[{i}].id"
    for i, priority_rule in enumerate(flow.priority_rules):
        yield priority_rule.id, f"$.priority.rules[{i}].id"
    yield flow.eligibility.eligible_rule_id, "$.eligibility.eligible_rule_id"
    yield flow.eligibility.ineligible_rule_id, "$.eligibility.ineligible_rule_id"


def _messages(value: object, path: str) -> Messages:
    obj = expect_object(
        value,
        path,
        (
            "greeting",
            "closing",
            "fallback_notice",
            "urgent_default",
            "urgent_by_flag",
            "email_subject",
        ),
    )
    by_flag = expect_object(
        obj["urgent_by_flag"], f"{path}.urgent_by_flag", (), optional=URGENCY_FLAGS
    )
    return Messages(
        greeting=expect_text(obj, "greeting", path),
        closing=expect_text(obj, "closing", path),
        fallback_notice=expect_text(obj, "fallback_notice", path),
        urgent_default=expect_text(obj, "urgent_default", path),
        urgent_by_flag=tuple(
            (flag, expect_text(by_flag, flag, f"{path}.urgent_by_flag"))
            for flag in URGENCY_FLAGS
            if flag in by_flag
        ),
        email_subject=expect_text(obj, "email_subject", path),
    )


def _eligibility(value: object, path: str) -> Eligibility:
    obj = expect_object(
        value,
        path,
        ("minimum_wage_brl", "line_minimum_wages", "eligible_rule_id", "ineligible_rule_id"),
    )
    return Eligibility(
        minimum_wage_brl=expect_number(obj, "minimum_wage_brl", path, positive=True),
        line_minimum_wages=expect_number(obj, "line_minimum_wages", path, positive=True),
        eligible_rule_id=expect_rule_id(obj, "eligible_rule_id", path),
        ineligible_rule_id=expect_rule_id(obj, "ineligible_rule_id", path),
    )


def _question(value: object, path: str, placeholders: Mapping[str, str]) -> Question:
    obj = expect_object(
        value,
        path,
        ("id", "purpose", "kind", "prompt", "reask", "max_attempts", "fallback_choice_id"),
        optional=("choices", "min_letters"),
    )
    purpose = expect_one_of(obj["purpose"], f"{path}.purpose", PURPOSES)
    kind = expect_one_of(obj["kind"], f"{path}.kind", QUESTION_KINDS)
    expected = _KIND_OF_PURPOSE.get(purpose)
    if expected and kind != expected:
        fail(f"{path}.kind", f"a {purpose!r} question must be of kind {expected!r}")
    choices: tuple[Choice, ...] = ()
    if kind == "text":
        if "choices" in obj:
            fail(f"{path}.choices", "a text question has no choices")
    else:
        raw = expect_list(obj.get("choices"), f"{path}.choices", nonempty=True)
        choices = tuple(
            _choice(c, f"{path}.choices[{i}]", purpose, placeholders) for i, c in enumerate(raw)
        )
        if len(choices) < 2:
            fail(f"{path}.choices", "a choice question needs at least two choices")
        expect_unique(
            ((c.id, f"{path}.choices[{i}].id") for i, c in enumerate(choices)), "choice id"
        )
    return Question(
        id=expect_id(obj, "id", path),
        purpose=purpose,
        kind=kind,
        prompt=_fill(expect_text(obj, "prompt", path), placeholders),
        reask=_fill(expect_text(obj, "reask", path), placeholders),
        max_attempts=expect_int(obj, "max_attempts", path, minimum=1),
        fallback_choice_id=expect_id(obj, "fallback_choice_id", path),
        choices=choices,
        min_letters=expect_int(obj, "min_letters", path, minimum=1) if "min_letters" in obj else 3,
    )


def _choice(value: object, path: str, purpose: Purpose, placeholders: Mapping[str, str]) -> Choice:
    extra = {
        "region": ("region",),
        "income": ("income_minimum_wages",),
        "documents": ("document_type", "exclusive"),
    }.get(purpose, ())
    if purpose in ("danger", "other"):
        extra = ("urgent",)
    obj = expect_object(value, path, ("id", "label"), optional=("synonyms", "rule_id", *extra))
    label = _fill(expect_text(obj, "label", path), placeholders)
    synonyms = expect_phrases(obj, "synonyms", path) if "synonyms" in obj else ()
    label_pattern = compile_phrase(label)
    if label_pattern is not None:
        synonyms = (Phrase(label, label_pattern), *synonyms)
    if purpose == "region" and "region" not in obj:
        fail(f"{path}.region", "missing")
    return Choice(
        id=expect_id(obj, "id", path),
        label=label,
        synonyms=synonyms,
        rule_id=expect_rule_id(obj, "rule_id", path) if "rule_id" in obj else None,
        exclusive=expect_bool(obj, "exclusive", path),
        region=expect_one_of(obj["region"], f"{path}.region", REGIONS) if "region" in obj else None,
        income=_income(obj, path),
        document_type=(
            expect_one_of(obj["document_type"], f"{path}.document_type", DOCUMENT_TYPES)
            if "document_type" in obj
            else None
        ),
        urgent=_urgent_choice(obj["urgent"], f"{path}.urgent") if "urgent" in obj else None,
    )


def _income(obj: Mapping[str, object], path: str) -> IncomeRange | None:
    if "income_minimum_wages" not in obj:
        return None
    where = f"{path}.income_minimum_wages"
    rng = expect_object(obj["income_minimum_wages"], where, ("above", "up_to"))
    above = expect_number(rng, "above", where)
    up_to = None if rng["up_to"] is None else expect_number(rng, "up_to", where)
    if up_to is not None and up_to <= above:
        fail(f"{where}.up_to", "must be greater than 'above' (or null for no upper bound)")
    return IncomeRange(above=above, up_to=up_to)


def _urgent_choice(value: object, path: str) -> UrgentChoice:
    obj = expect_object(value, path, ("rule_id", "flag"), optional=("flag_by_area",))
    by_area = expect_object(obj.get("flag_by_area", {}), f"{path}.flag_by_area", (), optional=AREAS)
    return UrgentChoice(
        rule_id=expect_rule_id(obj, "rule_id", path),
        flag=expect_one_of(obj["flag"], f"{path}.flag", URGENCY_FLAGS),
        flag_by_area=tuple(
            (area, expect_one_of(by_area[area], f"{path}.flag_by_area.{area}", URGENCY_FLAGS))
            for area in AREAS
            if area in by_area
        ),
    )


def _area_rule(value: object, path: str) -> AreaRule:
    obj = expect_object(value, path, ("id", "area", "phrases"))
    phrases = expect_phrases(obj, "phrases", path)
    return AreaRule(
        id=expect_rule_id(obj, "id", path),
        area=expect_one_of(obj["area"], f"{path}.area", AREAS),
        phrases=phrases,
        matcher=combine(phrases),
    )


def _urgency_rule(value: object, path: str) -> UrgencyRule:
    obj = expect_object(value, path, ("id", "flag", "area", "phrases"))
    phrases = expect_phrases(obj, "phrases", path)
    return UrgencyRule(
        id=expect_rule_id(obj, "id", path),
        flag=expect_one_of(obj["flag"], f"{path}.flag", URGENCY_FLAGS),
        area=expect_one_of(obj["area"], f"{path}.area", AREAS),
        phrases=phrases,
        matcher=combine(phrases),
    )


def _priority_rule(value: object, path: str) -> PriorityRule:
    obj = expect_object(value, path, ("id", "priority"), optional=("when_urgent", "areas"))
    if "when_urgent" not in obj and "areas" not in obj:
        fail(path, "needs 'when_urgent' or 'areas'")
    areas = expect_list(obj.get("areas", []), f"{path}.areas")
    return PriorityRule(
        id=expect_rule_id(obj, "id", path),
        priority=expect_one_of(obj["priority"], f"{path}.priority", PRIORITIES),
        when_urgent=expect_bool(obj, "when_urgent", path),
        areas=tuple(expect_one_of(a, f"{path}.areas[{i}]", AREAS) for i, a in enumerate(areas)),
    )


def brl(amount: Decimal) -> str:
    """An amount the way Brazilians write it: R$ 4.863,00."""
    return "R$ " + f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def _fill(text: str, placeholders: Mapping[str, str]) -> str:
    for key, value in placeholders.items():
        text = text.replace(key, value)
    return text
