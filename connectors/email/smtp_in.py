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

Must not depend on imaplib; holds no rule about what a mail means (that is `intake.py`'s
and the pure modules').
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Final

from aiosmtpd.smtp import SMTP, Envelope, Session

from connectors.email.config import EmailSettings
from connectors.email.intake import Accepted, MailIntake, Refused, SetAside, Unavailable

log = logging.getLogger(__name__)
MAX_RECIPIENTS: Final = 100
IDLE_TIMEOUT_S: Final = 300.0  # RFC 5321 4.5.3.2.7: at least 5 minutes between commands
NOT_OURS: Final = (
    "550 5.7.1 Relaying denied: this server takes mail only for the office's mailboxes"
)
TRY_LATER: Final = "451 4.3.0 Temporarily unable to accept the message; try again later"
_UNPRINTABLE: Final = re.compile(r"[^\x20-\x7e]+")


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
        return "421 4.3.0 Internal error; try again later"


def smtp_factory(config: EmailSettings, handler: MailHandler) -> Any:
    """A protocol factory for `loop.create_server`: one aiosmtpd `SMTP` per connection."""

    def build() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=config.max_message_bytes,
            hostname=config.domain,
            ident="acolhe ESMTP",
            timeout=IDLE_TIMEOUT_S,
        )

    return build


async def listen(config: EmailSettings, handler: MailHandler) -> asyncio.Server:
    """The listener on `config.smtp_host:smtp_port`, serving (port 0: a free one)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        smtp_factory(config, handler), host=config.smtp_host, port=config.smtp_port
    )
    log.info("SMTP listening", extra={"host": config.smtp_host, "port": listening_port(server)})
    return server


def listening_port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port
