"""The SMTP listener's connection places (`Sessions`) and the client address they are
counted by, without the network (the listener itself: tests/integration/connectors/
test_email_connections.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from connectors.email.config import EmailSettings
from connectors.email.smtp_in import (
    TOO_MANY_FROM_CLIENT,
    Gate,
    Sessions,
    client_address,
    listen,
    listening_port,
)


def email_settings(**extra: str) -> EmailSettings:
    """The email connector's settings for a listener on loopback (no mail goes anywhere)."""
    env = {
        "ACOLHE_EMAIL_MAILBOXES": "atendimento@defensoria.sp.def.br",
        "ACOLHE_EMAIL_RELAY_HOST": "smtp.defensoria.sp.def.br",
        "ACOLHE_EMAIL_SMTP_PORT": "0",  # a free one
    }
    return EmailSettings.from_env(env | extra, state_dir=Path("/tmp/state"))


@contextlib.asynccontextmanager
async def loopback(config: EmailSettings, handler: Any = None) -> AsyncIterator[int]:
    """The listener (`smtp_in.listen`) on a free loopback port, for these tests' sessions;
    `handler` None: one no test sends mail through."""
    server = await listen(config, handler)
    try:
        yield listening_port(server)
    finally:
        server.close()
        await server.wait_closed()


class Connection(asyncio.Transport):
    """A transport that records what the listener does with it."""

    def __init__(self, peer: str) -> None:
        super().__init__()
        self.peer = peer
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.peer, 40123) if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True


def test_given_two_places_per_client_a_third_session_from_one_address_is_refused() -> None:
    sessions = Sessions(max_total=100, max_per_client=2)

    taken = [sessions.take("198.51.100.7") for _ in range(3)]

    assert taken == [None, None, "per_client"]
    assert sessions.take("203.0.113.9") is None
    assert (sessions.open, sessions.refused) == (3, 1)


def test_given_the_total_taken_any_address_is_refused_until_a_place_is_given_back() -> None:
    sessions = Sessions(max_total=2, max_per_client=10)
    sessions.take("198.51.100.7")
    sessions.take("203.0.113.9")

    assert sessions.take("192.0.2.1") == "total"
    sessions.give_back("203.0.113.9")
    assert sessions.take("192.0.2.1") is None


def test_a_client_whose_sessions_all_ended_gets_its_places_back() -> None:
    sessions = Sessions(max_total=100, max_per_client=1)
    sessions.take("198.51.100.7")
    sessions.give_back("198.51.100.7")

    assert sessions.take("198.51.100.7") is None
    assert sessions.open == 1


@pytest.mark.parametrize(
    ("peername", "client"),
    [
        (("198.51.100.7", 40123), "198.51.100.7"),
        (("2001:db8::1", 40123, 0, 0), "2001:db8::1"),
        (("::ffff:198.51.100.7", 40123, 0, 0), "198.51.100.7"),
        (None, ""),
        ("", ""),
    ],
)
def test_a_client_is_its_ip_address_whatever_the_socket_family(
    peername: object, client: str
) -> None:
    assert client_address(peername) == client


def test_a_connection_above_the_limit_gets_the_421_line_and_no_smtp_session_is_built() -> None:
    sessions = Sessions(max_total=100, max_per_client=1)
    sessions.take("198.51.100.7")
    built: list[str] = []

    def build(client: str) -> SMTP:
        built.append(client)
        raise AssertionError("no session may be built for a refused connection")

    connection = Connection("198.51.100.7")
    Gate(sessions, build).connection_made(connection)

    assert connection.written == TOO_MANY_FROM_CLIENT.encode() + b"\r\n"
    assert connection.closed
    assert built == []
    assert sessions.open == 1


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_421_line_reaches_the_client_on_either_event_loop(loop: str) -> None:
    """`acolhe run email` serves on uvloop, whose transports are not asyncio's classes: the
    refusal must be written and the connection closed there too (loopback, no Kafka)."""
    import uvloop

    config = email_settings(ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT="1")

    async def two_connections() -> tuple[bytes, bytes, bytes]:
        async with loopback(config) as port, asyncio.timeout(10):
            first_r, first_w = await asyncio.open_connection("127.0.0.1", port)
            greeting = await first_r.readline()
            second_r, second_w = await asyncio.open_connection("127.0.0.1", port)
            refused = await second_r.readline()
            after = await second_r.read()
            first_w.close()
            second_w.close()
        return greeting, refused, after

    run = uvloop.run if loop == "uvloop" else asyncio.run
    greeting, refused, after = run(two_connections())

    assert greeting.startswith(b"220 ")
    assert refused == TOO_MANY_FROM_CLIENT.encode() + b"\r\n"
    assert after == b""  # closed by the listener


def test_a_session_writes_no_address_to_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """aiosmtpd logs each command line at INFO; the listener keeps the citizen's address and
    the client's out of acolhe's logs (LGPD)."""
    config = email_settings()

    async def session() -> list[bytes]:
        replies = []
        async with loopback(config) as port, asyncio.timeout(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await reader.readline()
            for command in (b"HELO relay.example.com", b"MAIL FROM:<maria.silva@example.com>"):
                writer.write(command + b"\r\n")
                replies.append(await reader.readline())
            writer.write(b"QUIT\r\n")
            replies.append(await reader.readline())
            writer.close()
        return replies

    with caplog.at_level(logging.DEBUG):
        caplog.set_level(logging.DEBUG, logger="mail.log")  # what a root at INFO would pass
        logging.getLogger("mail.log").setLevel(logging.NOTSET)
        replies = asyncio.run(session())

    assert [r[:3] for r in replies] == [b"250", b"250", b"221"]
    assert "maria.silva" not in caplog.text
    assert "127.0.0.1" not in caplog.text


def test_an_internal_error_is_answered_421_and_the_connection_closed() -> None:
    """A command that fails unexpectedly gets 421 4.3.0 with no detail, and then, as RFC
    5321 says a 421 does, the connection ends (aiosmtpd alone kept it open)."""
    from connectors.email.smtp_in import INTERNAL_ERROR, MailHandler

    config = email_settings()

    class Failing(MailHandler):
        async def handle_RCPT(self, *args: Any) -> str:
            raise RuntimeError("a bug, with internal detail")

    async def session() -> tuple[bytes, bytes]:
        async with loopback(config, Failing(config, object())) as port, asyncio.timeout(10):  # type: ignore[arg-type]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await reader.readline()
            for command in (b"HELO relay.example.com", b"MAIL FROM:<a@example.com>"):
                writer.write(command + b"\r\n")
                await reader.readline()
            writer.write(b"RCPT TO:<atendimento@defensoria.sp.def.br>\r\n")
            answer = await reader.readline()
            after = await reader.read()
            writer.close()
        return answer, after

    answer, after = asyncio.run(session())
    assert answer == INTERNAL_ERROR.encode() + b"\r\n"
    assert after == b""  # closed by the listener
