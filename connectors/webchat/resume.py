"""Resuming a web chat session exactly: every message of a session, both directions, gets the
next sequence number (from 1), and the window of the last messages answers "what came after
the last number the widget saw?".

`SessionWindow` keeps the last `capacity` messages; `after(last_seen_seq)` is exactly the
messages the widget has not seen, in order, or a `ResumeGap` when they are no longer all there
(the widget then reloads the history over HTTP). Recording is idempotent on the message id: a
resent visitor message (same client id, so the same event id), or an agent's reply delivered
twice by Kafka, keeps its first number. A redelivery older than the window gets a new number;
the widget drops a message id it already shows.

Pure and immutable: `record` returns the new window. Must not depend on aiohttp, Kafka or
Postgres.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from connectors.webchat.protocol import Sender, ServerAck, ServerError, ServerMessage
from schemas.events import Attachment


@dataclass(frozen=True, slots=True)
class ResumeGap:
    """The window cannot resend all the widget missed: reload the history instead.

    `evicted`: the oldest unseen messages left the window; `ahead`: the widget claims a
    number this session never gave (another session's, or a server that lost its state)."""

    reason: Literal["evicted", "ahead"]
    first_available_seq: int
    latest_seq: int

    def to_error(self) -> ServerError:
        return ServerError(
            "resume_gap",
            f"cannot resend from {self.reason} position; reload the history "
            f"(window holds {self.first_available_seq} to {self.latest_seq})",
        )


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """The last `capacity` messages of one session, numbered (see the module's docstring).

    Immutable: `record` returns the new window. The shell keeps one per live session, and can
    rebuild it by recording the session's messages again in log order (the contact's partition
    orders them), which yields the same numbers."""

    capacity: int
    latest_seq: int = 0
    messages: tuple[ServerMessage, ...] = ()

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError("a session window holds at least one message")

    def record(
        self,
        *,
        message_id: str,
        sender: Sender,
        text: str,
        sent_at: datetime,
        client_message_id: str | None = None,
        attachments: tuple[Attachment, ...] = (),
    ) -> tuple[SessionWindow, ServerMessage]:
        """The window with this message numbered in, and the message as the widget gets it;
        a message id already in the window keeps its number and changes nothing."""
        known = self.find(message_id)
        if known is not None:
            return self, known
        message = ServerMessage(
            seq=self.latest_seq + 1,
            message_id=message_id,
            sender=sender,
            text=text,
            sent_at=sent_at,
            client_message_id=client_message_id,
            attachments=attachments,
        )
        kept = (*self.messages, message)[-self.capacity :]
        return replace(self, latest_seq=message.seq, messages=kept), message

    def find(self, message_id: str) -> ServerMessage | None:
        return next((m for m in self.messages if m.message_id == message_id), None)

    def after(self, last_seen_seq: int) -> tuple[ServerMessage, ...] | ResumeGap:
        """Exactly the messages numbered above `last_seen_seq`, in order, or why not."""
        first = self.messages[0].seq if self.messages else self.latest_seq + 1
        if last_seen_seq > self.latest_seq:
            return ResumeGap("ahead", first, self.latest_seq)
        if last_seen_seq < first - 1:
            return ResumeGap("evicted", first, self.latest_seq)
        return self.messages[last_seen_seq - first + 1 :]

    def read_through(self, message_id: str) -> tuple[ServerMessage, ...]:
        """The office's messages (not the visitor's) up to and with `message_id`: what a
        visitor's `read` frame marks as read; empty when the id is not in the window."""
        target = self.find(message_id)
        if target is None:
            return ()
        return tuple(m for m in self.messages if m.seq <= target.seq and m.sender != "visitor")


def ack_for(message: ServerMessage) -> ServerAck:
    """The ack of a visitor's message once recorded."""
    if message.client_message_id is None:
        raise ValueError("only a visitor's message (with its client id) is acked")
    return ServerAck(
        client_message_id=message.client_message_id,
        message_id=message.message_id,
        seq=message.seq,
    )
