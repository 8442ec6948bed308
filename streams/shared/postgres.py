"""PostgreSQL connections built from the settings, and batched writes with COPY.

Failures to connect are wrapped in `RetriableInfrastructureError` with the DSN masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from streams.shared.errors import RetriableInfrastructureError
from streams.shared.settings import PostgresSettings


async def connect(postgres: PostgresSettings, *, timeout_s: float = 10.0) -> Any:
    """One connection (asyncpg.Connection)."""
    try:
        return await asyncpg.connect(postgres.dsn.reveal(), timeout=timeout_s)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise RetriableInfrastructureError(
            f"cannot connect to PostgreSQL at {postgres.display_dsn}: {exc!r}; "
            "is it running? (`acolhe stack status`)"
        ) from exc


async def create_pool(postgres: PostgresSettings, *, min_size: int = 1, max_size: int = 4) -> Any:
    """A connection pool (asyncpg.Pool)."""
    try:
        return await asyncpg.create_pool(
            postgres.dsn.reveal(), min_size=min_size, max_size=max_size, timeout=10
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise RetriableInfrastructureError(
            f"cannot connect to PostgreSQL at {postgres.display_dsn}: {exc!r}"
        ) from exc


async def copy_rows(
    conn: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    schema: str | None = None,
) -> None:
    """Write `rows` into `table` with COPY (binary protocol): one round trip per batch."""
    await conn.copy_records_to_table(table, records=rows, columns=list(columns), schema_name=schema)
