"""The files a web chat visitor sends (a photo of their RG, a PDF of a court paper): which
types and sizes the office takes, the descriptor an upload answers, and the checks on the
descriptors a `message` frame names back.

An upload (`POST /webchat/files?name=...`, the body the file's bytes) is refused, in order:
- a name that is no file name (`name_problem`) or a Content-Type that is no media type;
- a type the office does not take (`ACOLHE_WEBCHAT_FILE_TYPES`): 415 with the list;
- more bytes than `ACOLHE_WEBCHAT_MAX_FILE_BYTES`: 413; none: 400;
- bytes that are not what the Content-Type says (`content_matches`: a PNG starts as a PNG
  does): 415. Every type the office may take is one recognized by its first bytes, so a
  page or a program renamed `.jpg` never reaches an agent's screen.
Then it is sealed in the media store under the visitor's citizen's key, and its descriptor
is derived from what it is, so the same file uploaded twice by one visitor is one file:
- `attachment_id` = derive_event_id("web_chat", "attachment", contact_id, sha256);
- `storage_ref` = connectors.common.media.storage_ref(subject_id, sha256).
A frame's descriptors are checked for their form by connectors.webchat.protocol
(`read_descriptor`, here) and against the visitor (`foreign_field`, here: the id and the
reference must be the visitor's own) and the stored file (the shell: it opens and has the
descriptor's checksum and size).

Pure: must not depend on aiohttp, Kafka, Postgres or the media store's I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from connectors.common.files import file_name_problem, media_type_of
from connectors.common.media import storage_ref
from schemas.envelope import derive_event_id
from schemas.events import Attachment

CHANNEL: Final = "web_chat"
DEFAULT_MAX_FILE_BYTES: Final = 10 * 1024 * 1024
"""A phone photo of a document is 1 to 5 MB; a scanned PDF of a few pages rarely above 10."""
MAX_ATTACHMENTS: Final = 5
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1"})


def _is_jpeg(head: bytes) -> bool:
    return head.startswith(b"\xff\xd8\xff")


def _is_png(head: bytes) -> bool:
    return head.startswith(b"\x89PNG\r\n\x1a\n")


def _is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_gif(head: bytes) -> bool:
    return head[:6] in (b"GIF87a", b"GIF89a")


def _is_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def _is_pdf(head: bytes) -> bool:
    return b"%PDF-" in head[:1024]  # readers accept a little junk before the header


RECOGNIZED: Final[Mapping[str, Callable[[bytes], bool]]] = {
    "image/jpeg": _is_jpeg,
    "image/png": _is_png,
    "image/webp": _is_webp,
    "image/gif": _is_gif,
    "image/heic": _is_heif,
    "image/heif": _is_heif,
    "application/pdf": _is_pdf,
}
"""Every type the office may take, with how its bytes begin."""
DEFAULT_FILE_TYPES: Final = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/heic",
    "application/pdf",
)
"""Photos of documents (iPhones take HEIC) and PDFs: what the office asks citizens for."""

_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_STORAGE_REF: Final = re.compile(r"media/[0-9a-f]{64}")
_ATTACHMENT_ID: Final = re.compile(r"[0-9a-f-]{36}")
FIELDS: Final = ("attachment_id", "sha256", "size_bytes", "media_type", "file_name", "storage_ref")


@dataclass(frozen=True, slots=True)
class FileRefused:
    """Why an upload is refused: the HTTP status, the code and the reason for the widget."""

    status: int
    code: str
    reason: str
    field: str | None = None


def attachment_id_for(contact_id: str, sha256: str) -> str:
    """The attachment id of the file with this checksum uploaded by this contact."""
    return derive_event_id(CHANNEL, "attachment", contact_id, sha256)


def normalized_media_type(declared: str | None) -> str | None:
    """The `type/subtype` of a Content-Type (lowercase, parameters dropped), or None."""
    return media_type_of(declared)


def name_problem(name: object) -> str | None:
    """Why `name` cannot name a file, or None."""
    return file_name_problem(name, example="rg.jpg")


def check_upload_header(
    name: str | None, content_type: str | None, *, accepted: tuple[str, ...]
) -> str | FileRefused:
    """The upload's media type, or why the request is refused before its body is read."""
    if (problem := name_problem(name)) is not None:
        return FileRefused(400, "invalid_field", f"name: {problem}", field="name")
    media_type = normalized_media_type(content_type)
    if media_type is None:
        return FileRefused(
            400, "invalid_field", "Content-Type: the file's media type", field="Content-Type"
        )
    if media_type not in accepted:
        return unsupported(accepted)
    return media_type


def check_upload_body(content: bytes, media_type: str) -> FileRefused | None:
    """None when `content` is a file of `media_type`; why not otherwise (size is the
    shell's: it stops reading at the limit)."""
    if not content:
        return FileRefused(400, "invalid_field", "body: empty: send the file's bytes", "body")
    if not content_matches(media_type, content):
        return FileRefused(
            415, "type_mismatch", f"the file is not a {media_type}: send the file as it is"
        )
    return None


def unsupported(accepted: tuple[str, ...]) -> FileRefused:
    return FileRefused(415, "unsupported_type", f"the office takes {', '.join(accepted)}")


def content_matches(media_type: str, content: bytes) -> bool:
    """Whether `content` begins as a file of `media_type` does (a type not recognized: no)."""
    recognizes = RECOGNIZED.get(media_type)
    return bool(recognizes and recognizes(content[:1024]))


def read_descriptor(item: object, at: str) -> Attachment | tuple[str, str]:
    """The attachment a frame's descriptor names, or its first problem: (field, rule). The
    form only: whose it is, `foreign_field`; whether it is stored, the shell."""
    if not isinstance(item, dict):
        return at, f"an object: {', '.join(FIELDS)}, as POST /webchat/files answered"
    unknown = next((key for key in item if key not in FIELDS), None)
    if unknown is not None:
        return f"{at}.{unknown}", "a file descriptor has no such field"
    for key, is_valid, rule in _DESCRIPTOR_RULES:
        if key not in item:
            return f"{at}.{key}", "required, as POST /webchat/files answered"
        if not is_valid(item[key]):
            return f"{at}.{key}", rule
    return Attachment(
        attachment_id=item["attachment_id"],
        media_type=item["media_type"],
        size_bytes=item["size_bytes"],
        sha256=item["sha256"],
        storage_ref=item["storage_ref"],
        file_name=item["file_name"],
    )


def _matches(pattern: re.Pattern[str]) -> Callable[[object], bool]:
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_media_type(value: object) -> bool:
    return isinstance(value, str) and normalized_media_type(value) == value


_DESCRIPTOR_RULES: Final[tuple[tuple[str, Callable[[object], bool], str], ...]] = (
    ("attachment_id", _matches(_ATTACHMENT_ID), "the attachment_id the upload answered"),
    ("sha256", _matches(_SHA256), "64 lowercase hexadecimal digits"),
    ("size_bytes", _is_size, "the size the upload answered: a positive integer"),
    ("media_type", _is_media_type, "a media type such as image/jpeg"),
    ("file_name", lambda v: name_problem(v) is None, "a file name, e.g. rg.jpg: no / or \\"),
    ("storage_ref", _matches(_STORAGE_REF), "the storage_ref the upload answered"),
)
"""Each field of a descriptor, in order, with what it must be."""


def foreign_field(
    attachment: Attachment,
    *,
    contact_id: str,
    subject_id: str,
    accepted: tuple[str, ...],
    max_bytes: int,
) -> tuple[str, str] | None:
    """The first field of a descriptor that is not a file this visitor could have uploaded
    (another visitor's, or one made up), as (field, rule); None when it could be."""
    if attachment.attachment_id != attachment_id_for(contact_id, attachment.sha256):
        return "attachment_id", "not a file you uploaded"
    if attachment.storage_ref != storage_ref(subject_id, attachment.sha256):
        return "storage_ref", "not a file you uploaded"
    if attachment.media_type not in accepted:
        return "media_type", f"one of {', '.join(accepted)}"
    if attachment.size_bytes > max_bytes:
        return "size_bytes", f"at most {max_bytes}"
    return None


def content_disposition(file_name: str) -> str:
    """`attachment; filename*=UTF-8''...` (RFC 6266/8187), with an ASCII `filename` first
    for old clients: the browser saves the file and never shows it in the chat's page."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in file_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"
