"""WhatsApp's way out for the outbound loop: a `connectors.common.outbound.Deliverer` that
sends the office's messages through the Graph API.

Steps of `deliver`, in order:
1. the account: the message's `channel_account_id`, else the first configured; one the
   office does not run here is refused (an operator adds it to the settings);
2. the requests (`graph.build_send_requests`, a file still to upload standing in with a
   placeholder id): a message that cannot become one (erased address, text too long) is
   refused with why, and so is a file to upload of a type or size WhatsApp does not take
   (`graph_upload.check_upload`), before any request;
3. a single-request message whose wamid the ledger already holds went out before a
   restart: it is reported sent with that wamid and not sent again;
4. the 24-hour window (`window.decide_send`) from when the contact last wrote (the
   ledger's `last_inbound`): outside it only templates go out; anything else is refused
   with the reason and nothing reaches Meta;
5. each file without a WhatsApp media id (an agent's file, in the media store): read with
   the citizen's key (erased, missing or not opening: refused; the store unreadable: retry
   later), its sha256 and size checked against the Attachment, uploaded
   (POST /{phone_number_id}/media); the media id is kept for this message's retries;
6. each request, with the media ids, in order; the first wamid is noted in the ledger as
   soon as Meta answers (a status report finds our message id by it; a restart does not
   send again);
7. a Graph API error, on an upload as on a send: retried later (rate limits, Meta's
   transient failures, a network failure, and what an operator must fix, such as an
   expired token: the message waits for the fix within the loop's attempts) or refused
   with Meta's code and title.

A message of several requests (a text and files) that a rate limit interrupts resumes
after the uploads and parts already done, within this process; after a crash in the middle
it is uploaded and sent whole again (a duplicate is better than a loss).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from connectors.common.ledger import Ledger
from connectors.common.media import MediaStore
from connectors.common.outbound import Outcome, Refused, RetryLater, Sent
from connectors.whatsapp.graph import GraphError, Unsendable, build_send_requests
from connectors.whatsapp.graph_client import GraphCallFailed, GraphClient
from connectors.whatsapp.graph_upload import UploadForm, build_upload, check_upload, needs_upload
from connectors.whatsapp.mapping import CHANNEL
from connectors.whatsapp.window import SendRefused, decide_send
from schemas.events import Attachment, MessageSent
from schemas.personal import DataKey
from streams.shared.events import KeySource

log = logging.getLogger(__name__)
OUTSIDE_WINDOW: Final = "outside_window"
UNSENDABLE: Final = "unsendable"
UNKNOWN_ACCOUNT: Final = "unknown_account"
_MAX_IN_PROGRESS: Final = 10_000


class WhatsAppDeliverer:
    channel = CHANNEL

    def __init__(
        self,
        graph: GraphClient,
        ledger: Ledger,
        phone_number_ids: tuple[str, ...],
        *,
        keys: KeySource,
        media: MediaStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        window_margin: timedelta = timedelta(0),
    ) -> None:
        if not phone_number_ids:
            raise ValueError("at least one phone number id is needed to send")
        self._graph = graph
        self._ledger = ledger
        self._accounts = phone_number_ids
        self._keys = keys
        self._media = media
        self._clock = clock
        self._margin = window_margin
        self._in_progress: dict[str, list[str]] = {}  # message id -> wamids of parts sent
        self._uploaded: dict[str, dict[str, str]] = {}  # message id -> attachment -> media id

    async def deliver(self, message: MessageSent) -> Outcome:
        """Steps 1-7 of the module docstring."""
        account = message.channel_account_id or self._accounts[0]
        if account not in self._accounts:
            return Refused(
                UNKNOWN_ACCOUNT,
                f"phone number id {account} is not one this connector runs",
                "add it to ACOLHE_WHATSAPP_PHONE_NUMBER_IDS, or send from a configured number",
            )
        planned = _plan(message, {})
        if isinstance(planned, Refused):
            return planned
        requests, to_upload = planned
        if len(requests) == 1:
            held = await self._ledger.delivery(message.message_id)
            if held is not None and held.provider_message_id:
                return Sent(held.provider_message_id)
        last = await self._ledger.last_inbound(message.contact_id)
        decision = decide_send(message, last, self._clock(), self._margin)
        if isinstance(decision, SendRefused):
            return Refused(OUTSIDE_WINDOW, decision.reason)
        if to_upload:
            with_media = await self._upload(message, account, to_upload)
            if not isinstance(with_media, tuple):
                return with_media
            requests = with_media
        return await self._send(message, account, requests)

    async def _send(
        self, message: MessageSent, account: str, requests: tuple[dict[str, Any], ...]
    ) -> Outcome:
        """Step 6: the requests not sent yet, in order."""
        sent = self._in_progress.setdefault(message.message_id, [])
        for body in requests[len(sent) :]:
            try:
                accepted = await self._graph.send(account, body)
            except GraphCallFailed as exc:
                return self._failed(message, exc.error)
            sent.append(accepted.wamid)
            if len(sent) == 1:
                await self._ledger.note_provider_id(message.message_id, accepted.wamid)
        self._forget(message.message_id)
        return Sent(sent[0])

    async def _upload(
        self, message: MessageSent, account: str, attachments: tuple[Attachment, ...]
    ) -> tuple[dict[str, Any], ...] | Outcome:
        """Step 5: each file's media id (uploaded now, or by an earlier attempt of this
        message), then the requests built with them."""
        uploaded = self._uploaded.setdefault(message.message_id, {})
        pending = [a for a in attachments if a.attachment_id not in uploaded]
        if pending:
            await self._keys.load([message.subject_id])
            key = self._keys.decryption_key(message.subject_id)
            if key is None:
                self._forget(message.message_id)
                return Refused(UNSENDABLE, "the citizen's data was erased: the files are gone")
            for attachment in pending:
                form = await self._read(key, attachment)
                if isinstance(form, Refused):
                    self._forget(message.message_id)
                    return form
                if isinstance(form, RetryLater):
                    return form
                try:
                    uploaded[attachment.attachment_id] = await self._graph.upload(account, form)
                except GraphCallFailed as exc:
                    return self._failed(message, exc.error)
        planned = _plan(message, uploaded)
        return planned if isinstance(planned, Refused) else planned[0]

    async def _read(
        self, key: DataKey, attachment: Attachment
    ) -> UploadForm | Refused | RetryLater:
        name = attachment.attachment_id
        try:
            content = await self._media.get(key, attachment.storage_ref)
        except FileNotFoundError:
            return Refused(UNSENDABLE, f"attachment {name} is not in the media store")
        except OSError as exc:
            return RetryLater(f"the media store cannot be read: {type(exc).__name__}")
        except ValueError as exc:
            return Refused(UNSENDABLE, f"attachment {name} cannot be opened: {exc}")
        form = build_upload(attachment, content)
        return Refused(UNSENDABLE, form.reason) if isinstance(form, Unsendable) else form

    def _failed(self, message: MessageSent, error: GraphError) -> Outcome:
        if error.action == "refused":
            self._forget(message.message_id)
            code = str(error.code) if error.code is not None else f"http_{error.http_status}"
            detail = error.reason + (f" ({error.details})" if error.details else "")
            return Refused(code, error.title or error.reason, detail)
        if error.action == "operator":
            log.error(
                "the Graph API refused the connector itself; an operator must act",
                extra={
                    "message_id": message.message_id,
                    "code": error.code,
                    "reason": error.reason,
                    "fbtrace_id": error.fbtrace_id,
                },
            )
        for progress in (self._in_progress, self._uploaded):
            if len(progress) > _MAX_IN_PROGRESS:  # messages the loop gave up on
                progress.pop(next(iter(progress)))
        after = error.retry_after.total_seconds() if error.retry_after is not None else None
        code = f"code {error.code}: " if error.code is not None else ""
        return RetryLater(f"{code}{error.reason}", after)

    def _forget(self, message_id: str) -> None:
        self._in_progress.pop(message_id, None)
        self._uploaded.pop(message_id, None)


def _plan(
    message: MessageSent, media_ids: Mapping[str, str]
) -> tuple[tuple[dict[str, Any], ...], tuple[Attachment, ...]] | Refused:
    """Step 2: the requests and the files to upload first, or why the message cannot go.
    A file not uploaded yet stands in with a placeholder id, so that a message WhatsApp
    would not take is refused before any of its files is uploaded."""
    to_upload = needs_upload(message)
    for attachment in to_upload:
        checked = check_upload(attachment)
        if isinstance(checked, Unsendable):
            return Refused(UNSENDABLE, checked.reason)
    ids = {a.attachment_id: f"pending-{a.attachment_id}" for a in to_upload} | dict(media_ids)
    requests = build_send_requests(message, ids)
    if isinstance(requests, Unsendable):
        return Refused(UNSENDABLE, requests.reason)
    return requests, to_upload
