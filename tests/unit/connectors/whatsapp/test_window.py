"""Free-form messages go out only within 24 hours of the citizen's last message;
templates always do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.whatsapp.window import (
    OUTSIDE_WINDOW,
    SendAllowed,
    SendRefused,
    decide_send,
    is_window_open,
)
from tests.unit.connectors.whatsapp.builders import outbound

LAST = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "is_open"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999), True),
        (timedelta(hours=24), False),
        (timedelta(hours=24, microseconds=1), False),
        (timedelta(days=3), False),
        (-timedelta(minutes=1), True),  # a citizen's clock ahead of ours still opened it
    ],
)
def test_the_window_closes_exactly_24_hours_after_the_last_message(
    after: timedelta, is_open: bool
) -> None:
    assert is_window_open(LAST, LAST + after) is is_open


def test_a_margin_closes_the_window_earlier() -> None:
    now = LAST + timedelta(hours=23, minutes=58)

    assert is_window_open(LAST, now)
    assert not is_window_open(LAST, now, margin=timedelta(minutes=5))


def test_a_free_form_reply_inside_the_window_goes_out() -> None:
    assert decide_send(outbound(), LAST, LAST + timedelta(hours=2)) == SendAllowed(
        is_template=False
    )


def test_a_free_form_reply_after_the_window_is_refused_with_the_reason() -> None:
    decision = decide_send(outbound(), LAST, LAST + timedelta(hours=24))

    assert decision == SendRefused(OUTSIDE_WINDOW)
    assert decision.reason == "outside the 24-hour window: only approved templates may be sent"


def test_a_free_form_message_to_a_contact_who_never_wrote_is_refused() -> None:
    decision = decide_send(outbound(), None, LAST)

    assert isinstance(decision, SendRefused)
    assert decision.reason.startswith(OUTSIDE_WINDOW)
    assert "never written" in decision.reason


@pytest.mark.parametrize("last", [None, LAST, LAST - timedelta(days=30)])
def test_a_template_always_goes_out(last: datetime | None) -> None:
    template = outbound(text=None, template_name="retorno_atendimento", template_language="pt_BR")

    assert decide_send(template, last, LAST + timedelta(days=2)) == SendAllowed(is_template=True)


def test_naive_times_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_window_open(LAST, datetime(2026, 3, 2, 10, 0))
