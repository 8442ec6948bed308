"""The read model's versioned SQL migrations, applied by acolhe itself.

Migrations are the files `sql/NNNN_name.sql` of this package, numbered from 0001 without
gaps. Each is SQL with `{schema}` where the target schema goes (see `sqltext`). Applying one
records it in the schema's own table `acolhe_migrations` (version, name, the SHA-256 of the
file's text, when and by whom): a schema says which migrations it has, so a rebuild can
migrate a fresh schema next to the live one, and two schemas never share a record.

`migrate(conn_or_pool, schema)` applies what is pending, one migration per transaction.
Each transaction, in order:
1. take the schema's advisory lock (`pg_advisory_xact_lock`, a key derived from the schema
   name), waiting at most `lock_timeout_s`; the lock ends with the transaction, so a
   crashed migrator holds nothing;
2. create the schema and `acolhe_migrations` if missing;
3. read the record and check it against the shipped files: a recorded migration whose file
   changed (`MigrationChanged`), is gone, or that skips an unrecorded one
   (`MigrationMissing`) refuses the whole run before anything is applied;
4. run the first pending migration's SQL (with `search_path` set to the schema, so an
   unqualified name cannot land elsewhere) and record it;
5. commit; repeat until nothing is pending.
A second migrator waits at step 1, then finds at step 3 what the first applied: every
migration is applied once however many run at the same time, and a migration that fails
rolls back whole and is not recorded.

A migration runs inside a transaction, so it must not contain BEGIN/COMMIT or
`CREATE INDEX CONCURRENTLY`. `lock_timeout` applies to its statements too: a migration
that would queue behind long queries on a live table fails (retriable) instead of blocking
every reader behind it.

Parsing, checksums and the plan (`discover`, `pending`) are pure; `migrate` and `status`
are the asyncpg shell. Must not import Kafka, the settings, or the projector.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final

import asyncpg

from streams.projections.sqltext import check_schema_name, quote_ident, render
from streams.shared.errors import (
    ConfigurationError,
    InfrastructureError,
    RetriableInfrastructureError,
)

DEFAULT_SCHEMA: Final = "acolhe_read"
DEFAULT_LOCK_TIMEOUT_S: Final = 60.0
RECORD_TABLE: Final = "acolhe_migrations"
FILE_NAME: Final = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9]+(?:_[a-z0-9]+)*)\.sql")

RECORD_DDL: Final = """
CREATE TABLE {schema}.acolhe_migrations (
    version    integer     PRIMARY KEY CHECK (version > 0),
    name       text        NOT NULL,
    checksum   text        NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text        NOT NULL DEFAULT current_user
);
COMMENT ON TABLE {schema}.acolhe_migrations IS
    'The read-model migrations applied to this schema, one row each, written by acolhe in the '
    'transaction that applied the migration (streams/projections/migrations.py).';
COMMENT ON COLUMN {schema}.acolhe_migrations.version IS
    'The migration''s number, NNNN in streams/projections/sql/NNNN_name.sql.';
COMMENT ON COLUMN {schema}.acolhe_migrations.name IS 'The name part of the file name.';
COMMENT ON COLUMN {schema}.acolhe_migrations.checksum IS
    'SHA-256 of the file''s text (line ends as LF), 64 hex digits: an applied file must never '
    'change, and acolhe refuses to migrate when it did.';
COMMENT ON COLUMN {schema}.acolhe_migrations.applied_at IS 'When the migration was committed.';
COMMENT ON COLUMN {schema}.acolhe_migrations.applied_by IS 'The database role that applied it.';
"""

# asyncpg errors after which the same migration may well succeed: a lock not granted in
# time, a deadlock or serialization failure, a lost connection.
_TRANSIENT: Final = (
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.TransactionRollbackError,
    asyncpg.exceptions.PostgresConnectionError,
    OSError,
    TimeoutError,
)


class MigrationError(ConfigurationError):
    """The shipped migrations and a schema's record disagree, or a migration failed.

    Not retriable: an operator must act, and the message says how.
    """


class InvalidMigrationFile(MigrationError):
    """A file in the migrations directory is misnamed or numbered twice."""


class MigrationChanged(MigrationError):
    """A migration recorded as applied has a different text (or name) now."""


class MigrationMissing(MigrationError):
    """A migration is recorded but not shipped, not shipped but numbered past, or skipped."""


class MigrationFailed(MigrationError):
    """A migration's SQL failed; its transaction rolled back and it was not recorded."""


def checksum(sql: str) -> str:
    """SHA-256 of the text, as 64 lowercase hex digits; CRLF counts as LF, so a checkout
    that rewrites line ends does not look like an edit."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)
    source: str = field(default="<memory>", compare=False)

    @property
    def checksum(self) -> str:
        return checksum(self.sql)

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: datetime | None = None
    applied_by: str | None = None


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]


# -- pure: files, order, plan -----------------------------------------------------------------


def parse_file_name(file_name: str) -> tuple[int, str]:
    """(version, name) of `NNNN_name.sql`; `InvalidMigrationFile` for any other `.sql` name."""
    match = FILE_NAME.fullmatch(file_name)
    if match is None or int(match["version"]) == 0:
        raise InvalidMigrationFile(
            f"{file_name!r} is not a migration file name: use NNNN_name.sql, NNNN from 0001 "
            "and name in lower-case words joined by _, e.g. 0002_add_case_tags.sql"
        )
    return int(match["version"]), match["name"]


def check_sequence(migrations: Sequence[Migration], *, where: str = "the migrations") -> None:
    """Versions must run 1, 2, 3... in order, each once: a gap is a lost file."""
    seen: dict[int, Migration] = {}
    for m in migrations:
        if m.version in seen:
            raise InvalidMigrationFile(
                f"migration {m.version:04d} appears twice in {where} ({seen[m.version].label} "
                f"and {m.label}): give the newer one the next free number"
            )
        seen[m.version] = m
    for expected, m in enumerate(migrations, start=1):
        if m.version != expected:
            raise MigrationMissing(
                f"migration {expected:04d} is missing from {where} (the next one is "
                f"{m.label}): restore it; migrations are numbered from 0001 without gaps"
            )


def discover(directory: Traversable, *, where: str | None = None) -> tuple[Migration, ...]:
    """The migrations in `directory` (`NNNN_name.sql` files), in order, checked."""
    found = []
    for entry in directory.iterdir():
        if not entry.is_file() or not entry.name.endswith(".sql"):
            continue
        version, name = parse_file_name(entry.name)
        found.append(Migration(version, name, entry.read_text(encoding="utf-8"), str(entry)))
    found.sort(key=lambda m: m.version)
    migrations = tuple(found)
    check_sequence(migrations, where=where or str(directory))
    return migrations


@functools.cache
def load_migrations() -> tuple[Migration, ...]:
    """The migrations shipped with acolhe (`streams/projections/sql`)."""
    return discover(resources.files("streams.projections") / "sql", where="streams/projections/sql")


def pending(
    shipped: Sequence[Migration], applied: Iterable[AppliedMigration], *, schema: str
) -> tuple[Migration, ...]:
    """The shipped migrations not applied yet, in order, after checking the record.

    Refuses (before anything is applied) a recorded migration that is not shipped or whose
    text or name changed, and a pending migration numbered below an applied one.
    """
    check_sequence(shipped)
    by_version = {m.version: m for m in shipped}
    recorded = sorted(applied, key=lambda a: a.version)
    for a in recorded:
        m = by_version.get(a.version)
        if m is None:
            latest = f"up to {shipped[-1].label}" if shipped else "none"
            raise MigrationMissing(
                f"schema {schema!r} has migration {a.version:04d}_{a.name} applied, but this "
                f"acolhe ships {latest}: run the acolhe version that applied it, or rebuild "
                "the read model into a fresh schema"
            )
        if m.checksum != a.checksum or m.name != a.name:
            when = f" on {a.applied_at:%Y-%m-%d %H:%M}" if a.applied_at else ""
            raise MigrationChanged(
                f"migration {a.version:04d} changed since it was applied to schema {schema!r}"
                f"{when}: recorded {a.version:04d}_{a.name} sha256 {a.checksum[:12]}..., "
                f"shipped {m.label} ({m.source}) sha256 {m.checksum[:12]}...; an applied "
                "migration must never change: restore the file and put the change in a new "
                f"migration {len(shipped) + 1:04d}_<name>.sql"
            )
    done = {a.version for a in recorded}
    todo = tuple(m for m in shipped if m.version not in done)
    if todo and done and todo[0].version < max(done):
        raise MigrationMissing(
            f"schema {schema!r} records migration {max(done):04d} as applied but not "
            f"{todo[0].label}: its record was altered or migrations were applied out of "
            "order; rebuild the read model into a fresh schema"
        )
    return todo


def lock_key(schema: str) -> int:
    """The advisory lock key of a schema's migrations: a signed 64-bit number, stable
    across processes and versions, one per schema (a rebuild's schema migrates alongside)."""
    digest = hashlib.sha256(f"acolhe.migrations:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# -- shell: asyncpg ---------------------------------------------------------------------------


async def migrate(
    target: Any,
    schema: str,
    *,
    migrations: Sequence[Migration] | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
) -> list[int]:
    """Apply the pending migrations to `schema` (created if missing); the versions applied.

    `target` is an asyncpg connection (not inside a transaction) or pool. Idempotent: a
    second call, or a concurrent one, applies nothing already applied. `migrations`
    defaults to the shipped ones.
    """
    check_schema_name(schema)
    shipped = load_migrations() if migrations is None else tuple(migrations)
    check_sequence(shipped)
    applied: list[int] = []
    async with _connection(target) as conn:
        while (done := await _apply_next(conn, schema, shipped, lock_timeout_s)) is not None:
            applied.append(done.version)
    return applied


async def status(
    target: Any, schema: str, *, migrations: Sequence[Migration] | None = None
) -> MigrationStatus:
    """What `schema` has applied and what is pending, checked as `migrate` checks it.
    Reads only: takes no lock and creates nothing."""
    check_schema_name(schema)
    shipped = load_migrations() if migrations is None else tuple(migrations)
    async with _connection(target) as conn:
        try:
            recorded = await _read_record(conn, schema)
        except _TRANSIENT as exc:
            raise _transient(schema, exc) from exc
        except asyncpg.PostgresError as exc:
            raise InfrastructureError(
                f"cannot read the migrations of schema {schema!r}: {exc}"
            ) from exc
    return MigrationStatus(recorded, pending(shipped, recorded, schema=schema))


async def _apply_next(
    conn: Any, schema: str, shipped: tuple[Migration, ...], lock_timeout_s: float
) -> Migration | None:
    """Steps 1-5 of the module docstring for one migration; None when nothing is pending."""
    quoted = quote_ident(schema)
    migration: Migration | None = None
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('lock_timeout', $1, true)", f"{round(lock_timeout_s * 1000)}ms"
            )
            await conn.execute("SELECT pg_advisory_xact_lock($1::bigint)", lock_key(schema))
            await _create_record(conn, schema)
            todo = pending(shipped, await _read_record(conn, schema), schema=schema)
            if not todo:
                return None
            migration = todo[0]
            await conn.execute(f"SET LOCAL search_path TO {quoted}")
            await conn.execute(render(migration.sql, schema))
            await conn.execute(
                f"INSERT INTO {quoted}.{RECORD_TABLE} (version, name, checksum) "
                "VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except _TRANSIENT as exc:
        raise _transient(schema, exc) from exc
    except asyncpg.PostgresError as exc:
        if migration is None:
            raise InfrastructureError(
                f"cannot prepare schema {schema!r} for migrations: {exc}; the database role "
                "needs CREATE on the database (or an existing schema it owns)"
            ) from exc
        raise MigrationFailed(
            f"migration {migration.label} ({migration.source}) failed on schema {schema!r} "
            f"and was rolled back, nothing of it applied: {type(exc).__name__}: {exc}"
        ) from exc
    return migration


async def _create_record(conn: Any, schema: str) -> None:
    """The schema and its record table, when missing (checked first: CREATE ... IF NOT
    EXISTS needs the privilege to create even when the object exists)."""
    if await conn.fetchval("SELECT to_regnamespace($1) IS NULL", quote_ident(schema)):
        await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
    if await conn.fetchval("SELECT to_regclass($1) IS NULL", _record_table(schema)):
        await conn.execute(render(RECORD_DDL, schema))


async def _read_record(conn: Any, schema: str) -> tuple[AppliedMigration, ...]:
    if await conn.fetchval("SELECT to_regclass($1) IS NULL", _record_table(schema)):
        return ()
    rows = await conn.fetch(
        "SELECT version, name, checksum, applied_at, applied_by "
        f"FROM {_record_table(schema)} ORDER BY version"
    )
    return tuple(AppliedMigration(**dict(r)) for r in rows)


def _record_table(schema: str) -> str:
    return f"{quote_ident(schema)}.{RECORD_TABLE}"


def _transient(schema: str, exc: BaseException) -> RetriableInfrastructureError:
    if isinstance(exc, asyncpg.exceptions.LockNotAvailableError):
        return RetriableInfrastructureError(
            f"migrating schema {schema!r}: a lock was not granted in time ({exc}); another "
            "migration of it is running, or long queries hold its tables: try again later"
        )
    return RetriableInfrastructureError(
        f"migrating schema {schema!r} was interrupted ({type(exc).__name__}: {exc}); "
        "nothing half-applied stays: try again"
    )


@asynccontextmanager
async def _connection(target: Any) -> AsyncIterator[Any]:
    """A connection from a pool (`acquire`), or the connection itself."""
    if hasattr(target, "acquire"):
        async with target.acquire() as conn:
            yield conn
    else:
        yield target
