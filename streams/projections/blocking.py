"""Blocks applied by the read model: the `CitizenBlocked` and `CitizenUnblocked` that
`acolhe block` / `unblock` copy into every partition of acolhe.conversations keep the case
projection's `blocked_citizens` table (0004_blocking.sql), which row-level security reads
to hide a blocked citizen's cases from agent apps.

The copies of one citizen come from every partition, so neither the partition's order nor
the offset (a row's version elsewhere) orders them: the latest by `occurred_at` wins, which
`acolhe block` makes strictly increasing per citizen (`streams.privacy.blocks`). Applying
them is then order-free and idempotent, so:
- the fold returns one `Blocking` per citizen its batch names (the latest of the batch);
- the live projector (`Projector.step`) runs `apply` after writing the batch's rows, in
  the transaction that writes them and their offsets;
- a rebuild's worker runs `apply` in the transaction that COPYs its partition's rows; two
  workers writing the same citizen wait for each other (each takes the rows in citizen
  order, so they cannot deadlock) and the later event wins whoever commits last.

Postgres only through the connection it is given; no Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from schemas.events import CitizenBlocked, CitizenUnblocked
from streams.projections.sqltext import render

BLOCKING_EVENTS: Final = frozenset({CitizenBlocked.NAME, CitizenUnblocked.NAME})

APPLY_SQL: Final = """
INSERT INTO {schema}.blocked_citizens AS b
       (citizen_id, blocked, changed_at, event_id, basis, reference)
SELECT * FROM unnest($1::text[], $2::boolean[], $3::timestamptz[], $4::text[], $5::text[],
                     $6::text[])
    ON CONFLICT (citizen_id) DO UPDATE
   SET blocked = EXCLUDED.blocked,
       changed_at = EXCLUDED.changed_at,
       event_id = EXCLUDED.event_id,
       basis = EXCLUDED.basis,
       reference = EXCLUDED.reference,
       updated_at = now()
 WHERE b.changed_at < EXCLUDED.changed_at
"""
"""Each citizen's latest block or unblock, unless the table holds a later one."""


@dataclass(frozen=True)
class Blocking:
    """A citizen's block (`blocked`) or its lifting, to keep in `blocked_citizens` once the
    batch's rows are written: the latest the batch read for that citizen."""

    citizen_id: str
    blocked: bool
    changed_at: datetime
    event_id: str
    basis: str
    reference: str

    @classmethod
    def of(cls, event: CitizenBlocked | CitizenUnblocked) -> Blocking:
        return cls(
            citizen_id=event.citizen_id,
            blocked=isinstance(event, CitizenBlocked),
            changed_at=event.occurred_at,
            event_id=event.event_id,
            basis=event.legal_basis,
            reference=event.request_reference,
        )

    def is_after(self, other: Blocking | None) -> bool:
        return other is None or self.changed_at > other.changed_at


def latest(blockings: Iterable[Blocking]) -> dict[str, Blocking]:
    """The latest of each citizen, in citizen order."""
    out: dict[str, Blocking] = {}
    for b in blockings:
        if b.is_after(out.get(b.citizen_id)):
            out[b.citizen_id] = b
    return dict(sorted(out.items()))


async def apply(conn: Any, schema: str, blockings: Iterable[Blocking]) -> int:
    """Keep each citizen's latest block or unblock in `schema`, on an asyncpg connection
    (inside the caller's transaction, if any); how many rows this changed."""
    kept = list(latest(blockings).values())
    if not kept:
        return 0
    status = await conn.execute(
        render(APPLY_SQL, schema),
        [b.citizen_id for b in kept],
        [b.blocked for b in kept],
        [b.changed_at for b in kept],
        [b.event_id for b in kept],
        [b.basis for b in kept],
        [b.reference for b in kept],
    )
    return int(status.rsplit(" ", 1)[1])
