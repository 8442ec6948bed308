"""Who may see what in the read model: the access tables, from the routing configuration.

Row-level security (0003_access.sql) lets an agent app see the cases of the queues its
agent serves, and a confidential case only when the agent holds it or is of its queue's
team. No event says which queues an agent serves yet, so `acolhe access sync` derives the
access tables from the routing configuration, the way the router picks its pools:
- an agent serves a queue when they are in the pool of one of its escalation steps
  (`RoutingConfig.pool`: the queue's area and region, the step's roles); the router may
  give them its cases, so they see its cases;
- each queue has its own team, named after the queue: the pool of its first escalation
  step, the specialists the router tries first. Helpers of wider steps (generalists of
  another area, supervisors) serve the queue but are not of its team: they see its
  confidential cases only once they hold one.

`access_rows(config)` is that derivation (pure). `sync(conn, schema, rows)` replaces the
tables' contents with it in one transaction (the asyncpg shell): steps, in order,
1. lock the three tables against other syncs (EXCLUSIVE: readers go on, and see the old
   contents until the commit);
2. read what they hold and compare with `rows`;
3. delete the rows that are no longer derived and insert the new ones (nothing when
   nothing changed, so a second sync writes nothing);
4. commit.
Must not import Kafka, the settings or the projector.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from streams.projections.sqltext import check_schema_name, quote_ident
from streams.routing.config import RoutingConfig
from streams.shared.errors import ConfigurationError, InfrastructureError

Pair = tuple[str, str]
TABLES: Final = ("queue_teams", "agent_teams", "agent_queues")
_COLUMNS: Final = {
    "queue_teams": ("queue_id", "team_id"),
    "agent_teams": ("agent_id", "team_id"),
    "agent_queues": ("agent_id", "queue_id"),
}


class MissingAccessTables(ConfigurationError):
    """The schema lacks the access tables: it was not migrated to 0003_access."""


@dataclass(frozen=True, slots=True)
class AccessRows:
    """The whole contents of the access tables, each a sorted tuple of pairs."""

    queue_teams: tuple[Pair, ...]
    agent_teams: tuple[Pair, ...]
    agent_queues: tuple[Pair, ...]

    def table(self, name: str) -> tuple[Pair, ...]:
        rows: tuple[Pair, ...] = getattr(self, name)
        return rows


@dataclass(frozen=True, slots=True)
class TableChange:
    """What a sync did to one table: its rows after it, and how many it added and removed."""

    table: str
    rows: int
    added: int
    removed: int


def team_of(queue_id: str) -> str:
    """The team of a queue: named after it (the routing configuration names no teams)."""
    return queue_id


def access_rows(config: RoutingConfig) -> AccessRows:
    """The access tables derived from a routing configuration (see the module docstring)."""
    queue_teams: set[Pair] = set()
    agent_teams: set[Pair] = set()
    agent_queues: set[Pair] = set()
    for queue in config.queues.values():
        team = team_of(queue.queue_id)
        queue_teams.add((queue.queue_id, team))
        for step in range(len(queue.steps)):
            for agent_id in config.pool(queue.queue_id, step):
                agent_queues.add((agent_id, queue.queue_id))
                if step == 0:
                    agent_teams.add((agent_id, team))
    return AccessRows(
        queue_teams=tuple(sorted(queue_teams)),
        agent_teams=tuple(sorted(agent_teams)),
        agent_queues=tuple(sorted(agent_queues)),
    )


def changes(before: Iterable[Pair], after: Iterable[Pair]) -> tuple[set[Pair], set[Pair]]:
    """(to add, to remove) to turn `before` into `after`."""
    old, new = set(before), set(after)
    return new - old, old - new


async def sync(conn: Any, schema: str, rows: AccessRows) -> list[TableChange]:
    """Steps 1-4 of the module docstring on an asyncpg connection; per table what changed.

    `MissingAccessTables` when the schema has not been migrated to 0003_access yet.
    """
    quoted = quote_ident(check_schema_name(schema))
    done: list[TableChange] = []
    try:
        async with conn.transaction():
            missing = [
                t
                for t in TABLES
                if await conn.fetchval("SELECT to_regclass($1) IS NULL", f"{quoted}.{t}")
            ]
            if missing:
                raise MissingAccessTables(
                    f"schema {schema!r} has no access tables ({', '.join(missing)}): migrate "
                    f"it first with `acolhe projections migrate --schema {schema}`"
                )
            await conn.execute(
                f"LOCK TABLE {', '.join(f'{quoted}.{t}' for t in TABLES)} IN EXCLUSIVE MODE"
            )
            for table in TABLES:
                done.append(await _replace(conn, f"{quoted}.{table}", table, rows.table(table)))
    except asyncpg.PostgresError as exc:
        raise InfrastructureError(
            f"cannot sync the access tables of schema {schema!r}: {type(exc).__name__}: {exc}; "
            "nothing was changed"
        ) from exc
    return done


async def _replace(conn: Any, target: str, table: str, rows: tuple[Pair, ...]) -> TableChange:
    first, second = _COLUMNS[table]
    stored = await conn.fetch(f"SELECT {first}, {second} FROM {target}")
    add, remove = changes(((r[0], r[1]) for r in stored), rows)
    if remove:
        await conn.execute(
            f"DELETE FROM {target} AS t USING unnest($1::text[], $2::text[]) AS r (a, b)"
            f" WHERE t.{first} = r.a AND t.{second} = r.b",
            [a for a, _ in sorted(remove)],
            [b for _, b in sorted(remove)],
        )
    if add:
        await conn.execute(
            f"INSERT INTO {target} ({first}, {second})"
            " SELECT a, b FROM unnest($1::text[], $2::text[]) AS r (a, b)",
            [a for a, _ in sorted(add)],
            [b for _, b in sorted(add)],
        )
    return TableChange(table, len(rows), len(add), len(remove))
