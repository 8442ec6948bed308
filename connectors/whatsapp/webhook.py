"""The WhatsApp webhook endpoint: Meta's subscription handshake (GET) and its deliveries of
messages and statuses (POST), answered only once what they carry is durable. It is served
by `connectors.common.lean_http` (not aiohttp: see there why), which also refuses what is
not HTTP, too large (413) or too slow before a handler sees it.

Steps of a POST, in order (the answer depends on them; Meta retries any answer but 200,
for hours, and a retry maps to the same event ids, which downstream drops):
1. the raw body, at most `max_body_bytes` (the server's limit): above it, 413 (nothing is
   read further);
2. check X-Hub-Signature-256 over the raw bytes: missing, malformed or wrong -> 401, and
   the body is dead-lettered (InvalidSignature) with which of the three it was;
3. parse it: not UTF-8 (InvalidUtf8) or not JSON (MalformedJson) -> 400 + dead letter;
4. map it (`mapping.map_webhook`) at the receipt time; a failed status that does not echo
   our message id finds it in the ledger by its wamid. Not a WhatsApp Business Account
   payload at all -> 400 + dead letter (UnexpectedPayload);
5. give every citizen named a data key; a citizen whose data was erased gets nothing new
   recorded: their items are rejected;
6. fetch the media of each media message (Graph API metadata, then the file within
   `max_media_bytes`), verify its sha256 against the webhook's and the Graph API's, seal
   it with the citizen's key into the media store, and fill the Attachment. A file that
   is too large, gone, or does not match its checksum rejects that message; a transient
   Graph API failure answers 503 (Meta retries the webhook) with nothing published;
7. publish the events (`Inbound.accept`: idempotent producer, acks=all) and dead-letter
   the rejected items (RejectedItems) and the changes for phone numbers the office does
   not run here (UnknownAccount), all awaited;
8. answer 200. A failure in 7 (Kafka, Postgres unreachable) answers 503 instead.

An unknown phone_number_id is answered 200 after its dead letter is durable: the body is
signed with the office's app secret, so it is Meta's and an operator's matter (a number
added in WhatsApp Manager but not in ACOLHE_WHATSAPP_PHONE_NUMBER_IDS). A 4xx would make
Meta retry it for hours without any retry succeeding until an operator acts, and repeated
failures degrade the webhook's standing with Meta; the dead letter keeps the whole body to
replay once the number is configured, and an error log line says what to do.

A refused input (401, 400) is dead-lettered before the answer; when even that cannot be
written it is logged and the answer stays the input's own (Meta retries non-200 anyway).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from connectors.common.http import ACCEPT_SECONDS, requests_counter
from connectors.common.identity import ContactIds
from connectors.common.inbound import Inbound
from connectors.common.lean_http import Answer, Handler, Limits, Request, refusal
from connectors.common.ledger import Ledger
from connectors.common.media import MediaStore, MediaTooLarge
from connectors.whatsapp.config import WhatsAppSettings
from connectors.whatsapp.graph_client import GraphCallFailed, GraphClient
from connectors.whatsapp.mapping import (
    CHANNEL,
    MediaToFetch,
    PendingMessage,
    Rejection,
    complete_message,
    map_webhook,
)
from connectors.whatsapp.signature import (
    SIGNATURE_HEADER,
    HandshakeAccepted,
    SignatureOutcome,
    check_handshake,
    check_signature,
)
from schemas.events import MessageReceived
from streams.shared.events import KeySource

log = logging.getLogger(__name__)
PATH: Final = "/webhook"
_MEDIA_FETCHES: Final = 8
_MAX_STATUS_LOOKUPS: Final = 100
_DIGITS: Final = re.compile(r"[0-9]{1,30}")
_SIGNATURE_REASONS: Final[Mapping[SignatureOutcome, str]] = {
    SignatureOutcome.MISSING: f"{SIGNATURE_HEADER} is missing: the request is not signed, or "
    "a proxy strips the header",
    SignatureOutcome.MALFORMED: f"{SIGNATURE_HEADER} is not sha256= followed by 64 hex digits",
    SignatureOutcome.MISMATCH: f"{SIGNATURE_HEADER} does not match the body: a forged request, "
    "or ACOLHE_WHATSAPP_APP_SECRET is not the app's secret",
}


_ACCEPTED: Final = Answer(200, b'{"status":"accepted"}')
_SIGNATURE: Final = SIGNATURE_HEADER.lower()
_ACCEPT_SECONDS: Final = ACCEPT_SECONDS.labels(CHANNEL)


class Unavailable(Exception):
    """Something the answer depends on failed for now: answer 503 so that Meta retries."""


class Webhook:
    """The handlers, with what they need; `routes()` mounts them on PATH."""

    def __init__(
        self,
        config: WhatsAppSettings,
        *,
        inbound: Inbound,
        graph: GraphClient,
        media: MediaStore,
        keys: KeySource,
        contacts: ContactIds,
        ledger: Ledger | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._secret = config.app_secret.reveal().encode()
        self._inbound = inbound
        self._graph = graph
        self._media = media
        self._keys = keys
        self._contacts = contacts
        self._ledger = ledger
        self._clock = clock
        self._fetches = asyncio.Semaphore(_MEDIA_FETCHES)

    def routes(self) -> dict[str, dict[str, Handler]]:
        return {PATH: {"GET": self.verify, "POST": self.receive}}

    def limits(self) -> Limits:
        return Limits(max_body_bytes=self._config.max_body_bytes)

    async def verify(self, request: Request) -> Answer:
        """Meta's subscription handshake: echo hub.challenge when the token is ours."""
        outcome = check_handshake(request.query, self._config.verify_token.reveal())
        if isinstance(outcome, HandshakeAccepted):
            answer = Answer(200, outcome.challenge.encode(), "text/plain; charset=utf-8")
            return _counted("handshake", answer)
        log.warning("webhook handshake refused", extra={"reason": outcome.reason})
        return _counted("handshake", refusal(403, "handshake_refused", outcome.reason))

    async def receive(self, request: Request) -> Answer:
        started = time.perf_counter()
        answer = await self._receive(request)
        if answer.status == 200:
            _ACCEPT_SECONDS.observe(time.perf_counter() - started)
        return _counted("webhook", answer)

    async def _receive(self, request: Request) -> Answer:
        """Steps 1-8 of the module docstring."""
        body = request.body
        signature = check_signature(self._secret, body, request.headers.get(_SIGNATURE))
        if not signature.is_valid:
            reason = _SIGNATURE_REASONS[signature]
            await self._refused(request, body, "InvalidSignature", reason)
            return refusal(401, f"signature_{signature.value}", reason)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            error_type, reason = _unreadable(body, exc)
            await self._refused(request, body, error_type, reason)
            return refusal(
                400, "invalid_utf8" if error_type == "InvalidUtf8" else "bad_json", reason
            )
        try:
            return await self._accept(request, body, payload)
        except Unavailable as exc:
            log.warning("webhook not accepted; Meta will retry", extra={"reason": str(exc)})
            return refusal(503, "unavailable", f"{exc}; retry later")

    async def _accept(self, request: Request, body: bytes, payload: Any) -> Answer:
        found: dict[str, str] = {}
        ledger = self._ledger
        if ledger is not None and b'"statuses"' in body:  # most webhooks carry messages only
            found = await _our_message_ids(ledger, payload)
        mapping = map_webhook(
            payload,
            accounts=self._config.phone_number_ids,
            contacts=self._contacts,
            occurred_at=self._clock(),
            find_message_id=found.get,
        )
        for notice in mapping.notices:
            log.info("webhook notice", extra={"where": notice.where, "notice": notice.text})
        if mapping.is_rejected_whole:
            reason = "; ".join(f"{r.where}: {r.reason}" for r in mapping.rejections)
            await self._refused(request, body, "UnexpectedPayload", reason)
            return refusal(400, "unexpected_payload", reason)
        rejections = [r for r in mapping.rejections if not _is_unknown_account(r)]
        messages = list(mapping.messages)
        pending = list(mapping.pending)
        subjects = {m.subject_id for m in messages} | {p.message.subject_id for p in pending}
        if subjects:
            try:
                await self._keys.ensure(subjects)
            except Exception as exc:
                raise Unavailable("the key store is unreachable") from exc
            erased = {s for s in subjects if self._keys.decryption_key(s) is None}
            if erased:
                messages, pending, gone = _without_erased(messages, pending, erased)
                rejections += gone
        if pending:
            completed = await asyncio.gather(*(self._complete(p) for p in pending))
            messages += [m for m in completed if isinstance(m, MessageReceived)]
            rejections += [r for r in completed if isinstance(r, Rejection)]
        records = []
        if rejections:
            records.append(("RejectedItems", _describe(rejections)))
        if mapping.has_unknown_account:
            unknown = sorted(set(_accounts_named(payload)) - set(self._config.phone_number_ids))
            records.append(("UnknownAccount", _unknown_account(unknown)))
            log.error(
                "webhook for a phone number this connector does not run",
                extra={"phone_number_ids": unknown},
            )
        try:
            events = [*messages, *mapping.statuses]
            if records:
                await asyncio.gather(
                    self._inbound.accept(events),
                    *(self._dead_letter(request, body, kind, reason) for kind, reason in records),
                )
            else:  # the common case: no task for one coroutine
                await self._inbound.accept(events)
        except Exception as exc:
            log.warning("could not make the webhook durable", exc_info=True)
            raise Unavailable("the events could not be made durable") from exc
        return _ACCEPTED

    async def _complete(self, pending: PendingMessage) -> MessageReceived | Rejection:
        """Fetch, verify and keep each file of a media message (step 6)."""
        key = self._keys.encryption_key(pending.message.subject_id)
        stored = []
        for media in pending.media:
            async with self._fetches:
                content = await self._fetch(pending, media)
            if isinstance(content, Rejection):
                return content
            try:
                stored.append(await self._media.put(key, content))
            except MediaTooLarge as exc:
                return _media_rejection(pending, media, str(exc))
            except OSError as exc:
                raise Unavailable("the media store cannot be written") from exc
        return complete_message(pending, stored)

    async def _fetch(self, pending: PendingMessage, media: MediaToFetch) -> bytes | Rejection:
        try:
            info, content = await self._graph.fetch_media(
                media.media_id, limit=self._media.max_bytes
            )
        except MediaTooLarge as exc:
            return _media_rejection(pending, media, str(exc))
        except GraphCallFailed as exc:
            if exc.error.action == "refused":
                return _media_rejection(
                    pending, media, f"the media could not be fetched: {exc.error.reason}"
                )
            raise Unavailable(f"the media could not be fetched now: {exc.error.reason}") from exc
        digest = hashlib.sha256(content).hexdigest()
        if info.sha256 is not None and _hex_digest(info.sha256) != digest:
            return _media_rejection(
                pending, media, "the downloaded file's sha256 differs from the Graph API's"
            )
        if media.sha256 is not None and media.sha256 != digest:
            return _media_rejection(
                pending, media, "the downloaded file's sha256 differs from the webhook's"
            )
        return content

    async def _refused(self, request: Request, body: bytes, error_type: str, why: str) -> None:
        """Dead-letter an input refused with a 4xx; a failure to do so is only logged."""
        try:
            await self._dead_letter(request, body, error_type, why)
        except Exception:
            log.error("could not dead-letter a refused webhook", exc_info=True)

    async def _dead_letter(
        self, request: Request, body: bytes, error_type: str, reason: str
    ) -> None:
        await self._inbound.dead_letter(
            source="http",
            payload=body,
            error_type=error_type,
            reason=reason,
            content_type=request.headers.get("content-type"),
            headers=list(request.raw_headers),
        )


async def _our_message_ids(ledger: Ledger, payload: Any) -> dict[str, str]:
    """Our message ids of the statuses that do not echo them (Meta leaves
    biz_opaque_callback_data out of failed statuses), from the ledger."""
    wamids = list(dict.fromkeys(_unechoed_status_ids(payload)))[:_MAX_STATUS_LOOKUPS]
    found: dict[str, str] = {}
    try:
        for wamid in wamids:
            message_id = await ledger.message_of(wamid)
            if message_id is not None:
                found[wamid] = message_id
    except Exception as exc:
        raise Unavailable("the connectors' ledger is unreachable") from exc
    return found


def _counted(route: str, answer: Answer) -> Answer:
    requests_counter(CHANNEL, route, answer.status).inc()
    return answer


def _unreadable(body: bytes, exc: orjson.JSONDecodeError) -> tuple[str, str]:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        return "InvalidUtf8", f"the body is not valid UTF-8 (byte {bad.start} of {len(body)})"
    return "MalformedJson", f"the body is not JSON: {str(exc)[:200]}"


def _is_unknown_account(rejection: Rejection) -> bool:
    return rejection.scope == "change" and rejection.where.endswith(".metadata.phone_number_id")


def _without_erased(
    messages: Sequence[MessageReceived], pending: Sequence[PendingMessage], erased: set[str]
) -> tuple[list[MessageReceived], list[PendingMessage], list[Rejection]]:
    why = "the citizen's data was erased: nothing new is recorded under the erased id"
    gone = [m for m in messages if m.subject_id in erased]
    gone += [p.message for p in pending if p.message.subject_id in erased]
    return (
        [m for m in messages if m.subject_id not in erased],
        [p for p in pending if p.message.subject_id not in erased],
        [Rejection("message", "$", why, m.provider_message_id) for m in gone],
    )


def _media_rejection(pending: PendingMessage, media: MediaToFetch, reason: str) -> Rejection:
    where = f"media[{media.position}] (WhatsApp media id {media.media_id})"
    return Rejection("message", where, reason, pending.message.provider_message_id)


def _describe(rejections: Sequence[Rejection]) -> str:
    items = "; ".join(
        f"{r.where}: {r.reason}" + (f" ({r.provider_message_id})" if r.provider_message_id else "")
        for r in rejections
    )
    return f"{len(rejections)} item(s) not recorded: {items}"


def _unknown_account(ids: Sequence[str]) -> str:
    named = ", ".join(i if _DIGITS.fullmatch(i) else "(unreadable)" for i in ids) or "(none)"
    return (
        f"changes for phone number id(s) {named}, which this connector does not run: add them "
        "to ACOLHE_WHATSAPP_PHONE_NUMBER_IDS and replay this record, or unsubscribe them"
    )


def _hex_digest(declared: str) -> str:
    """A checksum as the Graph API gives it (hex; base64 in some answers) as lowercase hex."""
    if re.fullmatch(r"[0-9a-fA-F]{64}", declared):
        return declared.lower()
    try:
        raw = base64.b64decode(declared, validate=True)
    except (binascii.Error, ValueError):
        return declared
    return raw.hex() if len(raw) == 32 else declared


def _change_values(payload: Any) -> Iterator[Mapping[str, Any]]:
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else ():
            value = change.get("value") if isinstance(change, dict) else None
            if isinstance(value, dict):
                yield value


def _unechoed_status_ids(payload: Any) -> Iterator[str]:
    for value in _change_values(payload):
        statuses = value.get("statuses")
        for item in statuses if isinstance(statuses, list) else ():
            if isinstance(item, dict) and not item.get("biz_opaque_callback_data"):
                wamid = item.get("id")
                if isinstance(wamid, str) and wamid:
                    yield wamid


def _accounts_named(payload: Any) -> Iterator[str]:
    for value in _change_values(payload):
        metadata = value.get("metadata")
        account = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if isinstance(account, str):
            yield account
