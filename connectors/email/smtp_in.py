"""The office's SMTP listener (aiosmtpd): citizens' mail in, answered only once it is
durable in Kafka.

What each SMTP command is answered, and why:
- EHLO advertises SIZE (the office's limit); MAIL FROM with a SIZE above it is refused
  552 before any data is sent (aiosmtpd), and DATA that runs past it is discarded as it
  arrives (memory stays bounded) and answered 552 at its end.
- RCPT TO: only the office's mailboxes (case-insensitive); any other address is 550 5.7.1:
  the listener is no open relay. More than `MAX_RECIPIENTS` recipients: 452 (RFC 5321
  4.5.3.1.8, the sender retries the rest later).
- DATA: the mail goes through `MailIntake.take` (parse under limits, dead-letter or
  publish), within `accept_timeout_s`:
  * accepted (MessageReceived durable): 250;
  * automated mail or an erased citizen's, recorded aside: 250 (a bounce must never be
    answered with a bounce);
  * quarantined (hostile or broken MIME): 550 5.6.0 with the reason (552 5.3.4 for size),
    after its dead-letter record is durable. A permanent refusal during the session, not
    a 250 and a quiet quarantine: the sender learns at once that the office did not get
    the mail (a citizen can send it another way), the sending server does not retry it (no
    loop on hostile mail), and the bounce comes from the sender's own server, never from
    ours (no backscatter to forged senders). The same mail sent again gets the same
    record id, so repeats are visible as such;
  * Kafka, Postgres or the disk unavailable, or the time limit passed: 451 4.3.0 (the
    sending server retries, and the retry repeats every id).
Lines above 1000 octets are refused 500 by aiosmtpd (RFC 5321 4.5.3.1.6).

Connections are bounded before a session starts (`Sessions`, one per listener): above
`smtp_max_connections_per_client` open sessions from one address, a connection is answered
`421 4.7.0 Too many connections from your address`, above `smtp_max_connections` in all
`421 4.3.2 Too many connections`, and closed; a sending server retries a 421 later, so
nothing is lost. Each open session may buffer one DATA body up to `max_message_bytes`, so
the listener holds at most `smtp_max_connections` x `max_message_bytes` octets of mail
(`BoundedSMTP.smtp_DATA` reads the body in chunks into one buffer, `smtp_data`: about
twice its size in memory at the end; aiosmtpd's own reader kept an object per line, about
75 times the size of a body of empty lines). The steps of a connection, in order:
1. `Gate.connection_made`: the client's address takes a place in `Sessions`, or the
   connection gets the 421 line and is closed at once. A refused connection never reaches
   aiosmtpd: no `SMTP` is built (no buffers, no greeting, no timer, no task, no log line
   per connection), and nothing is ever read from it;
2. with a place, the gate builds a `BoundedSMTP`, hands it the transport
   (`set_protocol`) and calls its `connection_made`: from then on the session is
   aiosmtpd's, unchanged;
3. `BoundedSMTP.connection_lost` (every end goes through it: QUIT, the client gone, the
   idle timeout, an error) gives the place back, once, then aiosmtpd tears the session
   down.

Must not depend on imaplib; holds no rule about what a mail means (that is `intake.py`'s
and the pure modules').
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Callable
from typing import Any, AnyStr, Final, Literal, cast

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session

from connectors.email.config import EmailSettings
from connectors.email.intake import Accepted, MailIntake, Refused, SetAside, Unavailable
from connectors.email.smtp_data import ClientGone, Refusal, read_data

log = logging.getLogger(__name__)
MAX_RECIPIENTS: Final = 100
IDLE_TIMEOUT_S: Final = 300.0  # RFC 5321 4.5.3.2.7: at least 5 minutes between commands
NOT_OURS: Final = (
    "550 5.7.1 Relaying denied: this server takes mail only for the office's mailboxes"
)
TRY_LATER: Final = "451 4.3.0 Temporarily unable to accept the message; try again later"
TOO_MANY_FROM_CLIENT: Final = "421 4.7.0 Too many connections from your address; try again later"
TOO_MANY: Final = "421 4.3.2 Too many connections; try again later"
AIOSMTPD_LOGGER: Final = "mail.log"
_UNPRINTABLE: Final = re.compile(r"[^\x20-\x7e]+")
Limit = Literal["per_client", "total"]
_ANSWERS: Final[dict[Limit, bytes]] = {
    "per_client": TOO_MANY_FROM_CLIENT.encode() + b"\r\n",
    "total": TOO_MANY.encode() + b"\r\n",
}
INTERNAL_ERROR: Final = "421 4.3.0 Internal error; try again later"
_INTERNAL_ERROR: Final = INTERNAL_ERROR.encode() + b"\r\n"


class MailHandler:
    """aiosmtpd's handler: the RCPT and DATA hooks of the module docstring."""

    def __init__(self, config: EmailSettings, intake: MailIntake) -> None:
        self._config = config
        self._intake = intake
        self.accepted = 0
        self.refused = 0

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self._config.is_office_mailbox(address):
            return NOT_OURS
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if not isinstance(raw, bytes):  # decode_data is off: aiosmtpd hands bytes
            return TRY_LATER
        mailbox = next(
            (a.lower() for a in envelope.rcpt_tos if self._config.is_office_mailbox(a)),
            self._config.mailboxes[0],
        )
        try:
            async with asyncio.timeout(self._config.accept_timeout_s):
                taken = await self._intake.take(
                    raw, mailbox=mailbox, source="smtp", is_bounce=envelope.mail_from == "<>"
                )
        except (Unavailable, TimeoutError) as exc:
            log.warning("mail not accepted; the sender will retry", extra={"reason": repr(exc)})
            return TRY_LATER
        except Exception:
            log.exception("mail not accepted: unexpected failure; the sender will retry")
            return TRY_LATER
        return self._answer(taken)

    def _answer(self, taken: Accepted | SetAside | Refused) -> str:
        if isinstance(taken, Accepted):
            self.accepted += 1
            return f"250 2.0.0 OK: accepted as {taken.event_id}"
        if isinstance(taken, SetAside):
            return f"250 2.0.0 OK: kept aside ({taken.error_type})"
        self.refused += 1
        text = _UNPRINTABLE.sub(" ", f"{taken.reason}: {taken.detail}")[:300]
        if taken.reason == "too_large":
            return f"552 5.3.4 Message refused: {text}"
        return f"550 5.6.0 Message refused: {text}"

    async def handle_exception(self, error: Exception) -> str:
        """An unexpected failure in a command: temporary, and no detail leaks out."""
        log.error("SMTP session failed", extra={"error": repr(error)[:300]})
        return INTERNAL_ERROR


class Sessions:
    """The SMTP sessions open on one listener, in all and by client address: the places
    `BoundedSMTP` takes and gives back. Shared by the listener's connections, which all run
    on its event loop (no lock). Holds an entry only per address with a session open."""

    def __init__(self, max_total: int, max_per_client: int) -> None:
        self.max_total = max_total
        self.max_per_client = max_per_client
        self.open = 0
        self.refused = 0
        self._by_client: dict[str, int] = {}
        self._refused_in_a_row = 0

    def take(self, client: str) -> Limit | None:
        """A place for a session from `client`, or the limit that refuses it (the client's
        own first, so that a flood from one host is told so)."""
        held = self._by_client.get(client, 0)
        if held >= self.max_per_client:
            return self._refuse("per_client", self.max_per_client)
        if self.open >= self.max_total:
            return self._refuse("total", self.max_total)
        if self._refused_in_a_row:
            log.info("SMTP connections taken again", extra={"refused": self._refused_in_a_row})
            self._refused_in_a_row = 0
        self.open += 1
        self._by_client[client] = held + 1
        return None

    def give_back(self, client: str) -> None:
        self.open -= 1
        left = self._by_client[client] - 1
        if left:
            self._by_client[client] = left
        else:
            del self._by_client[client]

    def _refuse(self, limit: Limit, maximum: int) -> Limit:
        self.refused += 1
        self._refused_in_a_row += 1
        # Once per run of refusals, not once per connection: a flood must not flood the log.
        # No address: the counts say what an operator needs.
        if self._refused_in_a_row == 1:
            log.warning(
                "SMTP connections refused 421: too many at once; senders retry later",
                extra={"limit": limit, "max": maximum, "open": self.open},
            )
        return limit


class Gate(asyncio.Protocol):
    """The first protocol of every connection: steps 1-2 of the module docstring."""

    def __init__(self, sessions: Sessions, build: Callable[[str], SMTP]) -> None:
        self._sessions = sessions
        self._build = build

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        client = client_address(transport.get_extra_info("peername"))
        limit = self._sessions.take(client)
        if limit is not None:
            answer_and_close(transport, _ANSWERS[limit])
            return
        try:
            session = self._build(client)
        except Exception:
            self._sessions.give_back(client)
            log.exception("SMTP session could not start")
            answer_and_close(transport, _INTERNAL_ERROR)
            return
        # Reading starts only after this callback returns, so the session sees every byte.
        transport.set_protocol(session)
        session.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        """Only a refused connection ends here: it held no place."""


def answer_and_close(transport: asyncio.BaseTransport, line: bytes) -> None:
    """One reply line, then the connection closed: the line is sent before the close, and
    reading never starts on a transport closed in `connection_made`."""
    # uvloop's transports are not asyncio.WriteTransport subclasses: no isinstance check.
    writable = cast(asyncio.WriteTransport, transport)
    writable.write(line)
    transport.close()


class BoundedSMTP(SMTP):
    """aiosmtpd's `SMTP` holding a place in `Sessions` for `client`: step 3 of the module
    docstring."""

    def __init__(
        self, sessions: Sessions, client: str, handler: MailHandler, **options: Any
    ) -> None:
        super().__init__(handler, **options)
        self._sessions = sessions
        self._client: str | None = client
        """None once the place is given back (aiosmtpd may call `connection_lost` twice)."""

    def connection_lost(self, error: Exception | None) -> None:
        if self._client is not None:
            self._sessions.give_back(self._client)
            self._client = None
        super().connection_lost(error)

    async def push(self, status: AnyStr) -> None:
        """A reply; after a 421 the connection is closed, as RFC 5321 (3.8, 4.2.2) says a
        421 announces (aiosmtpd would keep the session open after `handle_exception`)."""
        await super().push(status)
        code = status[:3]
        if code in ("421", b"421") and self.transport is not None:
            self.transport.close()

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA command with the body read by `smtp_data.read_data` (in chunks,
        into one buffer) instead of line by line into an object per line; the same answers
        (aiosmtpd 1.4's `SMTP.smtp_DATA`, whose hooks and helpers this calls)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            body = await read_data(
                self._reader, limit=self.data_size_limit, line_limit=self.line_length_limit
            )
        except asyncio.CancelledError:  # the connection was reset (aiosmtpd's own path)
            self._writer.close()
            raise
        except ClientGone:  # the client left before the end: nothing to answer
            self._writer.close()
            return
        if body is Refusal.TOO_LONG:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
        elif body is Refusal.TOO_MUCH:
            await self.push("552 Error: Too much mail data")
        else:
            self.envelope.content = self.envelope.original_content = body
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()  # type: ignore[no-untyped-call]  # aiosmtpd's own
            await self.push("250 OK" if status is MISSING else status)
            return
        self._set_post_data_state()  # type: ignore[no-untyped-call]  # aiosmtpd's own


def client_address(peername: object) -> str:
    """The client's IP address, an IPv4-mapped IPv6 one (from a dual-stack listener) as
    IPv4 so that it counts as the same client; "" when the transport gives none."""
    if not isinstance(peername, tuple) or not peername:
        return ""
    host = str(peername[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def smtp_factory(
    config: EmailSettings, handler: MailHandler, *, idle_timeout_s: float = IDLE_TIMEOUT_S
) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for `loop.create_server`: a `Gate` per connection, all counting
    in the one `Sessions` of this factory (so: of one listener)."""
    sessions = Sessions(config.smtp_max_connections, config.smtp_max_connections_per_client)
    # aiosmtpd logs every command line at INFO (MAIL FROM and RCPT TO addresses, the
    # client's address): personal data, which acolhe never writes to its logs. Its warnings
    # and errors still come through.
    logging.getLogger(AIOSMTPD_LOGGER).setLevel(logging.WARNING)

    def session(client: str) -> SMTP:
        return BoundedSMTP(
            sessions,
            client,
            handler,
            data_size_limit=config.max_message_bytes,
            hostname=config.domain,
            ident="acolhe ESMTP",
            timeout=idle_timeout_s,
        )

    return lambda: Gate(sessions, session)


async def listen(
    config: EmailSettings, handler: MailHandler, *, idle_timeout_s: float = IDLE_TIMEOUT_S
) -> asyncio.Server:
    """The listener on `config.smtp_host:smtp_port`, serving (port 0: a free one);
    `idle_timeout_s` is the time allowed between commands (shorter in tests)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        smtp_factory(config, handler, idle_timeout_s=idle_timeout_s),
        host=config.smtp_host,
        port=config.smtp_port,
    )
    log.info(
        "SMTP listening",
        extra={
            "host": config.smtp_host,
            "port": listening_port(server),
            "max_connections": config.smtp_max_connections,
            "max_connections_per_client": config.smtp_max_connections_per_client,
        },
    )
    return server


def listening_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port
