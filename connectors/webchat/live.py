"""The widgets connected to this process now, by session: what pushes each message of a
session to every socket of it, in order, once, with nothing skipped.

Each connection knows the highest number it has sent (`high`). A new message of the session
(`offer`) with the next number goes out at once; one further ahead means another came in
between, so the gap is read from the session store first; one already sent is dropped.
`reach` (a notice that a message was recorded, by this process or another replica: see
connectors.webchat.listener) sends what the store holds up to that number and was not sent.
A `resume` sends exactly what the store holds after the widget's last seen number.
`show_typing` (the office typing, heard from the gateway through the listener) sends a
`typing` frame to every socket of the session: no number, nothing stored. One lock
per connection keeps these in order; the visitor's own message is recorded and acked under
it (`acknowledge`), so its notice cannot send it back to this socket ahead of its ack. A
socket too slow to take a frame within `SEND_TIMEOUT_S` is closed (the widget reconnects and
resumes): one stalled browser must not hold up the delivery of other sessions' replies.

Must not depend on Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable
from typing import Final

from aiohttp import web

from connectors.webchat.protocol import (
    ServerError,
    ServerFrame,
    ServerMessage,
    ServerTyping,
    serialize_server_frame,
)
from connectors.webchat.resume import ResumeGap, ack_for
from connectors.webchat.sessions import SessionRef, SessionStore

log = logging.getLogger(__name__)
SEND_TIMEOUT_S: Final = 10.0
CLOSE_SLOW: Final = 4408
"""Close code for a socket that did not take a frame in time."""


class Connection:
    """One open WebSocket of a session."""

    def __init__(self, ws: web.WebSocketResponse, session: SessionRef, store: SessionStore):
        self.ws = ws
        self.session = session
        self._store = store
        self._lock = asyncio.Lock()
        self.high = 0

    async def position(self) -> None:
        """Start after the session's latest message: a widget that does not resume gets
        only what comes from now on."""
        async with self._lock:
            self.high = max(self.high, await self._store.latest_seq(self.session.session_id))

    async def offer(self, message: ServerMessage) -> None:
        """Send a new message of the session, or the gap up to it, or nothing if sent."""
        async with self._lock:
            if message.seq <= self.high:
                return
            if message.seq == self.high + 1:
                await self._send(message)
                self.high = message.seq
            else:
                await self._catch_up(message.seq)

    async def reach(self, seq: int) -> None:
        """Send what the session holds up to `seq` that this socket has not been sent."""
        async with self._lock:
            if seq > self.high:
                await self._catch_up(seq)

    async def acknowledge(
        self, recording: Awaitable[ServerMessage | ServerError]
    ) -> ServerMessage | ServerError:
        """Wait for the visitor's message sent on this socket to be recorded (`recording`),
        then ack it (the ack stands for it on this socket), after any message numbered
        before it that this socket has not been sent yet; or send the error frame that
        refused it. Returns what `recording` gave.

        The lock is held from before the recording: its notice, heard by every process
        (this one too), must wait, and then finds the number sent. Frames for this socket
        wait meanwhile (the publish to Kafka and the insert: milliseconds), those for the
        session's other sockets do not."""
        async with self._lock:
            recorded = await recording
            if isinstance(recorded, ServerError):
                await self._send(recorded)
                return recorded
            ack = ack_for(recorded)
            if ack.seq > self.high + 1:
                await self._catch_up(ack.seq - 1)
            await self._send(ack)
            self.high = max(self.high, ack.seq)
            return recorded

    async def resume(self, last_seen_seq: int) -> ResumeGap | None:
        """Send exactly the messages after `last_seen_seq`; a gap when the widget claims a
        number this session never gave."""
        async with self._lock:
            latest = await self._store.latest_seq(self.session.session_id)
            if last_seen_seq > latest:
                return ResumeGap("ahead", 1, latest)
            for message in await self._store.after(self.session, last_seen_seq, up_to=latest):
                await self._send(message)
            self.high = max(self.high, latest)
            return None

    async def send(self, frame: ServerFrame) -> None:
        """A frame that is no message of the session (errors, typing)."""
        async with self._lock:
            await self._send(frame)

    async def _catch_up(self, up_to: int) -> None:
        for message in await self._store.after(self.session, self.high, up_to=up_to):
            await self._send(message)
        self.high = max(self.high, up_to)

    async def _send(self, frame: ServerFrame) -> None:
        if self.ws.closed:
            return
        text = serialize_server_frame(frame).decode("utf-8")
        try:
            await asyncio.wait_for(self.ws.send_str(text), SEND_TIMEOUT_S)
        except (ConnectionError, RuntimeError):
            return  # closing: the widget resumes on its next connection
        except TimeoutError:
            log.info("closing a web chat socket too slow to read", extra=self._extra())
            await self.ws.close(code=CLOSE_SLOW, message=b"too slow to read: reconnect")

    def _extra(self) -> dict[str, str]:
        return {"session_id": self.session.session_id}


class Hub:
    """Open connections by session id."""

    def __init__(self) -> None:
        self._by_session: defaultdict[str, set[Connection]] = defaultdict(set)

    def __len__(self) -> int:
        return sum(len(c) for c in self._by_session.values())

    def add(self, connection: Connection) -> None:
        self._by_session[connection.session.session_id].add(connection)

    def remove(self, connection: Connection) -> None:
        held = self._by_session.get(connection.session.session_id)
        if held is not None:
            held.discard(connection)
            if not held:
                del self._by_session[connection.session.session_id]

    def connections(self, session_id: str) -> tuple[Connection, ...]:
        return tuple(self._by_session.get(session_id, ()))

    def sessions(self) -> tuple[str, ...]:
        """The sessions with a socket open here."""
        return tuple(self._by_session)

    def holds(self, session_id: str) -> bool:
        return session_id in self._by_session

    async def push(
        self, session_id: str, message: ServerMessage, *, skip: Connection | None = None
    ) -> int:
        """Offer a new message to every socket of the session (but `skip`); how many."""
        targets = [c for c in self.connections(session_id) if c is not skip]
        await asyncio.gather(*(c.offer(message) for c in targets))
        return len(targets)

    async def catch_up(self, session_id: str, seq: int) -> int:
        """Bring every socket of the session up to message `seq` (`Connection.reach`); how
        many sockets."""
        targets = self.connections(session_id)
        await asyncio.gather(*(c.reach(seq) for c in targets))
        return len(targets)

    async def show_typing(self, session_id: str, active: bool) -> int:
        """Send the office's typing (or its end) to every socket of the session; how many."""
        targets = self.connections(session_id)
        await asyncio.gather(*(c.send(ServerTyping(active)) for c in targets))
        return len(targets)

    async def close_all(self, code: int, reason: bytes) -> None:
        every = [c for held in self._by_session.values() for c in held]
        for c in every:
            with contextlib.suppress(Exception):
                await c.ws.close(code=code, message=reason)
