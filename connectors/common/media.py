"""The media store: files that came with messages (WhatsApp media, email attachments, web
chat uploads), kept by reference. Events carry an `Attachment` description (checksum, size,
type, `storage_ref`), never the content.

Each file is sealed (AES-GCM) with its citizen's data key before it is written, so erasing
the citizen (destroying the key) shreds their files too, wherever copies of the store went.
The reference derives from the subject and the content's checksum: the same file sent twice
by one citizen is stored once, and the reference names no person.

`MediaStore` is the port; `FileMediaStore` keeps files in a local directory (a mounted
volume in production; an object store can implement the same port).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.personal import DataKey

MEDIA_VERSION = 0x01
_NONCE = 12


class MediaTooLarge(ValueError):
    """A file above the store's size limit: refused, nothing written."""


@dataclass(frozen=True)
class StoredMedia:
    sha256: str
    size_bytes: int
    storage_ref: str


class MediaStore(Protocol):
    max_bytes: int

    async def put(self, key: DataKey, content: bytes) -> StoredMedia:
        """Seal and keep `content`; idempotent for the same subject and content."""
        ...

    async def get(self, key: DataKey, storage_ref: str) -> bytes:
        """The content kept under `storage_ref`, opened with the subject's key."""
        ...


def storage_ref(subject_id: str, sha256: str) -> str:
    digest = hashlib.sha256(f"{subject_id}\x1f{sha256}".encode()).hexdigest()
    return f"media/{digest}"


def seal_media(key: DataKey, ref: str, content: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return bytes([MEDIA_VERSION]) + nonce + AESGCM(key.key).encrypt(nonce, content, ref.encode())


def open_media(key: DataKey, ref: str, sealed: bytes) -> bytes:
    if not sealed or sealed[0] != MEDIA_VERSION:
        raise ValueError(f"{ref}: not a sealed media file")
    try:
        return AESGCM(key.key).decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], ref.encode())
    except InvalidTag as exc:
        raise ValueError(f"{ref}: does not open with this subject's key") from exc


class FileMediaStore:
    """Sealed files under `root`, written atomically (temporary file, fsync, rename)."""

    def __init__(self, root: Path, *, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.root = root
        self.max_bytes = max_bytes

    async def put(self, key: DataKey, content: bytes) -> StoredMedia:
        if len(content) > self.max_bytes:
            raise MediaTooLarge(f"file of {len(content)} bytes is above the {self.max_bytes} limit")
        sha = hashlib.sha256(content).hexdigest()
        ref = storage_ref(key.subject_id, sha)
        await asyncio.to_thread(self._write, ref, seal_media(key, ref, content))
        return StoredMedia(sha256=sha, size_bytes=len(content), storage_ref=ref)

    async def get(self, key: DataKey, storage_ref: str) -> bytes:
        sealed = await asyncio.to_thread((self.root / storage_ref).read_bytes)
        return open_media(key, storage_ref, sealed)

    def _write(self, ref: str, sealed: bytes) -> None:
        path = self.root / ref
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(sealed)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
