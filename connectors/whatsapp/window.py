"""WhatsApp's 24-hour customer-service window: may a message go out now?

WhatsApp lets a business send free-form messages (text, media) to a citizen only within 24
hours of the citizen's last message; after that only approved templates may be sent, and
Meta refuses anything else (error 131047). Deciding before the call keeps the refusal
explicit and saves a request that cannot succeed.

The window is open while `now < last_inbound_at + 24h`: at exactly 24 hours it is closed.
`margin` closes it earlier, for an outbound loop whose send may land a little after it
decided (queueing, retries).

Pure: time is an argument; no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from schemas.events import MessageSent

SERVICE_WINDOW: Final = timedelta(hours=24)
OUTSIDE_WINDOW: Final = "outside the 24-hour window: only approved templates may be sent"


@dataclass(frozen=True, slots=True)
class SendAllowed:
    is_template: bool


@dataclass(frozen=True, slots=True)
class SendRefused:
    reason: str


def window_closes_at(last_inbound_at: datetime) -> datetime:
    return last_inbound_at + SERVICE_WINDOW


def is_window_open(
    last_inbound_at: datetime | None, now: datetime, margin: timedelta = timedelta(0)
) -> bool:
    """Whether a free-form message may go out at `now` (None: the citizen never wrote)."""
    _require_aware(now)
    if last_inbound_at is None:
        return False
    _require_aware(last_inbound_at)
    return now < window_closes_at(last_inbound_at) - margin


def decide_send(
    message: MessageSent,
    last_inbound_at: datetime | None,
    now: datetime,
    margin: timedelta = timedelta(0),
) -> SendAllowed | SendRefused:
    """A template always goes out; a free-form message only inside the window."""
    if message.template_name:
        return SendAllowed(is_template=True)
    if is_window_open(last_inbound_at, now, margin):
        return SendAllowed(is_template=False)
    if last_inbound_at is None:
        return SendRefused(f"{OUTSIDE_WINDOW} (the contact has never written)")
    return SendRefused(OUTSIDE_WINDOW)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("window times must be timezone-aware")
