"""How the bot understands one answer to one question: a button or list reply, a numbered
choice ("2", "1, 3 e 5"), free text matched against the options' synonyms, or an amount for
the income question ("R$ 2.500,00", "2 mil", "3 salários"). None means the answer is unusable
and the question is asked again.

Steps of `interpret`, in order (the first that understands the answer wins):
1. a button or list reply id naming an option (`choice_id` or `question_id.choice_id`);
2. a text made only of option numbers;
3. the options' synonyms found in the text (single choice: the earliest in the text, then
   the longest; multiple choice: every option found, minus negated ones: "não tenho RG");
4. for the income question, an amount of money or of minimum wages;
5. for the documents question, attachments (photos, PDFs) count as documents sent.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from schemas.events import DocumentType, MessageReceived
from streams.triage.model import Choice, Eligibility, Question
from streams.triage.text import fold, letter_count, words

_NUMBERED = re.compile(r"^(?:opcao |numero |n |no )?(\d{1,2})$")
_NUMBER_LIST = re.compile(r"^\d{1,2}(?: (?:e |and )?\d{1,2})*$")
_NEGATIONS = frozenset({"nao", "sem", "nem", "falta", "faltam", "perdi"})
_SMALL_NUMBERS = {
    "meio": "0.5",
    "meia": "0.5",
    "um": "1",
    "uma": "1",
    "dois": "2",
    "duas": "2",
    "tres": "3",
    "quatro": "4",
    "cinco": "5",
    "seis": "6",
}
_AMOUNT = re.compile(
    r"(?<![a-z0-9.,])(?:"
    r"(?P<wages>\d+(?:[.,]\d+)?|meio|meia|uma?|dois|duas|tres|quatro|cinco|seis)"
    r"\s*(?:salarios?|sm)\b"
    r"|(?P<thousands>\d+(?:[.,]\d{1,2})?)\s*(?:mil|k)\b"
    r"|(?P<plain>\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?|\d+(?:,\d{1,2})?)"
    r")",
    re.ASCII,
)
_SMALLEST_PLAIN_AMOUNT = Decimal(10)  # "7" is a mistyped option, not R$ 7
_NOT_DOCUMENTS = frozenset({"sticker", "audio", "video", "reaction"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """What the citizen answered: the text to record and the options chosen (in the order
    of the flow); no options for a free-text question."""

    text: str
    choices: tuple[Choice, ...] = ()
    documents_sent: tuple[DocumentType, ...] = ()

    @property
    def choice_id(self) -> str | None:
        return ",".join(c.id for c in self.choices) if self.choices else None


def interpret(
    question: Question, message: MessageReceived, text: str, eligibility: Eligibility
) -> Answer | None:
    """The answer `message` gives to `question`, or None when it gives none. `text` is the
    message's text without any quoted history."""
    if question.kind == "text":
        return Answer(text=text) if letter_count(text) >= question.min_letters else None
    replied = _by_reply_id(question, message.interactive_reply_id)
    if replied is not None:
        return Answer(text=text or replied.label, choices=(replied,))
    said = words(text)
    numbered = _by_numbers(question, said)
    found = numbered or _by_synonyms(question, said)
    if not found and question.purpose == "income":
        found = _by_amount(question, text, eligibility)
    recorded = ", ".join(c.label for c in numbered) if numbered else text
    if question.kind == "single":
        return Answer(text=recorded, choices=found) if found else None
    sent = documents_sent(question, message) if question.purpose == "documents" else ()
    if not found and not sent:
        return None
    return Answer(text=recorded or f"[{len(sent)} anexo(s)]", choices=found, documents_sent=sent)


def documents_sent(question: Question, message: MessageReceived) -> tuple[DocumentType, ...]:
    """The document types of the photos and files a message carries, read from their
    captions and file names ("rg_frente.jpg" is an RG); "other" when neither says.
    Stickers, audio and video are never documents."""
    if message.kind in _NOT_DOCUMENTS:
        return ()
    found: list[DocumentType] = []
    for attachment in message.attachments:
        if attachment.media_type.split("/", 1)[0] not in ("image", "application"):
            continue
        label = " ".join(
            v for v in (attachment.caption, attachment.file_name) if isinstance(v, str)
        )
        types = [c.document_type for c in _by_synonyms(question, words(label)) if c.document_type]
        found.extend(types or ["other"])
    return tuple(dict.fromkeys(found))


def _by_reply_id(question: Question, reply_id: str | None) -> Choice | None:
    if not reply_id:
        return None
    for choice in question.choices:
        if reply_id in (choice.id, f"{question.id}.{choice.id}"):
            return choice
    return None


def _by_numbers(question: Question, said: str) -> tuple[Choice, ...]:
    if question.kind == "multi":
        if not _NUMBER_LIST.match(said):
            return ()
        numbers = {int(n) for n in re.findall(r"\d+", said)}
    else:
        single = _NUMBERED.match(said)
        numbers = {int(single.group(1))} if single else set()
    return tuple(c for i, c in enumerate(question.choices, start=1) if i in numbers)


def _by_synonyms(question: Question, said: str) -> tuple[Choice, ...]:
    if not said:
        return ()
    hits: list[tuple[int, int, int, Choice]] = []
    for order, choice in enumerate(question.choices):
        found = _first_mention(choice, said, negatable=question.kind == "multi")
        if found is not None:
            hits.append((found[0], -found[1], order, choice))
    if not hits:
        return ()
    if question.kind != "multi":
        return (min(hits, key=lambda h: h[:3])[3],)
    chosen = {h[3].id for h in hits}
    picked = tuple(c for c in question.choices if c.id in chosen)
    kept = tuple(c for c in picked if not c.exclusive)
    return kept or picked


def _first_mention(choice: Choice, said: str, *, negatable: bool) -> tuple[int, int] | None:
    """Where the earliest (then longest) mention of the option starts, and its length.
    In a multiple choice, a negated mention ("não tenho comprovante de residência") does
    not count, nor does a shorter synonym inside it ("residência")."""
    spans = [m.span() for p in choice.synonyms for m in p.pattern.finditer(said)]
    negated = [s for s in spans if negatable and not choice.exclusive and _negated(said, s[0])]
    kept = [
        (start, end - start)
        for start, end in spans
        if not any(n_start <= start and end <= n_end for n_start, n_end in negated)
    ]
    return min(kept, key=lambda h: (h[0], -h[1])) if kept else None


def _negated(said: str, start: int) -> bool:
    return any(word in _NEGATIONS for word in said[:start].split()[-3:])


def _by_amount(question: Question, text: str, eligibility: Eligibility) -> tuple[Choice, ...]:
    """The income band of the single amount in the text; none when there is no amount or
    more than one (the bot asks again rather than guess which is the family's total)."""
    amounts = set(_amounts(fold(text), eligibility.minimum_wage_brl))
    if len(amounts) != 1:
        return ()
    wages = amounts.pop() / eligibility.minimum_wage_brl
    for choice in question.choices:
        band = choice.income
        fits_below = band is not None and (band.up_to is None or wages <= band.up_to)
        if band is not None and fits_below and (wages > band.above or band.above == 0):
            return (choice,)
    return ()


def _amounts(folded: str, minimum_wage: Decimal) -> Iterable[Decimal]:
    for found in _AMOUNT.finditer(folded):
        try:
            if found.group("wages"):
                count = _SMALL_NUMBERS.get(found.group("wages"), found.group("wages"))
                yield Decimal(count.replace(",", ".")) * minimum_wage
            elif found.group("thousands"):
                yield Decimal(found.group("thousands").replace(",", ".")) * 1000
            else:
                value = Decimal(found.group("plain").replace(".", "").replace(",", "."))
                if value >= _SMALLEST_PLAIN_AMOUNT:
                    yield value
        except InvalidOperation:  # pragma: no cover - the pattern only admits numbers
            continue
