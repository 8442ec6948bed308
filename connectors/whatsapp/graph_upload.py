"""The pure half of the Graph API client's media uploads.

- `needs_upload`: the attachments of a MessageSent that WhatsApp has no media id for yet
  (files an agent sent);
- `check_upload` and `build_upload`: such a file goes first to POST
  /{version}/{phone_number_id}/media (`graph.media_upload_path`; multipart/form-data:
  `messaging_product`, `type`, `file`); a type or size WhatsApp does not take is refused
  before any request, and so are bytes that are not the file the attachment describes;
- `parse_upload_response`: the media id Meta assigned.

The sends that then name the media id are connectors.whatsapp.graph's. No HTTP calls, no
clock: the shell (connectors.whatsapp.graph_client, .deliver) reads the media store and
uploads. Must not depend on aiohttp or the media store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from connectors.whatsapp.graph import UnexpectedResponse, Unsendable
from schemas.events import Attachment, MessageSent
from schemas.personal import Erased

_MB: Final = 1_000_000  # Meta states its limits in MB; decimal stays on the safe side
_DOCUMENT: Final = 100 * _MB
UPLOAD_LIMITS: Final[Mapping[str, int]] = {
    "image/jpeg": 5 * _MB,
    "image/png": 5 * _MB,
    "image/webp": 500_000,  # a sticker (an animated one; a static one: 100 KB)
    "audio/aac": 16 * _MB,
    "audio/amr": 16 * _MB,
    "audio/mpeg": 16 * _MB,
    "audio/mp4": 16 * _MB,
    "audio/ogg": 16 * _MB,  # OPUS only
    "video/mp4": 16 * _MB,
    "video/3gpp": 16 * _MB,
    "text/plain": _DOCUMENT,
    "application/pdf": _DOCUMENT,
    "application/msword": _DOCUMENT,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _DOCUMENT,
    "application/vnd.ms-excel": _DOCUMENT,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _DOCUMENT,
    "application/vnd.ms-powerpoint": _DOCUMENT,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": _DOCUMENT,
}
"""What the Cloud API takes in an upload ("Supported media types"), type -> largest size."""
_UNSAFE_NAME: Final = re.compile(r"[\x00-\x1f\x7f/\\\"]")


@dataclass(frozen=True, slots=True)
class UploadForm:
    """The multipart/form-data of POST /{version}/{phone_number_id}/media: the fields in
    order (`messaging_product`, `type`), then `file` with its name and content type."""

    media_type: str
    file_name: str
    content: bytes

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        return (("messaging_product", "whatsapp"), ("type", self.media_type))


def needs_upload(message: MessageSent) -> tuple[Attachment, ...]:
    """The attachments WhatsApp has no media id for yet (files an agent sent)."""
    return tuple(a for a in message.attachments if not a.provider_media_id)


def check_upload(attachment: Attachment) -> str | Unsendable:
    """The MIME type to upload `attachment` as, if WhatsApp takes that type at its size."""
    mime = attachment.media_type.split(";")[0].strip().lower()
    limit = UPLOAD_LIMITS.get(mime)
    if limit is None:
        return Unsendable(
            f"attachment {attachment.attachment_id} is {mime or 'of no type'}, which WhatsApp "
            f"does not take (it takes {', '.join(sorted(UPLOAD_LIMITS))})"
        )
    if attachment.size_bytes > limit:
        return Unsendable(
            f"attachment {attachment.attachment_id} has {attachment.size_bytes} bytes, above "
            f"WhatsApp's {limit} for {mime}"
        )
    return mime


def build_upload(attachment: Attachment, content: bytes) -> UploadForm | Unsendable:
    """The upload of `content`, read back from the media store for `attachment`: refused
    when it is not the file the attachment describes (its checksum or size differ)."""
    mime = check_upload(attachment)
    if isinstance(mime, Unsendable):
        return mime
    if hashlib.sha256(content).hexdigest() != attachment.sha256.lower():
        return Unsendable(
            f"attachment {attachment.attachment_id} does not match its sha256 in the media store"
        )
    if len(content) != attachment.size_bytes:
        return Unsendable(
            f"attachment {attachment.attachment_id} has {len(content)} bytes in the media store, "
            f"not the {attachment.size_bytes} it declares"
        )
    if isinstance(attachment.file_name, Erased):
        return Unsendable(f"attachment {attachment.attachment_id} is erased")
    name = _UNSAFE_NAME.sub("_", attachment.file_name or "")[-240:].strip()
    return UploadForm(mime, name or attachment.attachment_id, content)


def parse_upload_response(body: object) -> str:
    """The media id from a 2xx answer to an upload: `{"id": "<media id>"}`."""
    media_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(media_id, str) or not media_id:
        raise UnexpectedResponse("the upload response has no id (media id)")
    return media_id
