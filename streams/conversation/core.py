"""The pure core of the conversation processor: `streams.cases` and `streams.triage` composed.

Steps of `handle`, in order:
1. the case lifecycle decides on the input (open, join, reopen, inactivity rules);
2. the triage bot sees what concerns the current case, in causal order: a case just
   opened (a fresh dialogue), then the input itself, then a close;
3. the lifecycle evolves over the bot's outputs (a triaged case leaves triage);
4. the outputs are the lifecycle's then the bot's, in that order.
Agents' commands (reply, hold, close) are the lifecycle's alone: the bot never sees them, only
a close they are accepted into (which ends a dialogue still under way). So with a citizen's
erasure: the bot sees only the close it is decided into (reason citizen_erased), and the
dialogue, with the citizen's words, is dropped at once.

The state holds the citizen's personal values (the contact's address, the dialogue's words,
answers and email subject), typed `str | Erased`: the shell seals them in snapshots with the
key of `subject_of` (the contact's citizen), and after that citizen's erasure they come back
ERASED. Neither core looks inside them to decide, so an erased contact's case goes on as any
other, with the same outputs and ids: its messages are written ERASED (docs/privacy.md).

Must not import Kafka, faust, Postgres, logging or a clock: time comes in the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.events import (
    CaseClosed,
    CaseOpened,
    CaseReopened,
    CaseTriaged,
    ClockTicked,
    MessageReceived,
    MessageSent,
)
from streams.cases import domain as cases
from streams.cases.policy import LifecyclePolicy
from streams.cases.state import ContactState
from streams.cases.state import evolve as evolve_contact
from streams.shared.frozen import replace
from streams.triage import domain as triage
from streams.triage.model import Flow

Output = Any  # the union of both cores' outputs; each is a generated event type


@dataclass(frozen=True, kw_only=True, slots=True)
class ConversationState:
    contact: ContactState
    triage: triage.TriageState | None = None


def initial(contact_id: str) -> ConversationState:
    return ConversationState(contact=ContactState(contact_id=contact_id))


def handle(
    state: ConversationState, event: Any, policy: LifecyclePolicy, flow: Flow
) -> tuple[ConversationState | None, list[Output]]:
    """The contact's next state and the outputs; None when the contact is forgotten (a tick
    past `cases.forget_at`, no dialogue under way): the shell deletes its state."""
    if isinstance(event, ClockTicked) and state.triage is None:
        forget = cases.forget_at(state.contact, policy)
        if forget is not None and event.tick_at >= forget:
            return None, []
    before = state.contact.case.case_id if state.contact.case is not None else None
    contact, case_outputs = cases.handle(state.contact, event, policy)
    after = contact.case.case_id if contact.case is not None else None
    dialogue = state.triage
    bot_outputs: list[Output] = []
    for item in _for_triage(event, case_outputs):
        if isinstance(item, CaseOpened):
            if item is event and (after != item.case_id or before == item.case_id):
                continue  # our own CaseOpened read back from the stream, or one refused
            dialogue = triage.TriageState(case_id=item.case_id)
        if dialogue is None:
            continue
        dialogue, produced = triage.step(dialogue, item, flow)
        bot_outputs.extend(produced)
    for output in bot_outputs:
        contact = evolve_contact(contact, output)
    if dialogue is not None and dialogue.status == "done":
        dialogue = None  # nothing personal is kept once triage is over
    return replace(state, contact=contact, triage=dialogue), [*case_outputs, *bot_outputs]


def subject_of(state: ConversationState) -> str | None:
    """The citizen whose data key seals the state's personal values: the contact's, as its
    latest message named it (the dialogue's, before the lifecycle knows one)."""
    if state.contact.citizen_id is not None:
        return state.contact.citizen_id
    return state.triage.subject_id if state.triage is not None else None


def wakes_at(state: ConversationState, policy: LifecyclePolicy) -> datetime | None:
    """When a tick must next visit this contact: an inactivity step comes due, or, once its
    case is closed, the contact may be forgotten."""
    due = cases.next_deadline(state.contact, policy)
    if due is None and state.triage is None:
        return cases.forget_at(state.contact, policy)
    return due


def _for_triage(event: Any, case_outputs: list[Output]) -> list[Any]:
    opened = [o for o in case_outputs if isinstance(o, CaseOpened | CaseReopened)]
    closed = [o for o in case_outputs if isinstance(o, CaseClosed)]
    if isinstance(event, MessageReceived | CaseTriaged | CaseClosed | MessageSent | CaseOpened):
        return [*opened, event, *closed]
    if isinstance(event, ClockTicked):
        return closed
    return [*opened, *closed]
