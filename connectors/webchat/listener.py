"""Every web chat process hears of every message recorded in any session, by itself or by
another replica, and brings the sockets it holds for that session up to it: a reply that
replica B's Outbound loop delivered reaches the visitor connected to replica A, live.

The session store NOTIFYs each message it numbers (connectors.webchat.sessions, step 4;
connectors.webchat.notices); this LISTENs. Steps of `run`, in order, until `stop`:
1. open a connection of its own (a LISTEN lives as long as its connection: a pooled one
   would be handed to others) and LISTEN on the store's channel;
2. catch every socket held now up to its session's latest number: what was recorded while
   nothing listened (before the first connection, or while it was down) was never heard;
3. on each notice for a session with a socket here, schedule that session's catch-up to
   the notice's number as a task (the callback runs inside the connection's reading and
   must not wait on a socket). Each socket's lock keeps its frames in order and a number
   already sent is not sent again, so this process hearing its own notices is harmless.
   A typing notice (the agents' gateway: an agent typing in the session's case) schedules
   a `typing` frame to the session's sockets here instead;
4. every `heartbeat_s`, ask the connection something: one dropped without a word from the
   network (no FIN) would otherwise stay silent for good;
5. the connection lost -> a warning, a wait growing with each failure in a row (`backoff`),
   then 1 again. Meanwhile live push across replicas pauses (a process's own messages still
   reach its own sockets), and a widget that resumes gets everything, from the store.
On stop: the connection closes and the catch-ups in flight are cancelled (the sockets are
closing too; the widgets resume on their next connection).

Must not depend on Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

import asyncpg

from connectors.common.outbound import Backoff
from connectors.webchat.live import Hub
from connectors.webchat.notices import Typing, parse
from connectors.webchat.sessions import SessionStore
from streams.shared.errors import RetriableInfrastructureError

log = logging.getLogger(__name__)
HEARTBEAT_S: Final = 30.0
ANSWER_WITHIN_S: Final = 10.0
"""How long the heartbeat waits for the database's answer before the connection is lost."""
BACKOFF: Final = Backoff(first_s=0.5, factor=2.0, max_s=30.0)
"""`max_attempts` does not apply: the listener tries again until stopped."""
_CONNECTION_ERRORS: Final = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    RetriableInfrastructureError,
)


class ListenerLost(RetriableInfrastructureError):
    """The listening connection closed or stopped answering: notices are missed until the
    listener connects again."""


class NoticeListener:
    """One LISTENing connection per process, feeding the `Hub` (steps in the module's
    docstring). `connect` opens an asyncpg connection (not from a pool)."""

    def __init__(
        self,
        store: SessionStore,
        hub: Hub,
        connect: Callable[[], Awaitable[Any]],
        *,
        backoff: Backoff = BACKOFF,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._store = store
        self._hub = hub
        self._connect = connect
        self._backoff = backoff
        self._heartbeat_s = heartbeat_s
        self._failures = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.listening = asyncio.Event()
        """Set while LISTEN is in place (step 1 done), cleared when the connection is lost."""
        self.pid: int | None = None
        """The listening connection's server process id (what an operator sees in
        pg_stat_activity), while there is one."""

    async def run(self, stop: asyncio.Event) -> None:
        """Steps 1-5 of the module's docstring, until `stop` is set."""
        try:
            while not stop.is_set():
                try:
                    await self._listen(stop)
                except ListenerLost as lost:
                    self._failures += 1
                    delay = self._backoff.delay(self._failures, None)
                    log.warning(
                        "web chat: not listening for messages recorded by other replicas"
                        " (live push across replicas paused; widgets get everything when"
                        " they resume); trying again",
                        extra={"reason": str(lost), "retry_in_s": delay},
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _listen(self, stop: asyncio.Event) -> None:
        """One connection's life: steps 1-4; returns on stop, raises `ListenerLost`."""
        try:
            conn = await self._connect()
        except _CONNECTION_ERRORS as exc:
            raise ListenerLost(f"cannot connect: {exc}") from exc
        lost = asyncio.Event()

        def closed(_conn: Any) -> None:
            lost.set()

        conn.add_termination_listener(closed)
        try:
            await conn.add_listener(self._store.channel, self._heard)
            self.pid = conn.get_server_pid()
            self._failures = 0
            self.listening.set()
            log.info(
                "web chat: listening for messages recorded by every replica",
                extra={"channel": self._store.channel, "pid": self.pid},
            )
            self._spawn(self._catch_up_held())
            await self._watch(conn, stop, lost)
        except ListenerLost:
            raise
        except _CONNECTION_ERRORS as exc:
            raise ListenerLost(f"the listening connection failed: {exc!r}") from exc
        finally:
            self.listening.clear()
            self.pid = None
            conn.remove_termination_listener(closed)
            await _close(conn)

    async def _watch(self, conn: Any, stop: asyncio.Event, lost: asyncio.Event) -> None:
        """Step 4 until stop (returns) or the connection is lost (raises)."""
        while True:
            await _first_of(stop, lost, timeout_s=self._heartbeat_s)
            if stop.is_set():
                return
            if lost.is_set():
                raise ListenerLost("the listening connection closed")
            await asyncio.wait_for(conn.execute("SELECT 1"), ANSWER_WITHIN_S)

    def _heard(self, _conn: Any, _pid: int, _channel: str, text: str) -> None:
        notice = parse(text)
        if notice is None or not self._hub.holds(notice.session_id):
            return  # not ours, or no socket of that session here
        if isinstance(notice, Typing):
            self._spawn(self._show_typing(notice))
        else:
            self._spawn(self._catch_up(notice.session_id, notice.seq))

    async def _catch_up_held(self) -> None:
        """Step 2."""
        held = self._hub.sessions()
        if not held:
            return
        try:
            latest = await self._store.latest_seqs(held)
        except Exception:
            log.warning("web chat: could not read the sessions' latest numbers", exc_info=True)
            return
        for session_id, seq in latest.items():
            self._spawn(self._catch_up(session_id, seq))

    async def _catch_up(self, session_id: str, seq: int) -> None:
        try:
            await self._hub.catch_up(session_id, seq)
        except Exception:  # the widget gets it when it resumes
            log.warning(
                "web chat: could not catch a session's sockets up",
                exc_info=True,
                extra={"session_id": session_id, "seq": seq},
            )

    async def _show_typing(self, notice: Typing) -> None:
        try:
            await self._hub.show_typing(notice.session_id, notice.active)
        except Exception:  # ephemeral: the next typing frame, or the reply, follows
            log.warning(
                "web chat: could not show the office typing",
                exc_info=True,
                extra={"session_id": notice.session_id},
            )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _first_of(a: asyncio.Event, b: asyncio.Event, *, timeout_s: float) -> None:
    """Return when `a` or `b` is set, or after `timeout_s`."""
    waits = [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def _close(conn: Any) -> None:
    if conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.close(), ANSWER_WITHIN_S)
    except Exception:  # closing a broken connection: drop it
        conn.terminate()
