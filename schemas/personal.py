"""Personal fields encrypted per citizen (crypto-shredding).

A field marked `"acolhe.personal": true` in its schema holds, in the log, the AES-256-GCM
encryption of its UTF-8 text under the data key of the event's `subject_id` (the citizen).
Destroying that key makes the field unreadable everywhere the event was copied: topics,
replays, exports, backups. Decoding then yields `ERASED`, never an exception.

Sealed layout: version byte 0x01 | 12-byte random nonce | ciphertext | 16-byte tag. The
associated data binds a ciphertext to its subject and field, so it cannot be moved to
another citizen or another field unnoticed. A value that was ERASED when it was written (a
processor's output for a citizen erased since: `SEALED_ERASED`) is the version byte 0x00
alone: it holds nothing, and opens as ERASED with any key or none.

Must not depend on fastavro, Kafka or Postgres: keys come through the `KeyRing` protocol.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import DecodeError, EncodeError

SEALED_VERSION: Final = 1
SEALED_ERASED: Final = b"\x00"
"""How a value that is ERASED is written: no key seals it, it holds nothing."""
_NONCE = 12
_TAG = 16


class Erased:
    """The value of a personal field whose citizen's key was destroyed."""

    _instance: Erased | None = None

    def __new__(cls) -> Erased:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ERASED"

    def __bool__(self) -> bool:
        return False


ERASED: Final = Erased()


@dataclass(frozen=True)
class DataKey:
    subject_id: str
    key: bytes

    def __repr__(self) -> str:
        return f"DataKey({self.subject_id!r}, key=***)"


class KeyRing(Protocol):
    """Where the codec gets data keys; implemented by the Postgres key store's cache."""

    def encryption_key(self, subject_id: str) -> DataKey:
        """The subject's key; the ring creates one when the subject has none yet."""
        ...

    def decryption_key(self, subject_id: str) -> DataKey | None:
        """The subject's key, or None when it was destroyed (the data is erased)."""
        ...


class InMemoryKeyRing:
    """A key ring held in memory: for tools and benchmarks that need no persistence."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes | None] = {}

    def encryption_key(self, subject_id: str) -> DataKey:
        key = self._keys.get(subject_id)
        if key is None:
            if subject_id in self._keys:
                raise ValueError(f"subject {subject_id!r} was erased; it gets no new data")
            key = AESGCM.generate_key(bit_length=256)
            self._keys[subject_id] = key
        return DataKey(subject_id, key)

    def decryption_key(self, subject_id: str) -> DataKey | None:
        key = self._keys.get(subject_id)
        return DataKey(subject_id, key) if key is not None else None

    def destroy(self, subject_id: str) -> None:
        self._keys[subject_id] = None
        forget_ciphers()

    async def ensure(self, subjects: Iterable[str]) -> None:
        """Make keys for the subjects that have none, as the Postgres store does: afterwards
        `decryption_key` is None only for an erased subject."""
        for subject in subjects:
            if subject not in self._keys:
                self._keys[subject] = AESGCM.generate_key(bit_length=256)

    async def load(self, subjects: object) -> None:
        """Keys are all in memory; nothing to fetch."""


class Sealer:
    """Seals the personal values of one record with its subject's key, asked of the ring
    on the first value to seal (an ERASED value needs none: it is written as
    `SEALED_ERASED`). `sealer(path, value)` -> the bytes to write; EncodeError when the
    value is not text.

    A record has several personal fields: the cipher and the subject's part of the
    associated data are made once for all of them (a webhook's message seals three)."""

    __slots__ = ("_aad_head", "_aead", "_keyring", "_subject")

    def __init__(self, keyring: KeyRing, subject: str) -> None:
        self._keyring = keyring
        self._subject = subject
        self._aead: AESGCM | None = None
        self._aad_head = b""

    def __call__(self, path: str, value: object) -> bytes:
        if value.__class__ is not str:  # the usual value is text: one check for it
            if isinstance(value, Erased):
                return SEALED_ERASED
            if not isinstance(value, str):
                raise EncodeError(f"personal field {path} must be text, got {type(value).__name__}")
        aead = self._aead
        if aead is None:
            key = self._keyring.encryption_key(self._subject)
            aead = self._aead = _aead(key.key)
            self._aad_head = _aad(key.subject_id, "")
        nonce = _nonce()
        aad = self._aad_head + path.encode()
        return _SEALED_PREFIX + nonce + aead.encrypt(nonce, value.encode("utf-8"), aad)


def seal(key: DataKey, field_path: str, plaintext: str) -> bytes:
    """Encrypt one personal value for `key.subject_id` at `field_path`."""
    nonce = _nonce()
    aad = _aad(key.subject_id, field_path)
    return _SEALED_PREFIX + nonce + _aead(key.key).encrypt(nonce, plaintext.encode("utf-8"), aad)


class _Nonces:
    """Random 96-bit GCM nonces from the operating system's CSPRNG, drawn 4 KiB at a time:
    one getrandom call per 341 nonces instead of one per sealed value. Each nonce is a
    fresh slice of os.urandom's bytes, handed out once; a forked child drops what its
    parent had drawn, so two processes never share one."""

    _DRAW: Final = _NONCE * 341

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._drop)

    def _drop(self) -> None:
        self._pool, self._at = b"", 0

    def take(self) -> bytes:
        at = self._at
        if at + _NONCE > len(self._pool):
            self._pool, at = os.urandom(self._DRAW), 0
        self._at = at + _NONCE
        return self._pool[at : at + _NONCE]


_nonce: Final = _Nonces().take
_SEALED_PREFIX: Final = bytes([SEALED_VERSION])


def unseal(key: DataKey | None, field_path: str, sealed: bytes) -> str | Erased:
    """Decrypt one personal value; ERASED when the key is gone or the value was written
    erased (`SEALED_ERASED`), DecodeError when tampered."""
    if sealed == SEALED_ERASED:
        return ERASED
    if len(sealed) < 1 + _NONCE + _TAG or sealed[0] != SEALED_VERSION:
        raise DecodeError(f"personal field {field_path} is not a sealed value")
    if key is None:
        return ERASED
    nonce, body = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
    try:
        plain = _aead(key.key).decrypt(nonce, body, _aad(key.subject_id, field_path))
    except InvalidTag as exc:
        raise DecodeError(
            f"personal field {field_path} fails authentication: tampered, or sealed for "
            "another subject or field"
        ) from exc
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"personal field {field_path} is not UTF-8 text") from exc


@functools.lru_cache(maxsize=4096)
def _aead(key: bytes) -> AESGCM:
    """The cipher object of a key: building one costs more than sealing a short field."""
    return AESGCM(key)


def forget_ciphers() -> None:
    """Drop every cached cipher, so a destroyed key does not linger in this process."""
    _aead.cache_clear()


def _aad(subject_id: str, field_path: str) -> bytes:
    return f"acolhe/v1\x1f{subject_id}\x1f{field_path}".encode()
