"""Invariants: parsing returns on any bytes; what we compose, we read back the same."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.email.compose import OfficeMailbox, compose_message, one_line, reply_subject
from connectors.email.mime import ParsedMail, Quarantined, parse_mail
from connectors.email.quoting import split_reply
from connectors.email.threads import normalize_message_id, references_for_reply
from schemas.events import MessageSent
from tests.unit.connectors.email.helpers import mail_bytes, parsed

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAILBOX = OfficeMailbox("atendimento@defensoria.sp.def.br", "Defensoria Pública")
SEED = mail_bytes("attachments.eml")

# Text as people type it: any character but surrogates, which no mail can carry.
typed = st.text(st.characters(codec="utf-8"), max_size=300)
message_ids = st.from_regex(
    r"[A-Za-z0-9._+=-]{1,30}@[a-z0-9-]{1,15}(\.[a-z]{2,5}){1,2}", fullmatch=True
)


@FEW
@given(st.binary(max_size=2000))
def test_parse_returns_on_arbitrary_bytes(raw: bytes) -> None:
    assert isinstance(parse_mail(raw), ParsedMail | Quarantined)


@FEW
@given(st.data())
def test_parse_returns_on_a_real_mail_with_bytes_changed(data: st.DataObject) -> None:
    raw = bytearray(SEED)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at : at + data.draw(st.integers(0, 4))] = data.draw(st.binary(max_size=6))
    assert isinstance(parse_mail(bytes(raw)), ParsedMail | Quarantined)


def _sent(subject: str, text: str, parent: str | None, root: str | None) -> MessageSent:
    at = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    return MessageSent(
        event_id="evt",
        occurred_at=at,
        correlation_id="corr",
        subject_id="citizen",
        channel="email",
        contact_id="email-c",
        contact_address="cidada@example.com",
        message_id="msg",
        sender_kind="agent",
        email_subject=subject,
        text=text,
        reply_to_provider_message_id=parent,
        thread_id=root,
        sent_at=at,
    )


def _normalized_body(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip().lstrip("\n")


@FEW
@given(typed, typed.filter(lambda t: t.strip()), st.none() | message_ids, st.none() | message_ids)
def test_compose_then_parse_round_trips_subject_body_and_threading(
    subject: str, text: str, parent: str | None, root: str | None
) -> None:
    sent = _sent(subject, text, parent, root)
    composed = compose_message(sent, mailbox=MAILBOX, date=sent.sent_at)
    mail = parsed(parse_mail(composed.raw))
    is_reply = bool(parent or root)
    assert mail.subject == reply_subject(subject, is_reply=is_reply, default="Atendimento")
    assert mail.text == (_normalized_body(text) or None)
    assert mail.message_id == composed.message_id
    assert mail.in_reply_to == (
        parent.rsplit("@", 1)[0] + "@" + parent.rsplit("@", 1)[1].lower() if parent else None
    )
    assert mail.references == references_for_reply((), parent, thread_root=root)
    assert mail.from_address == MAILBOX.address
    assert mail.to == ("cidada@example.com",)


@FEW
@given(typed)
def test_one_line_never_leaves_a_line_break(text: str) -> None:
    folded = one_line(text)
    assert "\r" not in folded
    assert "\n" not in folded
    assert folded == folded.strip()


@FEW
@given(st.lists(message_ids, max_size=60), st.none() | message_ids, st.integers(2, 30))
def test_references_are_capped_and_keep_the_root_and_parent(
    parents: list[str], parent: str | None, cap: int
) -> None:
    refs = references_for_reply(parents, parent, cap=cap)
    assert len(refs) <= cap
    assert len(set(refs)) == len(refs)
    root = normalize_message_id(parents[0]) if parents else None
    if root:
        assert refs[0] == root
    if parent and normalize_message_id(parent) != root:  # a parent that is the root stays first
        assert refs[-1] == normalize_message_id(parent)


@FEW
@given(typed)
def test_split_reply_only_removes_lines(text: str) -> None:
    kept = split_reply(text).new_text.split("\n")
    source = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    for line in kept:
        assert not line or line in source


def test_round_trip_keeps_the_thread_on_a_real_reply() -> None:
    # Given the citizen's Gmail reply, when the office answers it, then the answer's
    # References are the reply's References plus the reply's Message-ID
    citizen = parsed(parse_mail(mail_bytes("gmail_reply_pt.eml")))
    sent = replace(
        _sent("Re: Pensão", "Recebido.", citizen.message_id, citizen.thread_id),
        sent_at=datetime(2026, 3, 2, 14, 30, tzinfo=UTC) + timedelta(hours=1),
    )
    composed = compose_message(
        sent, mailbox=MAILBOX, date=sent.sent_at, parent_references=citizen.references
    )
    answer = parsed(parse_mail(composed.raw))
    assert answer.references == (*citizen.references, citizen.message_id)
    assert answer.thread_id == citizen.thread_id
    assert answer.subject == "Re: Pensão"
