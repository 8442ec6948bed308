"""A minimal IMAP4rev1 server (RFC 3501) on asyncio, standing in for an office's hosted
mailbox in tests: one user, one folder, messages held in memory.

It implements what the email connector's poller uses, as RFC 3501 specifies it:
CAPABILITY, NOOP, LOGIN, SELECT (with the required FLAGS, EXISTS, RECENT, UIDVALIDITY,
UIDNEXT and PERMANENTFLAGS responses), UID SEARCH (ALL, UNSEEN, SEEN, UID <set> and their
conjunction), UID FETCH (UID, FLAGS, RFC822.SIZE, BODY.PEEK[] and BODY[], the latter
setting \\Seen), UID STORE (+FLAGS, -FLAGS, FLAGS, with .SILENT), LOGOUT. Anything else is
answered BAD; a command in the wrong state is answered BAD or NO as the RFC says.

Test controls: `put(raw)` appends a mail (next UID), `renumber()` gives the folder a new
UIDVALIDITY and new UIDs (as a server does when a folder is rebuilt), `flags(uid)`,
`commands` (every command line received, for assertions on what the client did).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

USER = "atendimento"
PASSWORD = "senha-do-imap"
FOLDER = "INBOX"
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|\(([^()]*)\)|(\S+)')


@dataclass
class StoredMail:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class Mailbox:
    uidvalidity: int = 1_700_000_000
    uidnext: int = 1
    mails: list[StoredMail] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    fail_fetch: set[int] = field(default_factory=set)

    def put(self, raw: bytes, *, seen: bool = False) -> int:
        uid = self.uidnext
        self.uidnext += 1
        self.mails.append(StoredMail(uid, raw, {"\\Seen"} if seen else set()))
        return uid

    def renumber(self) -> None:
        self.uidvalidity += 1
        for mail in self.mails:
            mail.uid = self.uidnext
            self.uidnext += 1

    def flags(self, uid: int) -> set[str]:
        return next(m.flags for m in self.mails if m.uid == uid)

    def by_uid(self, uids: set[int]) -> list[tuple[int, StoredMail]]:
        return [(seq, m) for seq, m in enumerate(self.mails, 1) if m.uid in uids]


def parse_set(text: str, largest: int) -> set[int]:
    """An RFC 3501 sequence set of UIDs (`1,3:5,7:*`); `*` is the largest UID in use, and
    `a:b` means the same as `b:a`."""
    found: set[int] = set()
    for part in text.split(","):
        low, colon, high = part.partition(":")
        a = largest if low == "*" else int(low)
        b = (largest if high == "*" else int(high)) if colon else a
        found.update(range(min(a, b), max(a, b) + 1))
    return found


class _Connection:
    def __init__(
        self, box: Mailbox, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.box = box
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.selected = False

    def send(self, line: bytes) -> None:
        self.writer.write(line + b"\r\n")

    async def serve(self) -> None:
        self.send(b"* OK [CAPABILITY IMAP4rev1] stand-in IMAP server ready")
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    return
                self.box.commands.append(line.decode("ascii", "replace").rstrip("\r\n"))
                if not await self.handle(line.rstrip(b"\r\n")):
                    return
                await self.writer.drain()
        finally:
            self.writer.close()

    async def handle(self, line: bytes) -> bool:
        tag, _, rest = line.partition(b" ")
        command, _, args = rest.partition(b" ")
        name = command.decode("ascii", "replace").upper()
        t = tag
        if name == "CAPABILITY":
            self.send(b"* CAPABILITY IMAP4rev1")
            self.send(t + b" OK CAPABILITY completed")
        elif name == "NOOP":
            self.send(t + b" OK NOOP completed")
        elif name == "LOGOUT":
            self.send(b"* BYE stand-in logging out")
            self.send(t + b" OK LOGOUT completed")
            await self.writer.drain()
            return False
        elif name == "LOGIN":
            words = _words(args)
            if len(words) == 2 and words == [USER.encode(), PASSWORD.encode()]:
                self.authenticated = True
                self.send(t + b" OK LOGIN completed")
            else:
                self.send(t + b" NO [AUTHENTICATIONFAILED] invalid credentials")
        elif not self.authenticated:
            self.send(t + b" BAD command not valid in this state")
        elif name in ("SELECT", "EXAMINE"):
            self.select(t, args)
        elif name == "UID" and self.selected:
            self.uid(t, args)
        else:
            self.send(t + b" BAD unknown command or wrong state")
        return True

    def select(self, t: bytes, args: bytes) -> None:
        words = _words(args)
        if len(words) != 1 or words[0].upper() != FOLDER.encode():
            self.selected = False
            self.send(t + b" NO no such mailbox")
            return
        box = self.box
        self.selected = True
        unseen = [seq for seq, m in enumerate(box.mails, 1) if "\\Seen" not in m.flags]
        self.send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        self.send(b"* %d EXISTS" % len(box.mails))
        self.send(b"* 0 RECENT")
        if unseen:
            self.send(b"* OK [UNSEEN %d] first unseen" % unseen[0])
        self.send(b"* OK [UIDVALIDITY %d] UIDs valid" % box.uidvalidity)
        self.send(b"* OK [UIDNEXT %d] predicted next UID" % box.uidnext)
        self.send(b"* OK [PERMANENTFLAGS (\\Seen \\Flagged \\Deleted)] limited")
        self.send(t + b" OK [READ-WRITE] SELECT completed")

    def uid(self, t: bytes, args: bytes) -> None:
        sub, _, rest = args.partition(b" ")
        name = sub.decode("ascii", "replace").upper()
        largest = max((m.uid for m in self.box.mails), default=0)
        try:
            if name == "SEARCH":
                self.search(rest, largest)
            elif name == "FETCH":
                uid_set, _, items = rest.partition(b" ")
                self.fetch(parse_set(uid_set.decode(), largest), items.upper())
            elif name == "STORE":
                uid_set, _, change = rest.partition(b" ")
                self.store(parse_set(uid_set.decode(), largest), change)
            else:
                self.send(t + b" BAD unknown UID command")
                return
        except (ValueError, KeyError) as exc:
            self.send(t + b" BAD " + str(exc).encode("ascii", "replace")[:100])
            return
        self.send(t + b" OK UID " + name.encode() + b" completed")

    def search(self, criteria: bytes, largest: int) -> None:
        words = criteria.decode("ascii").split()
        chosen = {m.uid for m in self.box.mails}
        i = 0
        while i < len(words):
            word = words[i].upper()
            if word == "ALL":
                pass
            elif word == "UNSEEN":
                chosen &= {m.uid for m in self.box.mails if "\\Seen" not in m.flags}
            elif word == "SEEN":
                chosen &= {m.uid for m in self.box.mails if "\\Seen" in m.flags}
            elif word == "UID" and i + 1 < len(words):
                i += 1
                chosen &= parse_set(words[i], largest)
            else:
                raise ValueError(f"search key {word} not supported")
            i += 1
        self.send(b"* SEARCH" + b"".join(b" %d" % u for u in sorted(chosen)))

    def fetch(self, uids: set[int], items: bytes) -> None:
        wanted = items.strip(b"()").split()
        for seq, mail in self.box.by_uid(uids):
            if mail.uid in self.box.fail_fetch:
                raise ValueError("fetch failed")
            parts = [b"UID %d" % mail.uid]
            literal: bytes | None = None
            for item in wanted:
                if item == b"RFC822.SIZE":
                    parts.append(b"RFC822.SIZE %d" % len(mail.raw))
                elif item == b"FLAGS":
                    parts.append(b"FLAGS (" + " ".join(sorted(mail.flags)).encode() + b")")
                elif item in (b"BODY.PEEK[]", b"BODY[]"):
                    if item == b"BODY[]":
                        mail.flags.add("\\Seen")
                    literal = mail.raw
                elif item != b"UID":
                    raise ValueError(f"fetch item {item!r} not supported")
            head = b"* %d FETCH (" % seq + b" ".join(parts)
            if literal is None:
                self.send(head + b")")
            else:
                self.writer.write(head + b" BODY[] {%d}\r\n" % len(literal) + literal)
                self.send(b")")

    def store(self, uids: set[int], change: bytes) -> None:
        action, _, flags = change.partition(b" ")
        names = {f.decode() for f in flags.strip(b"()").split()}
        mode = action.upper()
        silent = mode.endswith(b".SILENT")
        mode = mode.removesuffix(b".SILENT")
        for seq, mail in self.box.by_uid(uids):
            if mode == b"+FLAGS":
                mail.flags |= names
            elif mode == b"-FLAGS":
                mail.flags -= names
            elif mode == b"FLAGS":
                mail.flags = set(names)
            else:
                raise ValueError("unknown STORE action")
            if not silent:
                flags_text = " ".join(sorted(mail.flags)).encode()
                self.send(b"* %d FETCH (UID %d FLAGS (%s))" % (seq, mail.uid, flags_text))


def _words(args: bytes) -> list[bytes]:
    """Atoms and quoted strings (with their escapes undone), in order."""
    found: list[bytes] = []
    for quoted, _paren, atom in _TOKEN.findall(args):
        if atom:
            found.append(atom)
        else:
            found.append(re.sub(rb"\\(.)", rb"\1", quoted))
    return found


@asynccontextmanager
async def standin_imap(box: Mailbox | None = None) -> AsyncIterator[tuple[Mailbox, int]]:
    """The stand-in on a free local port: yields its mailbox and the port."""
    held = box or Mailbox()
    tasks: set[asyncio.Task[None]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        try:
            await _Connection(held, reader, writer).serve()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                tasks.discard(task)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    try:
        yield held, port
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await server.wait_closed()
