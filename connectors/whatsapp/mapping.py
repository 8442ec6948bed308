"""A WhatsApp Cloud API webhook payload -> the events the office publishes.

`map_webhook` takes the parsed JSON of one webhook POST (after its signature was checked)
and returns a `WebhookMapping`:

- `messages`: MessageReceived events ready to publish (no media to fetch);
- `pending`: media messages, complete but for their attachments: the shell fetches each
  `MediaToFetch` from the Graph API, puts it in the media store, then calls
  `complete_message` with the `StoredMedia` results to get the MessageReceived;
- `statuses`: DeliveryStatusChanged events for the office's outbound messages;
- `rejections`: what could not be mapped, each with where it was in the payload and why
  (no personal data in either), for the dead-letter topic;
- `notices`: what Meta said that is not an event (errors about the business account,
  webhook fields other than `messages`), for the logs.

One bad message or status rejects that item only. A payload that is not a WhatsApp
Business Account webhook, or a change for a phone number the office does not run, is
rejected whole (scope "payload" or "change"). Meta redelivers a webhook until it gets a
200, for hours: the shell answers 200 once the events and rejections are durable; a
redelivery maps to the same event ids (derived from the wamid, the status and its error
codes), so downstream drops it.

Pure: no I/O, no clock (`occurred_at` is the receipt time the shell read), no logging.
Must not depend on aiohttp, Kafka or Postgres.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal

from connectors.common.identity import ContactIds, ContactRef
from connectors.common.media import StoredMedia
from connectors.whatsapp import _payload as p
from connectors.whatsapp._kinds import (
    REDACTED,
    MediaToFetch,
    read_content,
    read_delivery_errors,
    redact,
)
from schemas.envelope import derive_event_id
from schemas.events import (
    Attachment,
    DeliveryStatus,
    DeliveryStatusChanged,
    MessageReceived,
)

__all__ = [
    "CHANNEL",
    "OBJECT",
    "REDACTED",
    "FindMessageId",
    "MediaToFetch",
    "Notice",
    "PendingMessage",
    "Rejection",
    "Scope",
    "WebhookMapping",
    "attachment_id",
    "build_attachment",
    "complete_message",
    "map_webhook",
    "message_event_id",
    "redact",
    "status_event_id",
]

CHANNEL: Final = "whatsapp"
OBJECT: Final = "whatsapp_business_account"
_STATUSES: Final[frozenset[DeliveryStatus]] = frozenset({"sent", "delivered", "read", "failed"})
_PHONE: Final = re.compile(r"\+?[0-9]{5,20}")

Scope = Literal["payload", "change", "message", "status"]
FindMessageId = Callable[[str], str | None]
"""wamid -> our MessageSent.message_id, or None when the office never sent that message."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """An item that could not be mapped: `where` is its JSON path in the payload."""

    scope: Scope
    where: str
    reason: str
    provider_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something Meta reported that is not an event; worth a log line, not a dead letter."""

    where: str
    text: str


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A media message: `message` lacks only the attachments described by `media`."""

    message: MessageReceived
    media: tuple[MediaToFetch, ...]


@dataclass(frozen=True, slots=True)
class WebhookMapping:
    messages: tuple[MessageReceived, ...] = ()
    pending: tuple[PendingMessage, ...] = ()
    statuses: tuple[DeliveryStatusChanged, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    notices: tuple[Notice, ...] = ()

    @property
    def is_rejected_whole(self) -> bool:
        """The payload itself was unusable (not a WhatsApp Business Account webhook)."""
        # most webhooks have no rejection: no generator for them
        return bool(self.rejections) and any(r.scope == "payload" for r in self.rejections)

    @property
    def has_unknown_account(self) -> bool:
        """Some change was for a phone_number_id the office does not run: a configuration
        matter (a number added in Meta but not here), not the citizen's fault."""
        rejections = self.rejections
        return bool(rejections) and any(r.reason.startswith(_UNKNOWN_ACCOUNT) for r in rejections)


_UNKNOWN_ACCOUNT: Final = "metadata.phone_number_id is not one of the configured accounts"


def message_event_id(wamid: str) -> str:
    """The event id of an inbound message: the same for every redelivery of the wamid."""
    return derive_event_id(CHANNEL, wamid)


def status_event_id(wamid: str, status: str, error_codes: Sequence[str] = ()) -> str:
    """The event id of a status; a failure's error codes are part of what happened."""
    return derive_event_id(
        CHANNEL, wamid, status, *([",".join(error_codes)] if error_codes else [])
    )


def attachment_id(event_id: str, position: int) -> str:
    return derive_event_id(event_id, "attachment", str(position))


def map_webhook(
    payload: object,
    *,
    accounts: Collection[str],
    contacts: ContactIds,
    occurred_at: datetime,
    find_message_id: FindMessageId | None = None,
) -> WebhookMapping:
    """Map one webhook payload (parsed JSON); never raises on any JSON value.

    `accounts` are the office's phone_number_ids; `occurred_at` the receipt time (UTC);
    `find_message_id` resolves a status's wamid when Meta did not echo our message id
    in `biz_opaque_callback_data` (it does for sent, delivered and read).
    """
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    out = _Collector(accounts, contacts, occurred_at, find_message_id)
    if not isinstance(payload, dict):
        out.reject("payload", "$", "the payload is not a JSON object")
    elif payload.get("object") != OBJECT:
        out.reject("payload", "$.object", f"object is not {OBJECT!r}")
    elif not isinstance(entries := payload.get("entry"), list):
        out.reject("payload", "$.entry", "entry is missing or not a list")
    else:
        for i, entry in enumerate(entries):
            changes = entry.get("changes") if isinstance(entry, dict) else None
            if not isinstance(changes, list):
                out.reject("change", f"$.entry[{i}]", "entry has no list of changes")
                continue
            for j, change in enumerate(changes):
                out.change(change, i, j)
    return out.result()


def build_attachment(
    event_id: str, media: MediaToFetch, stored: StoredMedia, media_type: str | None = None
) -> Attachment:
    """The Attachment of a fetched and stored file; `media_type` is the type the shell
    detected from the content, else the declared one is used."""
    return Attachment(
        attachment_id=attachment_id(event_id, media.position),
        provider_media_id=media.media_id,
        media_type=media_type or media.mime_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        storage_ref=stored.storage_ref,
        file_name=media.file_name,
        caption=media.caption,
    )


def complete_message(
    pending: PendingMessage,
    stored: Sequence[StoredMedia],
    media_types: Sequence[str | None] | None = None,
) -> MessageReceived | Rejection:
    """The MessageReceived of a pending message once each of its files (in order) was
    stored; rejected when a file's checksum differs from the one WhatsApp declared."""
    message = pending.message
    if len(stored) != len(pending.media):
        raise ValueError(f"{len(pending.media)} files to attach, {len(stored)} stored")
    types = media_types if media_types is not None else [None] * len(stored)
    attachments = []
    for media, kept, detected in zip(pending.media, stored, types, strict=True):
        if media.sha256 is not None and media.sha256 != kept.sha256.lower():
            return Rejection(
                "message",
                f"media[{media.position}] (WhatsApp media id {media.media_id})",
                "the downloaded file's sha256 differs from the one WhatsApp declared",
                message.provider_message_id,
            )
        attachments.append(build_attachment(message.event_id, media, kept, detected))
    return replace(message, attachments=tuple(attachments))


def _change_path(i: int, j: int, below: str = "") -> str:
    """The JSON path of `below` in the change `$.entry[i].changes[j]`; built only for a
    rejection or a notice, which most webhooks have none of."""
    return f"$.entry[{i}].changes[{j}]{below}"


class _Collector:
    """Walks one payload and gathers its events, pending messages, rejections, notices.

    A message or a status is read with paths relative to it ("" is the item itself): the
    readers raise `Invalid` with such a path, and `change` writes out the whole path only
    for the item it rejects.
    """

    __slots__ = (
        "accounts",
        "contacts",
        "find_message_id",
        "messages",
        "notices",
        "occurred_at",
        "pending",
        "rejections",
        "seen",
        "statuses",
    )

    def __init__(
        self,
        accounts: Collection[str],
        contacts: ContactIds,
        occurred_at: datetime,
        find_message_id: FindMessageId | None,
    ) -> None:
        self.accounts, self.contacts, self.occurred_at = accounts, contacts, occurred_at
        self.find_message_id = find_message_id
        self.messages: list[MessageReceived] = []
        self.pending: list[PendingMessage] = []
        self.statuses: list[DeliveryStatusChanged] = []
        self.rejections: list[Rejection] = []
        self.notices: list[Notice] = []
        self.seen: set[str] = set()

    def result(self) -> WebhookMapping:
        return WebhookMapping(
            tuple(self.messages),
            tuple(self.pending),
            tuple(self.statuses),
            tuple(self.rejections),
            tuple(self.notices),
        )

    def reject(self, scope: Scope, where: str, reason: str, wamid: str | None = None) -> None:
        self.rejections.append(Rejection(scope, where, reason, wamid))

    def change(self, change: object, i: int, j: int) -> None:
        """Map the change `$.entry[i].changes[j]`."""
        if not isinstance(change, dict):
            self.reject("change", _change_path(i, j), "change is not an object")
            return
        field = change.get("field")
        if field != "messages":
            text = f"webhook field {p.safe(field)} is not handled"
            self.notices.append(Notice(_change_path(i, j), text))
            return
        value = change.get("value")
        if not isinstance(value, dict):
            self.reject("change", _change_path(i, j, ".value"), "value is missing or not an object")
            return
        if value.get("messaging_product") != "whatsapp":
            where = _change_path(i, j, ".value.messaging_product")
            self.reject("change", where, "messaging_product is not whatsapp")
            return
        metadata = value.get("metadata")
        account = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if not isinstance(account, str) or not account:
            where = _change_path(i, j, ".value.metadata")
            self.reject("change", where, "metadata.phone_number_id is missing")
            return
        if account not in self.accounts:
            where = _change_path(i, j, ".value.metadata.phone_number_id")
            self.reject("change", where, _UNKNOWN_ACCOUNT)
            return
        names = p.profile_names(value.get("contacts"))
        for key, scope, handle in _ITEMS:
            items = value.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                self.reject("change", _change_path(i, j, f".value.{key}"), f"{key} is not a list")
                continue
            for k, item in enumerate(items):
                try:
                    handle(self, item, account, names)
                except p.Invalid as exc:
                    whole = exc.under(_change_path(i, j, f".value.{key}[{k}]"))
                    self.reject(scope, whole.where, whole.reason, p.wamid_of(item))
        errors = value.get("errors")
        for k, error in enumerate(errors if isinstance(errors, list) else ()):
            where = _change_path(i, j, f".value.errors[{k}]")
            self.notices.append(Notice(where, p.describe_error(error, redact)))

    def message(self, raw: object, account: str, names: Mapping[str, str]) -> None:
        """Map one message, once per wamid; paths in its `Invalid` are relative to it."""
        item = p.obj(raw, "")
        wamid = p.req_str(item, "id", "")
        sender = p.req_str(item, "from", "")
        if not _PHONE.fullmatch(sender):
            raise p.Invalid(".from", "from is not a WhatsApp phone number")
        contact = self._contact(sender, ".from")
        kind = p.req_str(item, "type", "")
        content = read_content(item, kind, "")
        context = p.opt_obj(item, "context", "")
        reply_to = p.opt_str(context, "id", ".context") if context else None
        received_at, raw_time = p.moment(item.get("timestamp"))
        event_id = message_event_id(wamid)
        if event_id in self.seen:  # only once read whole: an unreadable repeat is rejected
            return
        self.seen.add(event_id)
        address = sender.lstrip("+")
        message = MessageReceived(
            event_id=event_id,
            occurred_at=self.occurred_at,
            correlation_id=event_id,
            subject_id=contact.subject_id,
            channel=CHANNEL,
            contact_id=contact.contact_id,
            contact_address="+" + address,
            channel_account_id=account,
            provider_message_id=wamid,
            kind=content.kind,
            sender_name=names.get(address) or names.get(""),
            text=content.text,
            reply_to_provider_message_id=content.reply_to or reply_to,
            thread_id=reply_to,
            location=content.location,
            shared_contacts=content.shared_contacts,
            interactive_reply_id=content.reply_id,
            reaction_emoji=content.emoji,
            received_at=received_at or self.occurred_at,
            provider_timestamp=raw_time,
        )
        if content.media:
            self.pending.append(PendingMessage(message, content.media))
        else:
            self.messages.append(message)

    def status(self, raw: object, account: str, names: Mapping[str, str]) -> None:
        """Map one status, once per event id; paths in its `Invalid` are relative to it."""
        item = p.obj(raw, "")
        wamid = p.req_str(item, "id", "")
        status = p.req_str(item, "status", "")
        if status not in _STATUSES:
            raise p.Invalid(".status", f"unknown status {p.safe(status)}")
        recipient = p.req_str(item, "recipient_id", "")
        if not _PHONE.fullmatch(recipient):
            raise p.Invalid(".recipient_id", "recipient_id is not a phone number")
        contact = self._contact(recipient, ".recipient_id")
        message_id = p.opt_str(item, "biz_opaque_callback_data", "")
        if message_id is None and self.find_message_id is not None:
            message_id = self.find_message_id(wamid)
        if not message_id:
            raise p.Invalid("", "status for an unknown message")
        errors = read_delivery_errors(item, "", recipient) if status == "failed" else ()
        status_at, raw_time = p.moment(item.get("timestamp"))
        event_id = status_event_id(wamid, status, [e.code for e in errors])
        if event_id in self.seen:
            return
        self.seen.add(event_id)
        event = DeliveryStatusChanged(
            event_id=event_id,
            occurred_at=self.occurred_at,
            correlation_id=message_id,
            channel=CHANNEL,
            contact_id=contact.contact_id,
            message_id=message_id,
            provider_message_id=wamid,
            status=status,
            status_at=status_at or self.occurred_at,
            errors=errors,
            provider_timestamp=raw_time,
        )
        self.statuses.append(event)

    def _contact(self, address: str, where: str) -> ContactRef:
        try:
            return self.contacts.contact(CHANNEL, address)
        except ValueError as exc:
            raise p.Invalid(where, "not a usable WhatsApp address") from exc


_ItemReader = Callable[[_Collector, object, str, Mapping[str, str]], None]
_ITEMS: Final[tuple[tuple[str, Scope, _ItemReader], ...]] = (
    ("messages", "message", _Collector.message),
    ("statuses", "status", _Collector.status),
)
"""The lists of a change's value, the scope of their rejections, and their readers."""
