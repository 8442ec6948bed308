"""The triage bot's pure core: what the bot says and when a case is triaged.

`decide(state, event, flow)` returns the new events (MessageSent from the bot, CaseTriaged);
`evolve(state, event, flow)` returns the next state. Both come from one `step`, so they can
never disagree; `evolve` needs the flow because understanding an answer does. One state per
case; the shell routes each MessageReceived to the state of its case (its `case_id`, or the
contact's case in triage when the connector left it null).

Steps for a MessageReceived, in order:
1. ignore it when triage is done, it belongs to another case, or it was seen (redelivery);
2. remember where to reply: the contact, channel and address of this message;
3. look for urgent signals in its text and captions: any one ends the questions at once;
4. before the greeting (no CaseOpened yet, or CaseOpened came first and this is the first
   message), keep its text as the citizen's opening words and, once the case is open,
   greet and ask the first question;
5. otherwise read it as the answer to the current question: a usable answer is recorded
   and the next question asked; an unusable one is asked again, up to `max_attempts`,
   then the question's fallback is recorded and the bot moves on;
6. urgent, or after the last question: CaseTriaged, then a closing (or urgent) message.

CaseOpened before any message: the bot cannot reach the citizen yet (MessageSent needs the
contact's address, which only a MessageReceived carries), so it waits; the citizen's first
message then gets the greeting. A case an agent opened is triaged the same way, from the
citizen's first message. A CaseTriaged (an agent's) or CaseClosed for the case stops the bot.

Output ids: event n of a call is `derive_event_id(cause.event_id, "streams.triage", str(n))`;
occurred_at, sent_at, correlation and causation come from the cause. No clock, no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from schemas.envelope import derive_event_id
from schemas.events import (
    Area,
    CaseClosed,
    CaseOpened,
    CaseTriaged,
    Channel,
    DocumentType,
    Event,
    MessageReceived,
    MessageSent,
    TriageAnswer,
    UrgencyFlag,
)
from schemas.personal import Erased
from streams.shared.frozen import replace
from streams.triage.answers import Answer, documents_sent, interpret
from streams.triage.classify import (
    area_of,
    documents_of,
    eligibility_of,
    priority_of,
    region_of,
    urgent_signals,
)
from streams.triage.model import Flow, Question
from streams.triage.text import without_quoted_history

PROCESSOR = "streams.triage"
Status = Literal["not_started", "asking", "done"]
TriageOutput = MessageSent | CaseTriaged
_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True, slots=True)
class ReplyTo:
    """Where the bot's messages go: the contact of the citizen's latest message."""

    contact_address: str | Erased
    channel_account_id: str | None = None
    provider_message_id: str
    thread_id: str | None = None
    email_subject: str | Erased | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class TriageState:
    """One case's conversation with the bot. Holds personal data (answers, the citizen's
    words, the contact address) until triage is done, when it is dropped."""

    case_id: str
    status: Status = "not_started"
    opened: bool = False
    subject_id: str | None = None
    contact_id: str | None = None
    channel: Channel = "unknown"
    reply_to: ReplyTo | None = None
    question_id: str | None = None
    attempts: int = 0  # unusable answers to the current question so far
    answers: tuple[TriageAnswer, ...] = ()
    narrative: tuple[str | Erased, ...] = ()  # what the citizen said about the problem
    documents_sent: tuple[DocumentType, ...] = ()
    urgency_flags: tuple[UrgencyFlag, ...] = ()
    rules_fired: tuple[str, ...] = ()
    area_guess: Area | None = None
    seen_message_ids: frozenset[str] = frozenset()
    started_at: datetime | None = None


def decide(state: TriageState, event: Event, flow: Flow) -> list[TriageOutput]:
    """The events the bot emits in answer to `event`."""
    return step(state, event, flow)[1]


def evolve(state: TriageState, event: Event, flow: Flow) -> TriageState:
    """The state after `event`."""
    return step(state, event, flow)[0]


def step(state: TriageState, event: Event, flow: Flow) -> tuple[TriageState, list[TriageOutput]]:
    """`evolve` and `decide` at once: the shell's one call per input event."""
    if state.status == "done":
        return state, []
    if isinstance(event, CaseOpened):
        return _on_opened(state, event, flow)
    if isinstance(event, MessageReceived):
        return _on_message(state, event, flow)
    if isinstance(event, CaseTriaged | CaseClosed) and event.case_id == state.case_id:
        return _finished(state), []
    return state, []


def _on_opened(
    state: TriageState, event: CaseOpened, flow: Flow
) -> tuple[TriageState, list[TriageOutput]]:
    if event.case_id != state.case_id or state.opened:
        return state, []
    state = replace(
        state,
        opened=True,
        subject_id=state.subject_id or event.citizen_id,
        contact_id=state.contact_id or event.contact_id,
        channel=state.channel if state.reply_to else event.channel,
    )
    if state.reply_to is None:
        return state, []  # no address yet: the citizen's first message gets the greeting
    return _start(state, event, flow)


def _on_message(
    state: TriageState, message: MessageReceived, flow: Flow
) -> tuple[TriageState, list[TriageOutput]]:
    if message.case_id not in (None, state.case_id) or message.event_id in state.seen_message_ids:
        return state, []
    body = without_quoted_history(message.text) if isinstance(message.text, str) else ""
    captions = " ".join(a.caption for a in message.attachments if isinstance(a.caption, str))
    opening = state.status == "not_started"
    subject = message.email_subject if opening and isinstance(message.email_subject, str) else ""
    said = "\n".join(t for t in (subject, body, captions) if t.strip())
    documents = flow.question_for("documents")
    sent = documents_sent(documents, message) if documents else ()
    state = replace(
        state,
        subject_id=message.subject_id,
        contact_id=message.contact_id,
        channel=message.channel,
        reply_to=ReplyTo(
            contact_address=message.contact_address,
            channel_account_id=message.channel_account_id,
            provider_message_id=message.provider_message_id,
            thread_id=message.thread_id,
            email_subject=message.email_subject,
        ),
        seen_message_ids=state.seen_message_ids | {message.event_id},
        documents_sent=_union(state.documents_sent, sent),
    )
    state = _add_urgency(state, flow, said)
    if opening or state.urgency_flags:
        state = _tell(state, flow, said)
    if opening:
        return _start(state, message, flow) if state.opened else (state, [])
    question = _current_question(flow, state)
    if question is None:
        return _triage(state, message, flow)
    answer = interpret(question, message, body or captions, flow.eligibility)
    if answer is not None:
        state = _record(state, flow, question, answer)
    if state.urgency_flags:
        return _triage(state, message, flow)
    prefix = ""
    if answer is None:
        if state.attempts + 1 < question.max_attempts:
            reask = f"{question.reask}\n\n{render_question(question)}"
            return replace(state, attempts=state.attempts + 1), _say(state, message, flow, [reask])
        state = _record_fallback(state, question, body or captions)
        prefix = flow.messages.fallback_notice + "\n\n"
    return _ask_next(state, message, flow, prefix)


def _start(
    state: TriageState, cause: CaseOpened | MessageReceived, flow: Flow
) -> tuple[TriageState, list[TriageOutput]]:
    state = replace(state, status="asking", started_at=cause.occurred_at)
    if state.urgency_flags:
        return _triage(state, cause, flow)
    return _ask_next(state, cause, flow, flow.messages.greeting + "\n\n")


def _ask_next(
    state: TriageState, cause: CaseOpened | MessageReceived, flow: Flow, prefix: str
) -> tuple[TriageState, list[TriageOutput]]:
    question = _next_question(flow, state)
    if question is None:
        return _triage(state, cause, flow)
    state = replace(state, question_id=question.id, attempts=0)
    return state, _say(state, cause, flow, [prefix + render_question(question)])


def _triage(
    state: TriageState, cause: CaseOpened | MessageReceived, flow: Flow
) -> tuple[TriageState, list[TriageOutput]]:
    area, area_rules = area_of(flow, state.narrative, state.rules_fired)
    priority, priority_rule = priority_of(flow, area, state.urgency_flags)
    eligible, eligibility_rule = eligibility_of(flow, state.answers)
    triaged = CaseTriaged(
        event_id=_output_id(cause, 0),
        occurred_at=cause.occurred_at,
        correlation_id=cause.correlation_id,
        causation_id=cause.event_id,
        subject_id=state.subject_id or "",
        case_id=state.case_id,
        contact_id=state.contact_id,
        area=area,
        priority=priority,
        urgency_flags=state.urgency_flags,
        region=region_of(flow, state.answers),
        eligible=eligible,
        documents_present=documents_of(flow, state.answers, state.documents_sent),
        answers=state.answers,
        rules_version=flow.version,
        rules_fired=_union(state.rules_fired, (*area_rules, *eligibility_rule, *priority_rule)),
    )
    closing = _urgent_reply(flow, state.urgency_flags) if state.urgency_flags else None
    messages = _say(state, cause, flow, [closing or flow.messages.closing], first=1)
    done = replace(state, area_guess=area, rules_fired=triaged.rules_fired)
    return _finished(done), [triaged, *messages]


def _finished(state: TriageState) -> TriageState:
    """Done: keep what explains the result, drop the citizen's words and address."""
    return TriageState(
        case_id=state.case_id,
        status="done",
        opened=state.opened,
        subject_id=state.subject_id,
        contact_id=state.contact_id,
        channel=state.channel,
        urgency_flags=state.urgency_flags,
        rules_fired=state.rules_fired,
        area_guess=state.area_guess,
        started_at=state.started_at,
    )


def render_question(question: Question) -> str:
    """The question as the citizen reads it: the prompt, then the numbered options."""
    options = "\n".join(f"{i}. {c.label}" for i, c in enumerate(question.choices, start=1))
    return f"{question.prompt}\n{options}" if options else question.prompt


def _record(state: TriageState, flow: Flow, question: Question, answer: Answer) -> TriageState:
    recorded = TriageAnswer(question_id=question.id, answer=answer.text, choice_id=answer.choice_id)
    state = replace(
        state,
        answers=(*state.answers, recorded),
        documents_sent=_union(state.documents_sent, answer.documents_sent),
        rules_fired=_union(
            state.rules_fired, tuple(c.rule_id for c in answer.choices if c.rule_id)
        ),
    )
    if question.purpose == "problem":
        state = _tell(state, flow, answer.text)
    for choice in answer.choices:
        if choice.urgent:
            flag = dict(choice.urgent.flag_by_area).get(state.area_guess or "unknown")
            state = _flag(state, flag or choice.urgent.flag, choice.urgent.rule_id)
    return state


def _record_fallback(state: TriageState, question: Question, text: str) -> TriageState:
    fallback = TriageAnswer(
        question_id=question.id, answer=text, choice_id=question.fallback_choice_id
    )
    return replace(state, answers=(*state.answers, fallback))


def _tell(state: TriageState, flow: Flow, text: str) -> TriageState:
    """Add what the citizen said to the story the area is classified from."""
    if not text.strip() or text in state.narrative:
        return state
    state = replace(state, narrative=(*state.narrative, text))
    return replace(state, area_guess=area_of(flow, state.narrative, state.rules_fired)[0])


def _add_urgency(state: TriageState, flow: Flow, text: str) -> TriageState:
    for rule in urgent_signals(flow, text):
        state = _flag(state, rule.flag, rule.id)
    return state


def _flag(state: TriageState, flag: UrgencyFlag, rule_id: str) -> TriageState:
    return replace(
        state,
        urgency_flags=_union(state.urgency_flags, (flag,)),
        rules_fired=_union(state.rules_fired, (rule_id,)),
    )


def _current_question(flow: Flow, state: TriageState) -> Question | None:
    current = flow.question(state.question_id)
    answered = {a.question_id for a in state.answers}
    if current is not None and current.id not in answered:
        return current
    return _next_question(flow, state)  # the flow changed under a running conversation


def _next_question(flow: Flow, state: TriageState) -> Question | None:
    answered = {a.question_id for a in state.answers}
    return next((q for q in flow.questions if q.id not in answered), None)


def _urgent_reply(flow: Flow, flags: tuple[UrgencyFlag, ...]) -> str:
    by_flag = dict(flow.messages.urgent_by_flag)
    return next((by_flag[f] for f in flags if f in by_flag), flow.messages.urgent_default)


def _say(
    state: TriageState,
    cause: CaseOpened | MessageReceived,
    flow: Flow,
    texts: list[str],
    *,
    first: int = 0,
) -> list[TriageOutput]:
    """Bot messages to the citizen's contact; none before the citizen wrote. An address that
    reads as ERASED is one like any other: whether the citizen was erased is not an input of
    the bot's decisions (the publisher writes such messages ERASED)."""
    reply = state.reply_to
    if reply is None or state.contact_id is None:
        return []
    out: list[TriageOutput] = []
    for n, text in enumerate(texts, start=first):
        out.append(
            MessageSent(
                event_id=_output_id(cause, n),
                occurred_at=cause.occurred_at,
                correlation_id=cause.correlation_id,
                causation_id=cause.event_id,
                subject_id=state.subject_id or "",
                channel=state.channel,
                contact_id=state.contact_id,
                contact_address=reply.contact_address,
                channel_account_id=reply.channel_account_id,
                case_id=state.case_id,
                message_id=derive_event_id(cause.event_id, PROCESSOR, "message", str(n)),
                sender_kind="bot",
                email_subject=_email_subject(flow, state.channel, reply),
                text=text,
                reply_to_provider_message_id=(
                    reply.provider_message_id if state.channel == "email" else None
                ),
                thread_id=_thread(state.channel, reply),
                sent_at=cause.occurred_at,
            )
        )
    return out


def _email_subject(flow: Flow, channel: Channel, reply: ReplyTo) -> str | None:
    if channel != "email":
        return None
    subject = reply.email_subject
    if not isinstance(subject, str) or not subject.strip():
        return flow.messages.email_subject
    return subject if subject.casefold().startswith(("re:", "res:")) else f"Re: {subject}"


def _thread(channel: Channel, reply: ReplyTo) -> str | None:
    if channel == "email":
        return reply.thread_id or reply.provider_message_id
    return reply.thread_id if channel == "web_chat" else None


def _output_id(cause: CaseOpened | MessageReceived, n: int) -> str:
    return derive_event_id(cause.event_id, PROCESSOR, str(n))


def _union(first: tuple[_T, ...], more: tuple[_T, ...]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys((*first, *more)))
