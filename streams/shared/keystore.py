"""Citizens' data keys in PostgreSQL, wrapped by the master key (crypto-shredding).

Each subject (citizen) has one 256-bit data key, stored wrapped with AES key wrap
(RFC 3394) under the master key from the settings; the table holds no usable key without
it. `shred` overwrites the wrapped key with NULL, keeps a tombstone (so a destroyed key
is told apart from one never made, and is never silently re-created) and vacuums the
table so the old row version leaves the heap.

The codec needs keys synchronously, so the store keeps loaded keys in memory and serves
them through the `KeyRing` protocol: `await ensure(subjects)` before encoding,
`await load(subjects)` before decoding, then pass the store as the key ring.

Keys destroyed by another process (`acolhe erase`) leave this store's memory too: at most
every `recheck_s` seconds, `load` and `ensure` ask the table which keys were destroyed
lately (`destroyed_at`, indexed) and drop those they hold. So a running processor,
projector or connector stops opening (ERASED) and sealing (`SubjectErased`) an erased
citizen's fields from its first batch after `recheck_s`, without a restart. A poll, not
LISTEN/NOTIFY: a notification sent while the listening connection is down is lost for
good, and holding a connection for it would take one from the caller's pool; this store
is only ever used right after `load` or `ensure`, which is exactly where the poll runs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final, Literal

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
CREATE INDEX IF NOT EXISTS data_keys_destroyed_idx
    ON {schema}.data_keys (destroyed_at) WHERE destroyed_at IS NOT NULL;
"""

RECHECK_S: Final = 1.0
"""How often (at most) a store asks which keys were destroyed since it last asked."""

RECHECK_OVERLAP: Final = timedelta(minutes=5)
"""Each poll looks back this far before the previous one: `destroyed_at` is the start of
the destroying transaction, which may commit after a poll that began later."""

Shredded = Literal["destroyed", "tombstoned", "already_destroyed", "already_tombstoned"]
"""What `shred` found and did: the subject's key destroyed now; no key ever made, so a
tombstone recorded now; or either of those done before (nothing changed)."""


class SubjectErased(InfrastructureError):
    """A key was asked for encryption after the subject was erased: nothing new may be written."""


class PostgresKeyStore:
    def __init__(
        self,
        pool: Any,
        master_key: bytes,
        *,
        schema: str = "acolhe_keys",
        recheck_s: float = RECHECK_S,
    ) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._pool = pool
        self._master = master_key
        self._master_id = hashlib.sha256(b"acolhe-master-key-id" + master_key).hexdigest()[:16]
        self._schema = f'"{schema}"'
        self._cache: dict[str, bytes | None] = {}
        self._recheck_s = recheck_s
        self._rechecked: float | None = None  # time.monotonic() of the last poll
        self._destroyed_since: datetime | None = None  # the database's clock

    async def create_tables(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(DDL.format(schema=self._schema))

    async def load(self, subjects: Iterable[str]) -> None:
        """Bring these subjects' keys into memory (a missing or destroyed key loads as erased),
        first dropping the keys destroyed elsewhere since the last poll, when one is due."""
        wanted = [s for s in set(subjects) if s not in self._cache]
        due = self._recheck_due()
        if not wanted and not due:
            return
        async with self._pool.acquire() as conn:
            if due:
                await self._drop_destroyed(conn)
            if not wanted:
                return
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
        subjects = subjects if isinstance(subjects, set | frozenset) else set(subjects)
        due = self._recheck_due()
        if not due:
            cache = self._cache
            for subject in subjects:
                if cache.get(subject) is None:
                    break
            else:
                return  # the common case of a busy connector: every key held, no poll due
        if due:
            async with self._pool.acquire() as conn:
                await self._drop_destroyed(conn)
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

    async def shred(self, subject_id: str) -> Shredded:
        """Destroy the subject's key, or record a tombstone if it never had one, so that no
        key is ever made for it again. Idempotent: a second call changes nothing and says
        what the first did."""
        async with self._pool.acquire() as conn:
            # Postgres 18: `old` is the row before the upsert, all NULL when it inserted.
            changed = await conn.fetchrow(
                f"INSERT INTO {self._schema}.data_keys AS k "
                "(subject_id, wrapped_key, master_key_id, destroyed_at) "
                "VALUES ($1, NULL, $2, now()) "
                "ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = NULL, destroyed_at = now() "
                "WHERE k.wrapped_key IS NOT NULL "
                "RETURNING old.subject_id IS NULL AS inserted",
                subject_id,
                self._master_id,
            )
            outcome: Shredded
            if changed is not None:
                # The old row version holds the wrapped key: vacuum it out of the heap.
                await conn.execute(f"VACUUM {self._schema}.data_keys")
                outcome = "tombstoned" if changed["inserted"] else "destroyed"
            else:
                # A tombstone is written in one transaction: made and destroyed at once.
                never_had_one = await conn.fetchval(
                    f"SELECT created_at = destroyed_at FROM {self._schema}.data_keys "
                    "WHERE subject_id = $1",
                    subject_id,
                )
                outcome = "already_tombstoned" if never_had_one else "already_destroyed"
        self._cache[subject_id] = None
        forget_ciphers()
        return outcome

    async def destroy(self, subject_id: str) -> bool:
        """Destroy the subject's key (or record a tombstone if it had none); False if it
        was already destroyed."""
        return await self.shred(subject_id) in ("destroyed", "tombstoned")

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

    # -- keys destroyed elsewhere -----------------------------------------------------------

    def _recheck_due(self) -> bool:
        return self._rechecked is None or time.monotonic() - self._rechecked >= self._recheck_s

    async def _drop_destroyed(self, conn: Any) -> None:
        """Forget the keys held here that were destroyed since the last poll (looking back
        `RECHECK_OVERLAP` further), so they are served as erased from now on."""
        # One poll at a time: concurrent callers (a connector's requests in flight) find it
        # done, instead of each sending the same query when it falls due.
        if not self._recheck_due():
            return
        since = self._destroyed_since
        previous, self._rechecked = self._rechecked, time.monotonic()
        try:
            row = await conn.fetchrow(
                "SELECT statement_timestamp() AS now, "
                f"ARRAY(SELECT subject_id FROM {self._schema}.data_keys "
                "       WHERE $1::timestamptz IS NOT NULL AND destroyed_at >= $1) AS destroyed",
                since - RECHECK_OVERLAP if since is not None else None,
            )
        except BaseException:
            self._rechecked = previous
            raise
        self._rechecked = time.monotonic()
        self._destroyed_since = row["now"]
        dropped = False
        for subject in row["destroyed"]:
            if self._cache.get(subject) is not None:
                self._cache[subject] = None
                dropped = True
        if dropped:
            forget_ciphers()

    def _unwrap(self, subject_id: str, wrapped: bytes) -> bytes:
        try:
            return bytes(aes_key_unwrap(self._master, bytes(wrapped)))
        except InvalidUnwrap as exc:
            raise InfrastructureError(
                f"the data key of {subject_id!r} does not unwrap with this master key: "
                "check ACOLHE_MASTER_KEY (it must be the key the store was written with)"
            ) from exc
