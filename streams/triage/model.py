"""The triage flow as data: frozen dataclasses for questions, choices and rules.

Built only by `streams.triage.flow` (which checks a flow file into these); read by the domain.
Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, get_args

from schemas.events import Area, DocumentType, Priority, UrgencyFlag
from streams.triage.text import any_of

QuestionKind = Literal["text", "single", "multi"]
Purpose = Literal["problem", "region", "danger", "income", "documents", "other"]
Region = Literal["sao_paulo_capital", "grande_sao_paulo", "interior", "unknown"]

AREAS: tuple[Area, ...] = get_args(Area)
DOCUMENT_TYPES: tuple[DocumentType, ...] = get_args(DocumentType)
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
URGENCY_FLAGS: tuple[UrgencyFlag, ...] = get_args(UrgencyFlag)
REGIONS: tuple[Region, ...] = get_args(Region)
QUESTION_KINDS: tuple[QuestionKind, ...] = get_args(QuestionKind)
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A keyword or phrase as written in the file, and the pattern that finds it."""

    text: str
    pattern: re.Pattern[str]


def combine(phrases: tuple[Phrase, ...]) -> re.Pattern[str]:
    """One pattern that finds any of the phrases."""
    return any_of([p.pattern for p in phrases])


@dataclass(frozen=True, kw_only=True, slots=True)
class IncomeRange:
    """Family income above `above` and up to `up_to` minimum wages (None: no upper bound)."""

    above: Decimal
    up_to: Decimal | None


@dataclass(frozen=True, kw_only=True, slots=True)
class UrgentChoice:
    """Choosing this option is an urgent signal: `flag`, or the flag for the area so far."""

    rule_id: str
    flag: UrgencyFlag
    flag_by_area: tuple[tuple[Area, UrgencyFlag], ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Choice:
    id: str
    label: str
    synonyms: tuple[Phrase, ...]  # the label comes first
    rule_id: str | None = None
    exclusive: bool = False  # "nenhum": dropped when other options are chosen with it
    region: Region | None = None
    income: IncomeRange | None = None
    document_type: DocumentType | None = None
    urgent: UrgentChoice | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Question:
    id: str
    purpose: Purpose
    kind: QuestionKind
    prompt: str
    reask: str
    max_attempts: int
    fallback_choice_id: str
    choices: tuple[Choice, ...] = ()
    min_letters: int = 3

    def choice(self, choice_id: str | None) -> Choice | None:
        return next((c for c in self.choices if c.id == choice_id), None)


@dataclass(frozen=True, kw_only=True, slots=True)
class AreaRule:
    id: str
    area: Area
    phrases: tuple[Phrase, ...]
    matcher: re.Pattern[str]  # every phrase in one alternation: one search per rule


@dataclass(frozen=True, kw_only=True, slots=True)
class UrgencyRule:
    id: str
    flag: UrgencyFlag
    area: Area
    phrases: tuple[Phrase, ...]
    matcher: re.Pattern[str]  # every phrase in one alternation: one search per rule


@dataclass(frozen=True, kw_only=True, slots=True)
class PriorityRule:
    """Fires when the case has an urgency flag (`when_urgent`) or its area is in `areas`."""

    id: str
    priority: Priority
    when_urgent: bool = False
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Eligibility:
    """The eligibility line: family income up to `line_minimum_wages` minimum wages."""

    minimum_wage_brl: Decimal
    line_minimum_wages: Decimal
    eligible_rule_id: str
    ineligible_rule_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Messages:
    greeting: str
    closing: str
    fallback_notice: str
    urgent_default: str
    urgent_by_flag: tuple[tuple[UrgencyFlag, str], ...]
    email_subject: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Flow:
    version: str
    language: str
    messages: Messages
    questions: tuple[Question, ...]
    default_area: Area
    area_rules: tuple[AreaRule, ...]
    urgency_rules: tuple[UrgencyRule, ...]
    default_priority: Priority
    priority_rules: tuple[PriorityRule, ...]
    eligibility: Eligibility

    def question(self, question_id: str | None) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def question_for(self, purpose: Purpose) -> Question | None:
        return next((q for q in self.questions if q.purpose == purpose), None)
