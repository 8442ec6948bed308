"""Email's way out for the outbound loop: a `connectors.common.outbound.Deliverer` that sends
the office's messages (MessageSent on the email channel) through the office's SMTP relay.

Steps of `deliver`, in order:
1. the mailbox: the message's `channel_account_id`, else the first configured; one the
   office does not run here is refused (an operator adds it to ACOLHE_EMAIL_MAILBOXES);
2. a message whose Message-ID the ledger already holds went out before a restart: it is
   reported sent with that id and not sent again;
3. the attachments' content, read from the media store with the citizen's key (an erased
   citizen's files are gone: refused);
4. the mail (`compose.compose_message`), dated `sent_at` so that a retry is byte for byte
   the same mail, with a Message-ID derived from our message id (a resend is recognisably
   the same mail, and clients show it once); a message that cannot become one is refused;
5. the relay (`smtp_out.SmtpRelay`): 250 -> sent (its Message-ID noted in the ledger at
   once, then returned); 4xx -> retry later; 5xx -> refused with the SMTP code and text
   (addresses redacted); no answer or a relay the settings do not fit -> retry later.
"""

from __future__ import annotations

import logging
from typing import Final

from connectors.common.ledger import Ledger
from connectors.common.media import MediaStore
from connectors.common.outbound import Outcome, Refused, RetryLater, Sent
from connectors.email.compose import Undeliverable, compose_message
from connectors.email.config import EmailSettings
from connectors.email.mapping import CHANNEL
from connectors.email.smtp_out import RelayAnswer, Relayed, RelayRefused, SmtpRelay
from schemas.events import Attachment, MessageSent
from schemas.personal import DataKey
from streams.shared.events import KeySource

log = logging.getLogger(__name__)
UNKNOWN_MAILBOX: Final = "unknown_mailbox"
UNDELIVERABLE: Final = "undeliverable"


class EmailDeliverer:
    channel = CHANNEL

    def __init__(
        self,
        config: EmailSettings,
        relay: SmtpRelay,
        ledger: Ledger,
        *,
        keys: KeySource,
        media: MediaStore,
    ) -> None:
        self._config = config
        self._relay = relay
        self._ledger = ledger
        self._keys = keys
        self._media = media

    async def deliver(self, message: MessageSent) -> Outcome:
        """Steps 1-5 of the module docstring."""
        account = message.channel_account_id
        if account and not self._config.is_office_mailbox(account):
            return Refused(
                UNKNOWN_MAILBOX,
                "the message names a mailbox this connector does not run",
                "add it to ACOLHE_EMAIL_MAILBOXES, or send from a configured mailbox",
            )
        held = await self._ledger.delivery(message.message_id)
        if held is not None and held.provider_message_id:
            return Sent(held.provider_message_id)
        files = await self._files(message)
        if not isinstance(files, dict):
            return files
        try:
            mail = compose_message(
                message,
                mailbox=self._config.office_mailbox(account),
                date=message.sent_at,
                files=files,
            )
        except Undeliverable as exc:
            return Refused(UNDELIVERABLE, str(exc)[:300])
        answer = await self._relay.send(mail)
        if isinstance(answer, Relayed):
            await self._ledger.note_provider_id(message.message_id, mail.message_id)
        return outcome_of(answer, mail.message_id)

    async def _files(self, message: MessageSent) -> dict[str, bytes] | Refused | RetryLater:
        if not message.attachments:
            return {}
        await self._keys.load([message.subject_id])
        key = self._keys.decryption_key(message.subject_id)
        if key is None:
            return Refused(UNDELIVERABLE, "the citizen's data was erased: the files are gone")
        files: dict[str, bytes] = {}
        for attachment in message.attachments:
            content = await self._file(key, attachment)
            if not isinstance(content, bytes):
                return content
            files[attachment.attachment_id] = content
        return files

    async def _file(self, key: DataKey, attachment: Attachment) -> bytes | Refused | RetryLater:
        name = attachment.attachment_id
        try:
            return await self._media.get(key, attachment.storage_ref)
        except FileNotFoundError:
            return Refused(UNDELIVERABLE, f"attachment {name} is not in the media store")
        except OSError as exc:
            return RetryLater(f"the media store cannot be read: {type(exc).__name__}")
        except ValueError as exc:
            return Refused(UNDELIVERABLE, f"attachment {name} cannot be opened: {exc}")


def outcome_of(answer: RelayAnswer, message_id: str) -> Outcome:
    """The relay's answer as the outbound loop's outcome: 250 sent, 4xx or no answer retry
    later, 5xx refused with the SMTP code and its (redacted) text."""
    if isinstance(answer, Relayed):
        return Sent(message_id)
    if isinstance(answer, RelayRefused):
        if answer.is_permanent:
            return Refused(str(answer.code), answer.text or "refused by the relay")
        return RetryLater(f"the relay answered {answer.code} {answer.text}")
    return RetryLater(answer.reason)
