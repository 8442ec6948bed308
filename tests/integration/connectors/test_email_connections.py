"""The SMTP listener under a flood of connections, against the real broker and database:
above the per-address or the total limit a connection is answered 421 at once and closed
(no greeting, no session), and every way a session ends (QUIT, the client gone in the
middle of DATA, the idle timeout) gives its place back, so the listener serves again.

Clients are raw asyncio streams, so that sessions can be held open and dropped at will;
the loopback's other addresses (127.0.0.2, ...) stand for other sending servers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connectors.email.mapping import received_event_id
from connectors.email.smtp_in import (
    IDLE_TIMEOUT_S,
    TOO_MANY,
    TOO_MANY_FROM_CLIENT,
    MailHandler,
    listen,
    listening_port,
)
from streams.shared.contract import Contract
from streams.shared.settings import Settings
from tests.integration.connectors.email_rig import (
    CITIZEN,
    OFFICE,
    WAIT_S,
    Rig,
    open_rig,
    send,
)
from tests.unit.connectors.email.helpers import simple_mail

pytestmark = pytest.mark.timeout(120)
MAIL = simple_mail(b"Bom dia, segue o documento.\r\n").replace(
    b"<simple-1@example.com>", b"<flood-1@example.com.br>"
)


@pytest.fixture
async def rig(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> AsyncIterator[Rig]:
    async with open_rig(settings, contract, topic, pg_schema, tmp_path / "media") as opened:
        yield opened


@asynccontextmanager
async def listener(
    rig: Rig, *, total: int = 100, per_client: int = 10, idle_timeout_s: float = IDLE_TIMEOUT_S
) -> AsyncIterator[int]:
    """The rig's listener again, on a free port, with these connection limits."""
    config = dataclasses.replace(
        rig.config, smtp_max_connections=total, smtp_max_connections_per_client=per_client
    )
    server = await listen(config, MailHandler(config, rig.intake), idle_timeout_s=idle_timeout_s)
    try:
        yield listening_port(server)
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class Client:
    """One TCP connection to the listener, as a sending server would open it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def line(self) -> str:
        """The next reply line ("" once the listener has closed the connection)."""
        async with asyncio.timeout(WAIT_S):
            return (await self.reader.readline()).decode("ascii", "replace").rstrip("\r\n")

    async def say(self, command: str) -> str:
        """The last line of the reply to `command` (a multiline reply's lines are "250-...")."""
        self.writer.write(command.encode() + b"\r\n")
        await self.writer.drain()
        reply = await self.line()
        while reply[3:4] == "-":
            reply = await self.line()
        return reply

    async def is_closed_by_listener(self) -> bool:
        """Whether the listener closed the connection with nothing more to say."""
        async with asyncio.timeout(WAIT_S):
            return await self.reader.read() == b""

    async def drop(self) -> None:
        """Gone without QUIT, as a crashed or impatient client goes."""
        self.writer.close()
        await self.writer.wait_closed()


@dataclass
class Clients:
    port: int
    opened: list[Client] = field(default_factory=list)

    async def connect(self, source: str = "127.0.0.1") -> Client:
        """A connection from the loopback address `source`."""
        async with asyncio.timeout(WAIT_S):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(source, 0)
            )
        client = Client(reader, writer)
        self.opened.append(client)
        return client

    async def session(self, source: str = "127.0.0.1") -> Client:
        """A connection that was greeted: an SMTP session holding a place."""
        client = await self.connect(source)
        greeting = await client.line()
        assert greeting.startswith("220 "), f"not greeted: {greeting!r}"
        return client

    async def first_line(self, source: str = "127.0.0.1") -> str:
        return await (await self.connect(source)).line()

    async def greeted_once_a_place_is_free(self, source: str = "127.0.0.1") -> Client:
        """A new session, connecting again while the answer is 421: the listener sees the
        end of a dropped session when its loop gets to it, not when the client leaves."""
        async with asyncio.timeout(WAIT_S):
            while True:
                client = await self.connect(source)
                first = await client.line()
                if first.startswith("220 "):
                    return client
                assert first.startswith("421 "), f"unexpected answer: {first!r}"
                assert await client.is_closed_by_listener()

    async def close_all(self) -> None:
        for client in self.opened:
            client.writer.close()
        for client in self.opened:
            with suppress(ConnectionError):  # the listener may have reset it first
                await client.writer.wait_closed()


@asynccontextmanager
async def clients_of(port: int) -> AsyncIterator[Clients]:
    clients = Clients(port)
    try:
        yield clients
    finally:
        await clients.close_all()


async def test_a_flood_from_one_address_is_answered_421_beyond_its_limit_and_others_get_in(
    rig: Rig,
) -> None:
    async with listener(rig, per_client=2) as port, clients_of(port) as clients:
        first = await clients.session()
        await clients.session()

        flood = await asyncio.gather(*(clients.connect() for _ in range(20)))
        answers = await asyncio.gather(*(c.line() for c in flood))
        closed = await asyncio.gather(*(c.is_closed_by_listener() for c in flood))
        other_server = await clients.first_line("127.0.0.2")

        assert answers == [TOO_MANY_FROM_CLIENT] * 20
        assert all(closed)
        assert other_server.startswith("220 ")
        assert await first.say("QUIT") == "221 Bye"
        assert await first.is_closed_by_listener()
        answer = await send(port, MAIL)
        assert answer == (
            250,
            f"2.0.0 OK: accepted as {received_event_id('flood-1@example.com.br')}",
        )
        (record,) = await rig.of("MessageReceived")
        assert (record["contact_address"], record["channel_account_id"]) == (
            "cidada@example.com",
            OFFICE,
        )


async def test_connections_above_the_total_are_answered_421_whatever_their_address(
    rig: Rig,
) -> None:
    async with listener(rig, total=2) as port, clients_of(port) as clients:
        await clients.session("127.0.0.1")
        second = await clients.session("127.0.0.2")

        from_a_third = await clients.connect("127.0.0.3")
        from_the_first_again = await clients.connect("127.0.0.1")

        assert await from_a_third.line() == TOO_MANY
        assert await from_a_third.is_closed_by_listener()
        assert await from_the_first_again.line() == TOO_MANY
        assert await second.say("QUIT") == "221 Bye"
        assert await second.is_closed_by_listener()
        assert (await clients.first_line("127.0.0.3")).startswith("220 ")


async def test_a_session_dropped_in_the_middle_of_data_gives_its_place_back(rig: Rig) -> None:
    async with listener(rig, total=1) as port, clients_of(port) as clients:
        sender = await clients.session()
        assert (await sender.say("EHLO mx.example.com.br")).startswith("250 ")
        assert (await sender.say(f"MAIL FROM:<{CITIZEN}>")).startswith("250")
        assert (await sender.say(f"RCPT TO:<{OFFICE}>")).startswith("250")
        assert (await sender.say("DATA")).startswith("354")
        sender.writer.write(b"Subject: half a mail\r\n\r\n" + b"x" * 900 + b"\r\n")
        await sender.writer.drain()
        assert await clients.first_line("127.0.0.2") == TOO_MANY

        await sender.drop()
        again = await clients.greeted_once_a_place_is_free("127.0.0.2")

        assert (await again.say("EHLO mx.example.com.br")).startswith("250")
        assert await rig.of("MessageReceived") == []


async def test_a_session_quiet_past_the_idle_timeout_gives_its_place_back(rig: Rig) -> None:
    async with listener(rig, per_client=1, idle_timeout_s=0.5) as port, clients_of(port) as clients:
        quiet = await clients.session()

        assert await quiet.is_closed_by_listener()

        assert (await clients.first_line()).startswith("220 ")
