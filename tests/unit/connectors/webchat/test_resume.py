"""Resuming a session: given the messages of a session both ways, when the widget reconnects
saying the last number it saw, then it gets exactly the messages it has not seen, or a gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.webchat.protocol import Sender, ServerAck
from connectors.webchat.resume import ResumeGap, SessionWindow, ack_for

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def talk(window: SessionWindow, *messages: tuple[str, Sender]) -> SessionWindow:
    for n, (message_id, sender) in enumerate(messages):
        client_id = f"c-{message_id}" if sender == "visitor" else None
        window, _ = window.record(
            message_id=message_id,
            sender=sender,
            text=f"text of {message_id}",
            sent_at=T0 + timedelta(seconds=n),
            client_message_id=client_id,
        )
    return window


CONVERSATION: tuple[tuple[str, Sender], ...] = (
    ("m-1", "visitor"),
    ("m-2", "bot"),
    ("m-3", "visitor"),
    ("m-4", "agent"),
    ("m-5", "visitor"),
)


def test_messages_both_ways_are_numbered_one_after_another_from_one() -> None:
    window = talk(SessionWindow(capacity=10), *CONVERSATION)

    assert [(m.seq, m.message_id) for m in window.messages] == [
        (1, "m-1"),
        (2, "m-2"),
        (3, "m-3"),
        (4, "m-4"),
        (5, "m-5"),
    ]


def test_resume_returns_exactly_the_unseen_messages_in_order() -> None:
    window = talk(SessionWindow(capacity=10), *CONVERSATION)

    resent = window.after(2)

    assert isinstance(resent, tuple)
    assert [m.message_id for m in resent] == ["m-3", "m-4", "m-5"]


def test_resume_from_the_latest_number_resends_nothing_and_from_zero_everything() -> None:
    window = talk(SessionWindow(capacity=10), *CONVERSATION)

    assert window.after(5) == ()
    assert window.after(0) == window.messages
    assert SessionWindow(capacity=3).after(0) == ()


def test_a_resent_message_keeps_its_first_number_and_adds_nothing() -> None:
    window = talk(SessionWindow(capacity=10), *CONVERSATION)

    again, message = window.record(
        message_id="m-3",
        sender="visitor",
        text="text of m-3",
        sent_at=T0,
        client_message_id="c-m-3",
    )

    assert again is window
    assert message.seq == 3
    assert ack_for(message) == ServerAck(client_message_id="c-m-3", message_id="m-3", seq=3)


def test_resume_from_before_the_window_is_a_gap_to_reload() -> None:
    window = talk(SessionWindow(capacity=3), *CONVERSATION)  # keeps 3, 4, 5

    assert window.after(2) == window.messages  # 3 onwards: still exact
    assert window.after(1) == ResumeGap("evicted", first_available_seq=3, latest_seq=5)


def test_resume_from_a_number_the_session_never_gave_is_a_gap() -> None:
    window = talk(SessionWindow(capacity=10), *CONVERSATION)

    gap = window.after(9)

    assert gap == ResumeGap("ahead", first_available_seq=1, latest_seq=5)
    assert isinstance(gap, ResumeGap)
    assert gap.to_error().code == "resume_gap"


def test_a_read_frame_marks_the_office_messages_up_to_it() -> None:
    window = talk(SessionWindow(capacity=10), *CONVERSATION)

    assert [m.message_id for m in window.read_through("m-4")] == ["m-2", "m-4"]
    assert window.read_through("m-unknown") == ()


def test_only_a_visitor_message_is_acked() -> None:
    window = talk(SessionWindow(capacity=10), ("m-1", "agent"))

    with pytest.raises(ValueError, match="visitor"):
        ack_for(window.messages[0])


def test_a_window_holds_at_least_one_message() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SessionWindow(capacity=0)


@settings(max_examples=80, deadline=None)
@given(
    count=st.integers(0, 40),
    capacity=st.integers(1, 15),
    repeats=st.lists(st.integers(0, 39), max_size=10),
    last_seen=st.integers(0, 45),
)
def test_resume_is_exact_or_a_gap_never_a_wrong_answer(
    count: int, capacity: int, repeats: list[int], last_seen: int
) -> None:
    window = SessionWindow(capacity=capacity)
    for n in range(count):
        window, _ = window.record(message_id=f"m-{n}", sender="agent", text="t", sent_at=T0)
        for r in repeats:  # redeliveries of recent messages change nothing
            if n - capacity < r <= n:
                window, _ = window.record(message_id=f"m-{r}", sender="agent", text="t", sent_at=T0)

    outcome = window.after(last_seen)

    assert window.latest_seq == count
    unseen = [f"m-{n}" for n in range(last_seen, count)]  # seq = n + 1
    is_gap = last_seen > count or len(unseen) > capacity
    assert isinstance(outcome, ResumeGap) == is_gap
    if not isinstance(outcome, ResumeGap):
        assert [m.message_id for m in outcome] == unseen
        assert [m.seq for m in outcome] == list(range(last_seen + 1, count + 1))
