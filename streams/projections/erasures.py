"""Erasures applied by the read model itself: an `ErasureRequested` the case projection
reads redacts the citizen's messages in the projection's own schema, in order with the rows
it writes.

`acolhe erase` (streams.privacy.erasure) redacts every read-model schema once, after it has
destroyed the keys; a projector whose batch opened the citizen's messages before that, and
writes them after, would put them back in clear. The erasure is also a fact of
acolhe.conversations (a copy in every partition), so the case projection's fold returns a
`Redaction` for each citizen its batch's copies name (once per batch), and:
- the live projector (`Projector.step`) runs `redact` after writing the batch's rows, in
  the transaction that writes them and their offsets: the batch's own rows are covered,
  and a batch that commits has applied its erasures;
- a rebuild's bulk phase collects the citizens (`rebuild_worker.MemoryRows`) and runs
  `redact` once for each on the fresh schema, after its COPY and before the switch.

The SQL is `streams.privacy.redaction`'s, the one `acolhe erase` runs: the subjects the
schema files under the citizen, and the citizen itself. Running it again changes no row, so
another partition's copy, a redelivery or a replay redacts nothing more.

Postgres only through the connection it is given; no Kafka.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streams.privacy import redaction
from streams.privacy.domain import subjects_of


@dataclass(frozen=True)
class Redaction:
    """Redact a citizen's messages once the batch's rows are written: the batch read an
    `ErasureRequested` for them."""

    citizen_id: str


async def redact(conn: Any, schema: str, citizens: Iterable[str]) -> int:
    """Redact each citizen's messages in `schema`, on an asyncpg connection (inside the
    caller's transaction, if any); how many rows this changed."""
    changed = 0
    for citizen in dict.fromkeys(citizens):
        found = await conn.fetch(redaction.subjects_sql(schema), citizen)
        subjects = subjects_of(citizen, (r["subject_id"] for r in found))
        status = await conn.execute(redaction.redact_sql(schema), list(subjects))
        changed += int(status.rsplit(" ", 1)[1])
    return changed
