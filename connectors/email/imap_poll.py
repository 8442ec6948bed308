"""IMAP polling, for offices whose citizens' mail lands in a hosted mailbox: each new mail
goes the SMTP listener's way (`MailIntake.take`), and is marked \\Seen only once durable.

Where the poller is in the folder is kept in Postgres (`imap_positions`, in the email
connector's schema): the folder's UIDVALIDITY and the last UID handled. Steps of a poll:
1. connect, log in, SELECT the folder (read-write), read UIDVALIDITY and UIDNEXT;
2. the candidates: with a position of this UIDVALIDITY, every UID after the last one
   handled (`UID SEARCH UID n:*`, so a mail someone opened in webmail first is not missed);
   without one (first poll, or the server renumbered the folder: a new UIDVALIDITY), the
   UNSEEN mail only, so the folder's history is not imported again;
3. for each candidate in UID order (at most `batch` a poll): its size (`RFC822.SIZE`; a
   mail above the limit is dead-lettered by size, never downloaded), its bytes
   (`UID FETCH BODY.PEEK[]`, which leaves \\Seen alone), `MailIntake.take`, then
   `UID STORE +FLAGS (\\Seen)`, then the position saved;
4. a mail that cannot be made durable now (`Unavailable`) ends the poll where it is: it
   stays unseen and its UID is not passed, so the next poll takes it again;
5. a first poll saves its position (the folder's UIDNEXT - 1) only once every unseen mail
   was handled: cut short, the next poll starts over from UNSEEN, which no longer holds
   the mails already handled.
A crash between steps 3's take and STORE takes the mail again on restart: the same bytes
give the same event id, dropped downstream (at-least-once, no loss).

imaplib is blocking: each session runs in a worker thread (`asyncio.to_thread`), the
intake on the event loop between IMAP commands. Must not depend on aiosmtpd.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from connectors.email.config import ImapSettings
from connectors.email.intake import QUARANTINED, MailIntake, MailSource, Unavailable

log = logging.getLogger(__name__)
SCHEMA: Final = "acolhe_email"
DDL: Final = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.imap_positions (
    account      text NOT NULL,
    folder       text NOT NULL,
    uidvalidity  bigint NOT NULL,
    last_uid     bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, folder)
);
"""
_SIZE: Final = re.compile(rb"RFC822\.SIZE (\d+)")
T = TypeVar("T")


class ImapError(Exception):
    """The IMAP server said NO or BAD, or the session broke."""


@dataclass(frozen=True)
class Position:
    uidvalidity: int
    last_uid: int


class Positions:
    """The poller's place in each folder, over an asyncpg pool."""

    def __init__(self, pool: Any, *, schema: str = SCHEMA) -> None:
        self._pool = pool
        self.schema = schema

    async def create_tables(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.schema)
            await conn.execute(DDL.format(schema=self.schema))

    async def get(self, account: str, folder: str) -> Position | None:
        row = await self._pool.fetchrow(
            f"SELECT uidvalidity, last_uid FROM {self.schema}.imap_positions"
            " WHERE account = $1 AND folder = $2",
            account,
            folder,
        )
        return Position(row["uidvalidity"], row["last_uid"]) if row else None

    async def save(self, account: str, folder: str, position: Position) -> None:
        await self._pool.execute(
            f"INSERT INTO {self.schema}.imap_positions (account, folder, uidvalidity, last_uid)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (account, folder) DO UPDATE"
            " SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,"
            " updated_at = now()",
            account,
            folder,
            position.uidvalidity,
            position.last_uid,
        )


@dataclass
class PollReport:
    """What one poll did: UIDs taken (accepted, set aside or refused), and whether it
    stopped early on an unavailable dependency."""

    taken: list[int]
    stopped_early: bool = False


class ImapPoller:
    def __init__(
        self,
        config: ImapSettings,
        intake: MailIntake,
        positions: Positions,
        *,
        max_message_bytes: int,
    ) -> None:
        self._config = config
        self._intake = intake
        self._positions = positions
        self._max_bytes = max_message_bytes
        self.account = f"{config.username}@{config.host}:{config.port}"

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every `poll_interval_s` until `stop`; a failed poll is logged and retried."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception as exc:
                log.warning("IMAP poll failed; retrying", extra={"error": repr(exc)[:300]})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._config.poll_interval_s)

    async def poll_once(self) -> PollReport:
        """Steps 1-5 of the module docstring."""
        session = _Session(self._config)
        try:
            await _in_thread(session.open)
            return await self._poll(session)
        finally:
            await _in_thread(session.close)

    async def _poll(self, session: _Session) -> PollReport:
        folder = self._config.folder
        held = await self._positions.get(self.account, folder)
        resumes = held is not None and held.uidvalidity == session.uidvalidity
        if resumes and held is not None:
            after = held.last_uid
            found = await _in_thread(session.search, "UID", f"{after + 1}:*")
            uids = [u for u in found if u > after]
        else:
            after = 0
            uids = await _in_thread(session.search, "UNSEEN")
        uids = sorted(set(uids))
        report = PollReport(taken=[])
        for uid in uids[: self._config.batch]:
            try:
                await self._take(session, uid)
            except Unavailable as exc:
                log.warning(
                    "IMAP mail not accepted; the next poll takes it again",
                    extra={"uid": uid, "reason": str(exc)},
                )
                report.stopped_early = True
                return report
            await _in_thread(session.mark_seen, uid)
            report.taken.append(uid)
            if resumes:
                await self._positions.save(self.account, folder, Position(session.uidvalidity, uid))
        if not resumes and len(uids) <= self._config.batch:
            floor = max([session.uidnext - 1, *report.taken, after])
            await self._positions.save(self.account, folder, Position(session.uidvalidity, floor))
        return report

    async def _take(self, session: _Session, uid: int) -> None:
        size = await _in_thread(session.size, uid)
        source: MailSource = "imap"
        if size > self._max_bytes:
            why = (
                f"too_large: mail of {size} bytes is above the {self._max_bytes} limit; "
                f"left in {self._config.folder} (UID {uid}), not downloaded"
            )
            note = f"{self.account} {self._config.folder} {session.uidvalidity}/{uid} {size}"
            await self._intake.set_aside(note.encode(), source, QUARANTINED, why)
            return
        raw = await _in_thread(session.fetch, uid)
        await self._intake.take(raw, mailbox=self._config.mailbox, source=source)


class _Session:
    """One IMAP session (blocking imaplib), driven from a worker thread at a time."""

    def __init__(self, config: ImapSettings) -> None:
        self._config = config
        self._client: imaplib.IMAP4 | None = None
        self._lock = threading.Lock()
        self.uidvalidity = 0
        self.uidnext = 1

    def open(self) -> None:
        c = self._config
        try:
            if c.use_ssl:
                client: imaplib.IMAP4 = imaplib.IMAP4_SSL(c.host, c.port, timeout=c.timeout_s)
            else:
                client = imaplib.IMAP4(c.host, c.port, timeout=c.timeout_s)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(f"cannot reach the IMAP server: {type(exc).__name__}") from exc
        self._client = client
        try:
            client.login(c.username, c.password.reveal())
            typ, _ = client.select(f'"{c.folder}"')
            if typ != "OK":
                raise ImapError(f"cannot select the folder {c.folder!r}")
            self.uidvalidity = _number(client.response("UIDVALIDITY")[1], "UIDVALIDITY")
            nexts = client.response("UIDNEXT")[1]
            self.uidnext = _number(nexts, "UIDNEXT") if nexts and nexts[0] else 1
        except imaplib.IMAP4.error as exc:
            raise ImapError(f"the IMAP server refused: {exc}") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except (OSError, imaplib.IMAP4.error):
            log.debug("IMAP logout failed", exc_info=True)

    def search(self, *criteria: str) -> list[int]:
        data = self._command("SEARCH", *criteria)
        return [int(t) for chunk in data if isinstance(chunk, bytes) for t in chunk.split()]

    def size(self, uid: int) -> int:
        for chunk in self._command("FETCH", str(uid), "(RFC822.SIZE)"):
            found = _SIZE.search(chunk if isinstance(chunk, bytes) else b"")
            if found:
                return int(found.group(1))
        raise ImapError(f"no RFC822.SIZE for UID {uid}")

    def fetch(self, uid: int) -> bytes:
        for chunk in self._command("FETCH", str(uid), "(BODY.PEEK[])"):
            if isinstance(chunk, tuple) and len(chunk) == 2 and isinstance(chunk[1], bytes):
                return chunk[1]
        raise ImapError(f"no body for UID {uid}")

    def mark_seen(self, uid: int) -> None:
        self._command("STORE", str(uid), "+FLAGS", "(\\Seen)")

    def _command(self, command: str, *args: str) -> list[Any]:
        if self._client is None:
            raise ImapError("the IMAP session is closed")
        with self._lock:
            try:
                typ, data = self._client.uid(command, *args)
            except (OSError, imaplib.IMAP4.error) as exc:
                raise ImapError(f"UID {command} failed: {type(exc).__name__}: {exc}") from exc
        if typ != "OK":
            raise ImapError(f"UID {command} answered {typ}")
        return list(data)


def _number(data: list[Any] | None, what: str) -> int:
    if not data or not isinstance(data[0], bytes) or not data[0].strip().isdigit():
        raise ImapError(f"the IMAP server sent no usable {what}")
    return int(data[0])


async def _in_thread(call: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(call, *args)
