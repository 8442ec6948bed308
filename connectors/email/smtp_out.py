"""Handing one composed mail to the office's SMTP relay (smtplib, in a worker thread), and
reading the relay's answer as one of three outcomes:

- `Relayed`: the relay took the mail (250 after DATA);
- `RelayRefused`: an SMTP reply code and its text, `permanent` for 5xx (the relay will
  never take it) and not for 4xx (try again later);
- `RelayUnreachable`: no SMTP answer at all (connection refused, timeout, dropped), or a
  relay the settings do not fit (no STARTTLS, login refused): an operator can fix these,
  so the message waits for the fix within the outbound loop's attempts.

The texts keep no address: relays echo the recipient in their replies, and these texts go
into DeliveryStatusChanged events and logs.

Must not depend on Kafka or Postgres.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from dataclasses import dataclass
from typing import Final

from connectors.email.compose import ComposedMail
from connectors.email.config import RelaySettings

_ADDRESS: Final = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")
_UNPRINTABLE: Final = re.compile(r"[^\x20-\x7e]+")
MAX_TEXT: Final = 300


@dataclass(frozen=True)
class Relayed:
    pass


@dataclass(frozen=True)
class RelayRefused:
    code: int
    text: str

    @property
    def is_permanent(self) -> bool:
        return 500 <= self.code <= 599


@dataclass(frozen=True)
class RelayUnreachable:
    reason: str


RelayAnswer = Relayed | RelayRefused | RelayUnreachable


def redact(text: str) -> str:
    """An SMTP reply's text with every address replaced by `<address>`, one line."""
    return _UNPRINTABLE.sub(" ", _ADDRESS.sub("<address>", text)).strip()[:MAX_TEXT]


class SmtpRelay:
    def __init__(self, settings: RelaySettings, *, local_hostname: str | None = None) -> None:
        self._settings = settings
        self._local_hostname = local_hostname

    async def send(self, mail: ComposedMail) -> RelayAnswer:
        return await asyncio.to_thread(self._send, mail)

    def _send(self, mail: ComposedMail) -> RelayAnswer:
        try:
            refused = self._exchange(mail)
        except (smtplib.SMTPException, OSError) as exc:
            return answer_of(exc)
        if refused:  # only possible with several recipients; we send to one
            code, text = next(iter(refused.values()))
            return RelayRefused(code, redact(_text(text)))
        return Relayed()

    def _exchange(self, mail: ComposedMail) -> dict[str, tuple[int, bytes]]:
        relay = self._settings
        with smtplib.SMTP(
            relay.host, relay.port, local_hostname=self._local_hostname, timeout=relay.timeout_s
        ) as client:
            client.ehlo()
            if relay.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if relay.username and relay.password is not None:
                client.login(relay.username, relay.password.reveal())
            return client.sendmail(mail.envelope_from, [mail.recipient], mail.raw)


def answer_of(exc: smtplib.SMTPException | OSError) -> RelayAnswer:
    """What an smtplib failure says about the mail."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
        return RelayRefused(code, redact(_text(text)))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return RelayUnreachable(
            f"the relay refused the login ({exc.smtp_code}): check "
            "ACOLHE_EMAIL_RELAY_USERNAME and ACOLHE_EMAIL_RELAY_PASSWORD"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return RelayUnreachable(
            f"the relay does not offer what the settings ask ({redact(str(exc))}): "
            "check ACOLHE_EMAIL_RELAY_STARTTLS"
        )
    if isinstance(exc, smtplib.SMTPConnectError):
        return RelayUnreachable(f"the relay refused the connection ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPResponseException):  # sender or data refused, 421, ...
        return RelayRefused(exc.smtp_code, redact(_text(exc.smtp_error)))
    # disconnected, connection refused, timeout, TLS failure: no SMTP answer
    return RelayUnreachable(f"{type(exc).__name__}: {redact(str(exc))}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
