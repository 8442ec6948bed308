"""Invariants over any conversation: the bot never crashes, always ends with exactly one
CaseTriaged within its question budget, is deterministic, and is silent once done."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from schemas.events import CaseTriaged, Event, MessageReceived
from schemas.personal import ERASED, Erased
from tests.unit.triage.conversation import FLOW, Citizen, outputs_of

BUDGET = sum(q.max_attempts for q in FLOW.questions)  # at most questions x max_attempts
REPLY_IDS = [f"{q.id}.{c.id}" for q in FLOW.questions for c in q.choices]
PLAUSIBLE = [
    "1",
    "2",
    "3",
    "7",
    "sim",
    "não",
    "nao sei",
    "rg e cpf",
    "1, 3 e 5",
    "2 mil",
    "R$ 1.500,00",
    "Guarulhos",
    "pensão",
    "meu ex não paga pensão",
    "zona leste",
    "nenhum",
    "0",
    "99",
    "me ameaçou",
    "preso em flagrante",
    "risco de vida",
    "despejo amanhã",
]


@dataclass(frozen=True)
class Said:
    text: str | Erased | None
    reply_id: str | None = None
    photo: bool = False


texts = st.one_of(
    st.text(max_size=40),
    st.text(min_size=500, max_size=3000),
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(["", " ", "🙂", "👍🏽🙏", "\n\n", "?!"]),
    st.none(),
    st.just(ERASED),
)
saids = st.builds(
    Said,
    text=texts,
    reply_id=st.one_of(st.none(), st.sampled_from([*REPLY_IDS, "garbage", ""])),
    photo=st.booleans(),
)


def _conversation(
    opening: Said, replies: list[Said], *, opened_first: bool
) -> tuple[list[Event], list[MessageReceived]]:
    citizen = Citizen()

    def message(said: Said) -> MessageReceived:
        if said.photo:
            return citizen.sends_photo(caption=said.text if isinstance(said.text, str) else None)
        return citizen.says(said.text, reply_id=said.reply_id)

    first = message(opening)
    start: list[Event] = (
        [citizen.case_opened(), first] if opened_first else [first, citizen.case_opened()]
    )
    messages = [message(s) for s in replies]
    return [*start, *messages], messages


@settings(max_examples=150, deadline=None)
@for_all(
    opening=saids,
    replies=st.lists(saids, min_size=BUDGET, max_size=BUDGET + 4),
    opened_first=st.booleans(),
)
def test_any_conversation_ends_with_exactly_one_case_triaged_within_budget(
    opening: Said, replies: list[Said], opened_first: bool
) -> None:
    events, messages = _conversation(opening, replies, opened_first=opened_first)

    out = outputs_of(events)

    triaged = [o for o in out if isinstance(o, CaseTriaged)]
    assert len(triaged) == 1
    causes = [e.event_id for e in events]
    assert triaged[0].causation_id in causes
    budget = {m.event_id for m in messages[:BUDGET]} | {e.event_id for e in events[:2]}
    assert triaged[0].causation_id in budget
    assert triaged[0].rules_version == FLOW.version
    assert len({o.event_id for o in out}) == len(out)  # every output id is distinct


@settings(max_examples=100, deadline=None)
@for_all(
    opening=saids,
    replies=st.lists(saids, max_size=BUDGET + 2),
    opened_first=st.booleans(),
)
def test_the_same_inputs_give_identical_outputs(
    opening: Said, replies: list[Said], opened_first: bool
) -> None:
    events, _ = _conversation(opening, replies, opened_first=opened_first)
    again, _ = _conversation(opening, replies, opened_first=opened_first)

    first, second = outputs_of(events), outputs_of(again)

    assert first == second
    assert [repr(o.to_record()) for o in first] == [repr(o.to_record()) for o in second]


@settings(max_examples=100, deadline=None)
@for_all(
    opening=saids,
    replies=st.lists(saids, min_size=BUDGET, max_size=BUDGET + 6),
    opened_first=st.booleans(),
)
def test_once_done_later_messages_produce_nothing(
    opening: Said, replies: list[Said], opened_first: bool
) -> None:
    events, _ = _conversation(opening, replies, opened_first=opened_first)

    out = outputs_of(events)

    done_at = next(i for i, o in enumerate(out) if isinstance(o, CaseTriaged))
    after = out[done_at + 1 :]
    assert all(o.causation_id == out[done_at].causation_id for o in after)  # the closing only
    assert len(after) == 1
