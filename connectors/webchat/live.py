"""The widgets connected now, by session: what pushes each message of a session to every
socket of it, in order, once, with nothing skipped.

Each connection knows the highest number it has sent (`high`). A new message of the session
(`offer`) with the next number goes out at once; one further ahead means another came in
between, so the gap is read from the session store first; one already sent is dropped. A
`resume` sends exactly what the store holds after the widget's last seen number. One lock
per connection keeps these in order. A socket too slow to take a frame within
`SEND_TIMEOUT_S` is closed (the widget reconnects and resumes): one stalled browser must not
hold up the delivery of other sessions' replies.

Must not depend on Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Final

from aiohttp import web

from connectors.webchat.protocol import (
    ServerAck,
    ServerFrame,
    ServerMessage,
    serialize_server_frame,
)
from connectors.webchat.resume import ResumeGap
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

    async def acknowledge(self, ack: ServerAck) -> None:
        """Ack the visitor's own message (the ack stands for it on this socket), after any
        message numbered before it that this socket has not been sent yet."""
        async with self._lock:
            if ack.seq > self.high + 1:
                await self._catch_up(ack.seq - 1)
            await self._send(ack)
            self.high = max(self.high, ack.seq)

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

    async def push(
        self, session_id: str, message: ServerMessage, *, skip: Connection | None = None
    ) -> int:
        """Offer a new message to every socket of the session (but `skip`); how many."""
        targets = [c for c in self.connections(session_id) if c is not skip]
        await asyncio.gather(*(c.offer(message) for c in targets))
        return len(targets)

    async def close_all(self, code: int, reason: bytes) -> None:
        every = [c for held in self._by_session.values() for c in held]
        for c in every:
            with contextlib.suppress(Exception):
                await c.ws.close(code=code, message=reason)
