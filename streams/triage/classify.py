"""The triage rules applied: area, urgency, priority, eligibility, region and documents,
from what the citizen said and answered. Each function returns its result and the ids of
the rules that fired, for CaseTriaged.rules_fired.

Pure functions over plain data (the flow, texts, answers); no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.events import Area, DocumentType, Priority, TriageAnswer, UrgencyFlag
from schemas.personal import Erased
from streams.triage.model import DOCUMENT_TYPES, Choice, Flow, Purpose, UrgencyRule
from streams.triage.text import words


def urgent_signals(flow: Flow, text: str) -> tuple[UrgencyRule, ...]:
    """The urgency rules with a phrase in `text`, in file order."""
    said = words(text)
    if not said:
        return ()
    return tuple(rule for rule in flow.urgency_rules if rule.matcher.search(said))


def area_of(
    flow: Flow, narrative: Iterable[str | Erased], fired: Iterable[str]
) -> tuple[Area, tuple[str, ...]]:
    """The area and the area rules that fired. An urgent signal found in the citizen's
    words decides first (the first one fired: the urgent matter is what must be handled
    today); else the first area rule (in file order) with a phrase in what the citizen said
    about the problem; else the flow's default area, or "unknown" when the citizen said
    nothing (words erased since count for nothing). Every area rule that found a phrase
    fired, whichever decided."""
    said = [s for s in (words(t) for t in narrative if isinstance(t, str)) if s]
    matched = [rule for rule in flow.area_rules if any(rule.matcher.search(s) for s in said)]
    matched_ids = tuple(rule.id for rule in matched)
    urgent_areas = {rule.id: rule.area for rule in flow.urgency_rules}
    urgent = next((urgent_areas[i] for i in fired if i in urgent_areas), None)
    if urgent is not None:
        return urgent, matched_ids
    if matched:
        return matched[0].area, matched_ids
    return (flow.default_area if said else "unknown"), ()


def priority_of(
    flow: Flow, area: Area, flags: tuple[UrgencyFlag, ...]
) -> tuple[Priority, tuple[str, ...]]:
    """The first priority rule that matches decides; else the flow's default priority."""
    for rule in flow.priority_rules:
        if (rule.when_urgent and flags) or area in rule.areas:
            return rule.priority, (rule.id,)
    return flow.default_priority, ()


def eligibility_of(
    flow: Flow, answers: Iterable[TriageAnswer]
) -> tuple[bool | None, tuple[str, ...]]:
    """Eligible when the income band chosen lies under the line, not eligible when above
    it; None when the income is unknown (or its band straddles the line)."""
    line = flow.eligibility
    for choice in chosen(flow, answers, "income"):
        band = choice.income
        if band and band.up_to is not None and band.up_to <= line.line_minimum_wages:
            return True, (line.eligible_rule_id,)
        if band and band.above >= line.line_minimum_wages:
            return False, (line.ineligible_rule_id,)
    return None, ()


def region_of(flow: Flow, answers: Iterable[TriageAnswer]) -> str | None:
    """The region code chosen; "unknown" when not known; None when the flow has no region
    question (queues are not split by region)."""
    if flow.question_for("region") is None:
        return None
    return next((c.region for c in chosen(flow, answers, "region") if c.region), "unknown")


def documents_of(
    flow: Flow, answers: Iterable[TriageAnswer], sent: Iterable[DocumentType]
) -> tuple[DocumentType, ...]:
    """The documents the citizen says they have or sent, in the schema's order."""
    have = {c.document_type for c in chosen(flow, answers, "documents")} | set(sent)
    return tuple(d for d in DOCUMENT_TYPES if d in have)


def chosen(flow: Flow, answers: Iterable[TriageAnswer], purpose: Purpose) -> tuple[Choice, ...]:
    """The options chosen in the answer to the question with this purpose (a multiple
    choice records its option ids joined by commas, e.g. "rg,cpf")."""
    question = flow.question_for(purpose)
    if question is None:
        return ()
    answer = next((a for a in answers if a.question_id == question.id), None)
    if answer is None or not answer.choice_id:
        return ()
    ids = answer.choice_id.split(",")
    return tuple(c for c in question.choices if c.id in ids)
