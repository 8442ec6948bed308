"""What every connector that takes a file checks of its name and declared type, before a
byte of it is read, and the descriptor it answers with: the gateway (an agent's file) and
the web chat (a visitor's).

Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any, Final

from schemas.events import Attachment

MAX_FILE_NAME_CHARS: Final = 255
_MEDIA_TYPE: Final = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_NAME_FORBIDDEN: Final = re.compile(r"[\x00-\x1f\x7f/\\]")


def file_name_problem(name: object, *, example: str) -> str | None:
    """Why `name` cannot name a file, or None; `example` shows a good one."""
    if not isinstance(name, str) or not name.strip():
        return f"required: the file's name, e.g. {example}"
    if len(name) > MAX_FILE_NAME_CHARS:
        return f"at most {MAX_FILE_NAME_CHARS} characters"
    if _NAME_FORBIDDEN.search(name) or name.strip() in (".", ".."):
        return "a file name: no path separator (/ or \\) nor control character"
    return None


def media_type_of(declared: str | None) -> str | None:
    """The `type/subtype` of a Content-Type (lowercase, parameters dropped), or None when
    it is missing, malformed or a container (multipart, message) rather than a file."""
    bare = (declared or "").split(";")[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(bare) or bare.startswith(("multipart/", "message/")):
        return None
    return bare


def descriptor(attachment: Attachment) -> dict[str, Any]:
    """What an upload answers, and what a reply or a message names the file by."""
    return {
        "attachment_id": attachment.attachment_id,
        "sha256": attachment.sha256,
        "size_bytes": attachment.size_bytes,
        "media_type": attachment.media_type,
        "file_name": attachment.file_name,
        "storage_ref": attachment.storage_ref,
    }
