"""Writing a batch of projected rows and the offsets they came from, in one transaction.

The projector's step for one batch of the log (issue 6, "exactly once into Postgres"):
1. keep, per table and key, only the newest row of the batch (the highest `version`, the
   log position that produced it): one statement may not change a row twice;
2. COPY each table's rows into a temporary staging table shaped like it (binary COPY:
   the fastest way into Postgres);
3. upsert from the staging table, changing a row only when the incoming version is newer
   (`WHERE target.version < EXCLUDED.version`): an event applied twice, or late, changes
   nothing;
4. add the batch's counts (`Increment`: daily figures, which have no version to guard
   them; the projector counts an event only when it changes a row, so a duplicate
   event counts nothing, and the projector's position check keeps a batch from being
   counted twice);
5. store the next offset of every partition the batch read, in the same transaction;
6. commit. A crash before the commit leaves neither the rows nor the offsets; a restart
   seeks to the stored offsets and writes the same rows again.

Table and column names come from the projector's own code, never from input, and are
quoted all the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VERSION = "version"
TOUCHED = "updated_at"
"""Set to now() whenever the writer changes a row of a table that has it: when the
projector wrote is not in the log, so it is never part of a row."""


@dataclass(frozen=True)
class Upsert:
    """One row to insert or update: `key` names its primary-key columns; `row` holds the
    row's whole state as the projector knows it, `version` included.

    Whole rows, never partial ones: the writer keeps only the newest row of each key, so a
    partial row would drop what an older one of the same batch changed in other columns.
    A batch's rows for one table must all have the same columns (ValueError otherwise)."""

    table: str
    key: tuple[str, ...]
    row: Mapping[str, Any]


@dataclass(frozen=True)
class Increment:
    """Counts to add to one row (created with zeros when missing): `key` maps the primary
    key's columns to their values, `counts` the counted columns to what to add (negative
    to move a count elsewhere in the same batch)."""

    table: str
    key: tuple[tuple[str, Any], ...]
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Position:
    """Where a projector is in one partition: the next offset to read."""

    topic: str
    partition: int
    next_offset: int


def quote(name: str) -> str:
    """A Postgres identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def newest(upserts: Iterable[Upsert]) -> dict[tuple[str, tuple[str, ...]], list[Upsert]]:
    """Per table (with its columns): the newest upsert of each key (highest version; the
    later one on a tie), in first-seen key order."""
    groups: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], Upsert]] = {}
    shapes: dict[str, tuple[str, ...]] = {}
    for upsert in upserts:
        columns = tuple(upsert.row)
        if VERSION not in upsert.row:
            raise ValueError(f"a row for {upsert.table} has no {VERSION} column")
        if shapes.setdefault(upsert.table, columns) != columns:
            raise ValueError(
                f"rows for {upsert.table} with different columns in one batch: "
                f"{shapes[upsert.table]} and {columns}; write whole rows"
            )
        rows = groups.setdefault((upsert.table, columns), {})
        key = tuple(upsert.row[k] for k in upsert.key)
        kept = rows.get(key)
        if kept is None or kept.row[VERSION] <= upsert.row[VERSION]:
            rows[key] = upsert
    return {group: list(rows.values()) for group, rows in groups.items()}


Sums = dict[tuple[Any, ...], list[int]]
"""A table's summed counts: key values -> one total per counted column."""


def summed(
    increments: Iterable[Increment],
) -> dict[tuple[str, tuple[str, ...], tuple[str, ...]], Sums]:
    """Per table (with its key and counted columns, sorted): each key's summed counts,
    zero sums left out."""
    out: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Sums] = {}
    for inc in increments:
        names = tuple(k for k, _ in inc.key)
        counted = tuple(sorted(inc.counts))
        sums = out.setdefault((inc.table, names, counted), {})
        values = tuple(v for _, v in inc.key)
        total = sums.setdefault(values, [0] * len(counted))
        for i, column in enumerate(counted):
            total[i] += inc.counts[column]
    for sums in out.values():
        for values in [v for v, total in sums.items() if not any(total)]:
            del sums[values]
    return out


async def write(
    conn: Any,
    schema: str,
    changes: Sequence[Upsert | Increment],
    positions: Sequence[Position],
    *,
    projector: str,
    offsets_table: str = "projection_offsets",
) -> None:
    """Steps 1-6 of the module docstring, on an asyncpg connection (inside the caller's
    transaction, if any: then this is a savepoint and the caller commits)."""
    upserts = [c for c in changes if isinstance(c, Upsert)]
    increments = [c for c in changes if isinstance(c, Increment)]
    async with conn.transaction():
        for n, ((table, columns), rows) in enumerate(newest(upserts).items()):
            await _upsert(conn, schema, table=table, columns=columns, rows=rows, n=n)
        for (table, key, counted), sums in summed(increments).items():
            if sums:
                await _add(conn, f"{quote(schema)}.{quote(table)}", key, counted, sums)
        if positions:
            await conn.executemany(
                f"INSERT INTO {quote(schema)}.{quote(offsets_table)}"
                " (projector, topic, partition, next_offset) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (projector, topic, partition)"
                " DO UPDATE SET next_offset = EXCLUDED.next_offset",
                [(projector, p.topic, p.partition, p.next_offset) for p in positions],
            )


async def _upsert(
    conn: Any, schema: str, *, table: str, columns: tuple[str, ...], rows: list[Upsert], n: int
) -> None:
    target = f"{quote(schema)}.{quote(table)}"
    staging = f"acolhe_staging_{n}"
    key = rows[0].key
    await conn.execute(
        f"CREATE TEMP TABLE {quote(staging)}"
        f" (LIKE {target} INCLUDING DEFAULTS INCLUDING GENERATED) ON COMMIT DROP"
    )
    await conn.copy_records_to_table(
        staging, records=[tuple(u.row[c] for c in columns) for u in rows], columns=list(columns)
    )
    names = ", ".join(quote(c) for c in columns)
    touched = TOUCHED in await _columns(conn, target)
    updates = ", ".join(
        [f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns if c not in key]
        + ([f"{quote(TOUCHED)} = now()"] if touched and TOUCHED not in columns else [])
    )
    await conn.execute(
        f"INSERT INTO {target} ({names}) SELECT {names} FROM {quote(staging)}"
        f" ON CONFLICT ({', '.join(quote(k) for k in key)}) DO UPDATE SET {updates}"
        f" WHERE {target}.{quote(VERSION)} < EXCLUDED.{quote(VERSION)}"
    )


async def _add(
    conn: Any,
    target: str,
    key: tuple[str, ...],
    counted: tuple[str, ...],
    sums: Sums,
) -> None:
    """Add counts to rows in one statement (arrays unnested: a batch touches few rows)."""
    columns = (*key, *counted)
    kinds = await _columns(conn, target)
    arrays = [[k[i] for k in sums] for i in range(len(key))]
    arrays += [[total[i] for total in sums.values()] for i in range(len(counted))]
    unnest = ", ".join(f"${i + 1}::{kinds[c]}[]" for i, c in enumerate(columns))
    names = ", ".join(quote(c) for c in columns)
    updates = ", ".join(f"{quote(c)} = {target}.{quote(c)} + EXCLUDED.{quote(c)}" for c in counted)
    if TOUCHED in kinds:
        updates += f", {quote(TOUCHED)} = now()"
    await conn.execute(
        f"INSERT INTO {target} ({names}) SELECT * FROM unnest({unnest})"
        f" ON CONFLICT ({', '.join(quote(k) for k in key)}) DO UPDATE SET {updates}",
        *arrays,
    )


_types: dict[str, dict[str, str]] = {}


async def _columns(conn: Any, target: str) -> dict[str, str]:
    """A table's columns and their SQL types, asked once per table."""
    known = _types.get(target)
    if known is None:
        rows = await conn.fetch(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS kind"
            " FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0"
            " AND NOT a.attisdropped",
            target,
        )
        known = _types[target] = {r["attname"]: r["kind"] for r in rows}
    return known


async def locked_positions(
    conn: Any,
    schema: str,
    projector: str,
    topic: str,
    *,
    offsets_table: str = "projection_offsets",
) -> dict[int, int]:
    """The stored next offsets of a topic's partitions, locked until the transaction ends:
    two projectors of one name (a zombie after a rebalance; a live one after a rebuild's
    switch) cannot both write from the same position."""
    rows = await conn.fetch(
        f"SELECT partition, next_offset FROM {quote(schema)}.{quote(offsets_table)}"
        " WHERE projector = $1 AND topic = $2 FOR UPDATE",
        projector,
        topic,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def stored_positions(
    conn: Any, schema: str, projector: str, *, offsets_table: str = "projection_offsets"
) -> dict[tuple[str, int], int]:
    """Where the projector stopped, per (topic, partition): where to seek on start and on
    every rebalance."""
    rows = await conn.fetch(
        f"SELECT topic, partition, next_offset FROM {quote(schema)}.{quote(offsets_table)}"
        " WHERE projector = $1",
        projector,
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
