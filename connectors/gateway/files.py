"""The files an agent sends a citizen, as the gateway takes them: the upload's file name
and media type, the descriptor the upload answers, and the `attachments` of a reply that
name those descriptors back.

An upload (`POST /v1/cases/{case_id}/files?name=...`, the body the file's bytes) is sealed
in the media store under the case's citizen's key; its descriptor is derived from what it
is, so the same file sent twice to one case is the same attachment:
- `attachment_id` = derive_event_id(SOURCE, "attachment", case_id, sha256);
- `storage_ref` = connectors.common.media.storage_ref(citizen, sha256) (the store's own).
A reply's `attachments` are those descriptors, as the upload answered them: each field is
checked for its form here (`read_attachments`, every problem named, never quoting a value),
the attachment_id against the path's case; the shell checks the storage_ref against the
case's citizen, which only it knows. Size and type are the connectors' to check against
the stored file (WhatsApp checks the sha256 and size before it uploads).

Pure: must not depend on aiohttp, Kafka, Postgres or the media store's I/O.
"""

from __future__ import annotations

import re
from typing import Final

from connectors.common import files
from schemas.envelope import derive_event_id
from schemas.events import Attachment

SOURCE: Final = "connectors.gateway"
MAX_ATTACHMENTS: Final = 10
MAX_DESCRIBED_BYTES: Final = 1 << 30
"""A bound on a descriptor's size_bytes (the upload's own limit is a setting)."""
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_STORAGE_REF: Final = re.compile(r"media/[0-9a-f]{64}")
_FIELDS: Final = frozenset(
    {"attachment_id", "sha256", "size_bytes", "media_type", "file_name", "storage_ref"}
)

Problems = list[tuple[str, str]]


def attachment_id_for(case_id: str, sha256: str) -> str:
    """The attachment id of the file with this checksum uploaded to this case."""
    return derive_event_id(SOURCE, "attachment", case_id, sha256)


def file_name_problem(name: object) -> str | None:
    """Why `name` cannot name a file sent to a citizen, or None."""
    return files.file_name_problem(name, example="peticao.pdf")


normalized_media_type = files.media_type_of


descriptor = files.descriptor


def read_attachments(
    value: object, field: str, *, case_id: str
) -> tuple[Attachment, ...] | Problems:
    """A reply's attachments from the body's `value`, or every problem, field by field."""
    if not isinstance(value, list) or not value:
        return [(field, f"a list of 1 to {MAX_ATTACHMENTS} files, as POST .../files answered")]
    if len(value) > MAX_ATTACHMENTS:
        return [(field, f"at most {MAX_ATTACHMENTS} files")]
    problems: Problems = []
    found: list[Attachment] = []
    for n, item in enumerate(value):
        read = _attachment(item, f"{field}[{n}]", case_id)
        if isinstance(read, Attachment):
            found.append(read)
        else:
            problems += read
    ids = [a.attachment_id for a in found]
    if not problems and len(set(ids)) != len(ids):
        problems.append((field, "the same file twice"))
    return problems or tuple(found)


def _attachment(item: object, at: str, case_id: str) -> Attachment | Problems:
    if not isinstance(item, dict):
        return [(at, "an object: attachment_id, sha256, size_bytes, media_type, file_name, "
                 "storage_ref")]  # fmt: skip
    problems: Problems = [(f"{at}.{k}", "unknown field") for k in item if k not in _FIELDS]
    sha256, size = item.get("sha256"), item.get("size_bytes")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        problems.append((f"{at}.sha256", "64 lowercase hexadecimal digits"))
    elif item.get("attachment_id") != attachment_id_for(case_id, sha256):
        problems.append((f"{at}.attachment_id", "not a file uploaded to this case"))
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_DESCRIBED_BYTES:
        problems.append((f"{at}.size_bytes", "the size the upload answered: a positive integer"))
    media_type = item.get("media_type")
    if not isinstance(media_type, str) or normalized_media_type(media_type) != media_type:
        problems.append((f"{at}.media_type", "a media type such as application/pdf"))
    if (reason := file_name_problem(item.get("file_name"))) is not None:
        problems.append((f"{at}.file_name", reason))
    storage = item.get("storage_ref")
    if not isinstance(storage, str) or not _STORAGE_REF.fullmatch(storage):
        problems.append((f"{at}.storage_ref", "the storage_ref the upload answered"))
    if problems:
        return problems
    return Attachment(
        attachment_id=str(item["attachment_id"]),
        media_type=str(media_type),
        size_bytes=int(str(size)),  # an int, checked above
        sha256=str(sha256),
        storage_ref=str(storage),
        file_name=str(item["file_name"]),
    )
