"""Citizens' data keys in PostgreSQL, wrapped by the master key (crypto-shredding).

Each subject (citizen) has one 256-bit data key, stored wrapped with AES key wrap
(RFC 3394) under the master key from the settings; the table holds no usable key without
it. `destroy` overwrites the wrapped key with NULL, keeps a tombstone (so a destroyed key
is told apart from one never made, and is never silently re-created) and vacuums the
table so the old row version leaves the heap.

The codec needs keys synchronously, so the store keeps loaded keys in memory and serves
them through the `KeyRing` protocol: `await ensure(subjects)` before encoding,
`await load(subjects)` before decoding, then pass the store as the key ring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from schemas.errors import KeyNotLoaded
from schemas.personal import DataKey, forget_ciphers
from streams.shared.errors import InfrastructureError

DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.data_keys (
    subject_id    text PRIMARY KEY,
    wrapped_key   bytea,
    master_key_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    destroyed_at  timestamptz,
    CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);
"""


class SubjectErased(InfrastructureError):
    """A key was asked for encryption after the subject was erased: nothing new may be written."""


class PostgresKeyStore:
    def __init__(self, pool: Any, master_key: bytes, *, schema: str = "acolhe_keys") -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._pool = pool
        self._master = master_key
        self._master_id = hashlib.sha256(b"acolhe-master-key-id" + master_key).hexdigest()[:16]
        self._schema = f'"{schema}"'
        self._cache: dict[str, bytes | None] = {}

    async def create_tables(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(DDL.format(schema=self._schema))

    async def load(self, subjects: Iterable[str]) -> None:
        """Bring these subjects' keys into memory (a missing or destroyed key loads as erased)."""
        wanted = [s for s in set(subjects) if s not in self._cache]
        if not wanted:
            return
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT subject_id, wrapped_key FROM {self._schema}.data_keys "
                "WHERE subject_id = ANY($1::text[])",
                wanted,
            )
        found = {r["subject_id"]: r["wrapped_key"] for r in rows}
        for subject in wanted:
            wrapped = found.get(subject)
            self._cache[subject] = self._unwrap(subject, wrapped) if wrapped is not None else None

    async def ensure(self, subjects: Iterable[str]) -> None:
        """Make keys for the subjects that have none, then load them all."""
        wanted = sorted({s for s in subjects if self._cache.get(s) is None})
        if wanted:
            rows = [
                (
                    s,
                    aes_key_wrap(self._master, AESGCM.generate_key(bit_length=256)),
                    self._master_id,
                )
                for s in wanted
            ]
            async with self._pool.acquire() as conn:
                # ON CONFLICT keeps a concurrent writer's key, and keeps tombstones: an erased
                # subject never gets a new key by accident.
                await conn.executemany(
                    f"INSERT INTO {self._schema}.data_keys (subject_id, wrapped_key, master_key_id)"
                    " VALUES ($1, $2, $3) ON CONFLICT (subject_id) DO NOTHING",
                    rows,
                )
            for s in wanted:
                self._cache.pop(s, None)
        await self.load(wanted)

    async def destroy(self, subject_id: str) -> bool:
        """Destroy the subject's key (or record a tombstone if it had none); False if it
        was already destroyed."""
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                f"INSERT INTO {self._schema}.data_keys AS k "
                "(subject_id, wrapped_key, master_key_id, destroyed_at) "
                "VALUES ($1, NULL, $2, now()) "
                "ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = NULL, destroyed_at = now() "
                "WHERE k.wrapped_key IS NOT NULL",
                subject_id,
                self._master_id,
            )
            await conn.execute(f"VACUUM {self._schema}.data_keys")
        self._cache[subject_id] = None
        forget_ciphers()
        return bool(status.endswith(" 1"))

    def forget(self) -> None:
        """Drop the in-memory keys (e.g. after another process erased someone)."""
        self._cache.clear()

    # -- KeyRing ----------------------------------------------------------------------------

    def encryption_key(self, subject_id: str) -> DataKey:
        if subject_id not in self._cache:
            raise KeyNotLoaded(f"key of {subject_id!r} not loaded: await ensure([...]) first")
        key = self._cache[subject_id]
        if key is None:
            raise SubjectErased(f"subject {subject_id!r} was erased; no new data may be sealed")
        return DataKey(subject_id, key)

    def decryption_key(self, subject_id: str) -> DataKey | None:
        if subject_id not in self._cache:
            raise KeyNotLoaded(f"key of {subject_id!r} not loaded: await load([...]) first")
        key = self._cache[subject_id]
        return DataKey(subject_id, key) if key is not None else None

    def _unwrap(self, subject_id: str, wrapped: bytes) -> bytes:
        try:
            return bytes(aes_key_unwrap(self._master, bytes(wrapped)))
        except InvalidUnwrap as exc:
            raise InfrastructureError(
                f"the data key of {subject_id!r} does not unwrap with this master key: "
                "check ACOLHE_MASTER_KEY (it must be the key the store was written with)"
            ) from exc
