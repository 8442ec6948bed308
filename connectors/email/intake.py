"""One raw mail in, whichever way it came (SMTP DATA or an IMAP fetch): a durable
`MessageReceived`, or a dead-letter record saying why not. The SMTP listener and the IMAP
poller both call `MailIntake.take` and only then answer (250/550/451) or mark the mail seen.

Steps of `take`, in order (each one's failure decides the answer):
1. `parse_mail` under the limits, in a worker thread (the event loop keeps serving other
   sessions), at most `max_concurrent` mails at once (each holds its raw bytes);
2. a `Quarantined` mail is dead-lettered ("MailQuarantined", with the reason): `Refused`;
3. automated mail (a null reverse path, Auto-Submitted, Precedence bulk/list/junk, List-Id,
   a delivery report) is dead-lettered ("AutomatedMail") and not published: no case is
   opened and no bot answers a machine (mail loops), but it is not refused either (refusing
   a bounce makes a double bounce): `SetAside`;
4. the sender's contact and citizen (`ContactIds`), the citizen's key made if new; a citizen
   erased (LGPD) is dead-lettered ("CitizenErased"): nothing new is kept under the id;
5. the attachments sealed in the media store with the citizen's key, in order;
6. `MessageReceived` published and acknowledged (`Inbound.accept`): `Accepted`.
Any failure of Kafka, Postgres or the disk in steps 2-6 raises `Unavailable`: the caller
answers 451 (SMTP) or leaves the mail unseen (IMAP), and the retry repeats every id.

Must not depend on aiosmtpd or imaplib.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from connectors.common.identity import ContactIds
from connectors.common.inbound import Inbound
from connectors.common.media import MediaStore, MediaTooLarge
from connectors.email.mapping import files_to_store, message_received
from connectors.email.mime import MailLimits, ParsedMail, Quarantined, parse_mail
from streams.shared.errors import RetriableInfrastructureError
from streams.shared.events import KeySource

log = logging.getLogger(__name__)
MailSource = Literal["smtp", "imap"]
QUARANTINED: Final = "MailQuarantined"
AUTOMATED: Final = "AutomatedMail"
ERASED: Final = "CitizenErased"
MAX_DEAD_LETTER_PAYLOAD: Final = 256 * 1024
"""Raw bytes kept in a dead-letter record: a Kafka record is 1 MB at most, and the headers
and first parts are what an operator reads; the reason says when the mail was cut."""


class Unavailable(RetriableInfrastructureError):
    """The mail could not be made durable now (Kafka, Postgres or the disk): retry later."""


@dataclass(frozen=True)
class Accepted:
    event_id: str


@dataclass(frozen=True)
class SetAside:
    """Taken, not published: recorded in the dead-letter record `record_id`."""

    error_type: str
    reason: str
    record_id: str


@dataclass(frozen=True)
class Refused:
    """Refused for what the mail is (`reason`, one of the quarantine reasons)."""

    reason: str
    detail: str
    record_id: str


Taken = Accepted | SetAside | Refused


class MailIntake:
    def __init__(
        self,
        *,
        inbound: Inbound,
        keys: KeySource,
        contacts: ContactIds,
        media: MediaStore,
        limits: MailLimits,
        max_concurrent: int = 4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._inbound = inbound
        self._keys = keys
        self._contacts = contacts
        self._media = media
        self.limits = limits
        self._slots = asyncio.Semaphore(max_concurrent)
        self._clock = clock

    async def take(
        self, raw: bytes, *, mailbox: str, source: MailSource, is_bounce: bool = False
    ) -> Taken:
        """Steps 1-6 of the module docstring. `mailbox` is the office address the mail came
        to; `is_bounce` says the envelope had a null reverse path (MAIL FROM:<>)."""
        async with self._slots:
            outcome = await asyncio.to_thread(parse_mail, raw, self.limits)
            if isinstance(outcome, Quarantined):
                record = await self.set_aside(
                    raw, source, QUARANTINED, f"{outcome.reason}: {outcome.detail}"
                )
                return Refused(outcome.reason, outcome.detail, record)
            if is_bounce or outcome.is_automated:
                why = _automated_reason(outcome, is_bounce=is_bounce)
                return SetAside(AUTOMATED, why, await self.set_aside(raw, source, AUTOMATED, why))
            return await self._publish(outcome, raw, mailbox=mailbox, source=source)

    async def _publish(
        self, mail: ParsedMail, raw: bytes, *, mailbox: str, source: MailSource
    ) -> Taken:
        contact = self._contacts.contact("email", mail.from_address)
        try:
            await self._keys.ensure([contact.subject_id])
        except Exception as exc:
            raise Unavailable("the key store is unreachable") from exc
        if self._keys.decryption_key(contact.subject_id) is None:
            why = "the citizen's data was erased: nothing new is recorded under the erased id"
            return SetAside(ERASED, why, await self.set_aside(raw, source, ERASED, why))
        key = self._keys.encryption_key(contact.subject_id)
        stored = []
        for content in files_to_store(mail):
            try:
                stored.append(await self._media.put(key, content))
            except MediaTooLarge as exc:  # the store's limit below the mail limits
                detail = str(exc)
                record = await self.set_aside(
                    raw, source, QUARANTINED, f"attachment_too_large: {detail}"
                )
                return Refused("attachment_too_large", detail, record)
            except OSError as exc:
                raise Unavailable("the media store cannot be written") from exc
        event = message_received(
            mail, contact=contact, mailbox=mailbox, receipt_time=self._clock(), stored=stored
        )
        try:
            await self._inbound.accept([event])
        except Exception as exc:
            raise Unavailable("the message could not be made durable in Kafka") from exc
        log.info(
            "mail accepted",
            extra={"event_id": event.event_id, "source": source, "files": len(stored)},
        )
        return Accepted(event.event_id)

    async def set_aside(self, raw: bytes, source: MailSource, error_type: str, why: str) -> str:
        """Record `raw` (cut to `MAX_DEAD_LETTER_PAYLOAD`) on the dead-letter topic with
        why; returns the record's id (the same bytes give the same id)."""
        payload = raw[:MAX_DEAD_LETTER_PAYLOAD]
        if len(raw) > len(payload):
            why = f"{why} (the record keeps the first {len(payload)} of {len(raw)} bytes)"
        try:
            return await self._inbound.dead_letter(
                source=source,
                payload=payload,
                error_type=error_type,
                reason=why,
                content_type="message/rfc822",
            )
        except Exception as exc:
            raise Unavailable("the dead-letter record could not be made durable") from exc


def _automated_reason(mail: ParsedMail, *, is_bounce: bool) -> str:
    what = "a delivery report (null reverse path)" if is_bounce else "automated mail"
    return (
        f"{what}: auto-reply, bounce or list mail is kept aside, not answered "
        f"(Message-ID {mail.message_id})"
    )
