"""Given-when-then helpers: one citizen's events with distinct ids and increasing times.

`given(events)` folds the events into the bot's state; `when(state, event)` is what the bot
emits next. Answers that always work per question let a test start at any question.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.events import (
    Attachment,
    CaseOpened,
    Channel,
    Event,
    MessageKind,
    MessageReceived,
    MessageSent,
)
from schemas.personal import Erased
from streams.triage.domain import TriageOutput, TriageState, decide, evolve
from streams.triage.flow import load_flow
from streams.triage.model import Flow

FLOW = load_flow()
CASE_ID = "case-1"
CITIZEN = "citizen-1"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GOOD_ANSWERS = {
    "problema": "meu ex marido não paga a pensão das crianças",
    "regiao": "1",
    "perigo": "2",
    "renda": "2",
    "documentos": "1 e 2",
}


@dataclass
class Citizen:
    """Builds the events of one conversation: messages from the citizen, the case opening."""

    channel: Channel = "whatsapp"
    address: str | Erased = "+5511999990000"
    _n: int = field(default=0, repr=False)

    def says(
        self,
        text: str | Erased | None,
        *,
        kind: MessageKind = "text",
        reply_id: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        email_subject: str | None = None,
        thread_id: str | None = None,
        case_id: str | None = None,
        event_id: str | None = None,
    ) -> MessageReceived:
        self._n += 1
        return MessageReceived(
            event_id=event_id or f"msg-{self._n}",
            occurred_at=T0 + timedelta(minutes=self._n),
            correlation_id=f"corr-{self._n}",
            subject_id=CITIZEN,
            channel=self.channel,
            contact_id="contact-1",
            contact_address=self.address,
            channel_account_id="account-1",
            provider_message_id=f"provider-{self._n}",
            case_id=case_id,
            kind=kind,
            text=text,
            email_subject=email_subject,
            thread_id=thread_id,
            attachments=attachments,
            interactive_reply_id=reply_id,
            received_at=T0 + timedelta(minutes=self._n),
        )

    def taps(self, reply_id: str, title: str) -> MessageReceived:
        return self.says(title, kind="interactive", reply_id=reply_id)

    def sends_photo(
        self, caption: str | None = None, file_name: str | None = None
    ) -> MessageReceived:
        photo = Attachment(
            attachment_id=f"att-{self._n}",
            media_type="image/jpeg",
            size_bytes=1000,
            sha256="0" * 64,
            storage_ref=f"s3://media/{self._n}",
            file_name=file_name,
            caption=caption,
        )
        return self.says(None, kind="image", attachments=(photo,))

    def case_opened(self) -> CaseOpened:
        self._n += 1
        return CaseOpened(
            event_id=f"opened-{self._n}",
            occurred_at=T0 + timedelta(minutes=self._n),
            correlation_id="corr-1",
            case_id=CASE_ID,
            citizen_id=CITIZEN,
            contact_id="contact-1",
            channel=self.channel,
            opened_by_message_id="msg-1",
        )

    def started(self) -> list[Event]:
        """The first message, then the case it opened: the bot has asked the first question."""
        return [self.says("Olá, bom dia"), self.case_opened()]

    def at_question(self, question_id: str, flow: Flow = FLOW) -> list[Event]:
        """A conversation whose earlier questions were answered well; `question_id` is next."""
        events = self.started()
        for question in flow.questions:
            if question.id == question_id:
                return events
            events.append(self.says(GOOD_ANSWERS[question.id]))
        raise AssertionError(f"no question {question_id}")

    def all_answered(self) -> list[Event]:
        return [*self.started(), *(self.says(GOOD_ANSWERS[q.id]) for q in FLOW.questions)]


def given(events: Iterable[Event], flow: Flow = FLOW) -> TriageState:
    state = TriageState(case_id=CASE_ID)
    for event in events:
        state = evolve(state, event, flow)
    return state


def when(state: TriageState, event: Event, flow: Flow = FLOW) -> list[TriageOutput]:
    return decide(state, event, flow)


def bot_text(outputs: list[TriageOutput]) -> str:
    """The text of the one bot message in `outputs` (and nothing else was emitted)."""
    (sent,) = outputs
    assert isinstance(sent, MessageSent)
    assert isinstance(sent.text, str)
    return sent.text


def outputs_of(events: Iterable[Event], flow: Flow = FLOW) -> list[TriageOutput]:
    """Everything the bot emitted over a whole conversation, in order."""
    state = TriageState(case_id=CASE_ID)
    out: list[TriageOutput] = []
    for event in events:
        out.extend(decide(state, event, flow))
        state = evolve(state, event, flow)
    return out
