"""The replays done, in Postgres (`acolhe_ops.replays`): one row per source record put back.

Why a table, and why per source record: a replay must not put the same record back twice
by mistake (two operators, or the same command run again), and looking for a copy in the
source topic's tail costs a read of the whole tail. Several processors read the same topic
(conversation and SLA clocks both read acolhe.conversations), so one bad record can have
several dead letters; one replay serves them all, and the row is keyed by where the record
was (topic, partition, offset), naming the dead letter it was replayed for.

A row is claimed (`sending`) before the record is sent and confirmed (`sent`, with the
new offset) after the broker acknowledged it; a failed send marks it `failed`, which a
later replay may claim again. A row left `sending` (the command was killed between the
two) blocks a replay without --force: the record may or may not be on the topic. The
rows hold ids, topic names and offsets, nothing personal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import asyncpg

from streams.deadletters.select import Position
from streams.shared.errors import RetriableInfrastructureError

SCHEMA: Final = "acolhe_ops"
DDL: Final = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.replays (
    source_topic      text NOT NULL,
    source_partition  integer NOT NULL,
    source_offset     bigint NOT NULL,
    dead_letter_id    text NOT NULL,
    processor         text NOT NULL,
    state             text NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    attempts          integer NOT NULL DEFAULT 1,
    claimed_at        timestamptz NOT NULL DEFAULT now(),
    replayed_at       timestamptz,
    replayed_offset   bigint,
    PRIMARY KEY (source_topic, source_partition, source_offset)
);
"""

State = Literal["sending", "sent", "failed"]


@dataclass(frozen=True)
class Replay:
    """A row: the last replay of a source record."""

    where: Position
    dead_letter_id: str
    processor: str
    state: State
    attempts: int
    claimed_at: datetime
    replayed_at: datetime | None
    replayed_offset: int | None

    @property
    def blocks_replay(self) -> bool:
        """Whether replaying again needs --force: done, or perhaps done."""
        return self.state != "failed"

    def describe(self) -> str:
        if self.state == "sent":
            return (
                f"already replayed at {_when(self.replayed_at)} for dead letter "
                f"{self.dead_letter_id} ({self.processor}), now at {self.where.topic}/"
                f"{self.where.partition}@{self.replayed_offset}"
            )
        if self.state == "sending":
            return (
                f"a replay started at {_when(self.claimed_at)} was never confirmed (the "
                "command stopped half-way?): the record may be on the topic already"
            )
        return f"a replay failed at {_when(self.claimed_at)}"


class Ledger:
    def __init__(self, conn: Any, schema: str = SCHEMA) -> None:
        self._conn = conn
        self._schema = schema

    async def create_tables(self) -> None:
        await self._conn.execute(DDL.format(schema=self._schema))

    async def find(self, positions: list[Position]) -> dict[Position, Replay]:
        """The rows of these records; none when the table does not exist yet (a dry run
        creates nothing)."""
        if not positions:
            return {}
        try:
            rows = await self._conn.fetch(
                f"SELECT r.* FROM {self._schema}.replays r "
                "JOIN unnest($1::text[], $2::int[], $3::bigint[]) AS p(t, pa, o) "
                "ON (r.source_topic, r.source_partition, r.source_offset) = (p.t, p.pa, p.o)",
                [p.topic for p in positions],
                [p.partition for p in positions],
                [p.offset for p in positions],
            )
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return {}
        found = [_replay(row) for row in rows]
        return {r.where: r for r in found}

    async def claim(
        self, where: Position, dead_letter_id: str, processor: str, *, force: bool
    ) -> Replay | None:
        """Take the record for a replay: None when taken, else the row in the way (a
        replay done or in flight; --force takes it anyway)."""
        taken = await self._conn.fetchval(
            f"INSERT INTO {self._schema}.replays AS r (source_topic, source_partition, "
            "source_offset, dead_letter_id, processor, state) "
            "VALUES ($1, $2, $3, $4, $5, 'sending') "
            "ON CONFLICT (source_topic, source_partition, source_offset) DO UPDATE SET "
            "state = 'sending', dead_letter_id = EXCLUDED.dead_letter_id, "
            "processor = EXCLUDED.processor, attempts = r.attempts + 1, claimed_at = now(), "
            "replayed_at = NULL, replayed_offset = NULL "
            "WHERE $6 OR r.state = 'failed' RETURNING true",
            where.topic,
            where.partition,
            where.offset,
            dead_letter_id,
            processor,
            force,
        )
        if taken:
            return None
        return (await self.find([where]))[where]

    async def confirm(self, where: Position, offset: int) -> None:
        await self._set(where, "sent", offset)

    async def fail(self, where: Position) -> None:
        await self._set(where, "failed", None)

    async def _set(self, where: Position, state: State, offset: int | None) -> None:
        await self._conn.execute(
            f"UPDATE {self._schema}.replays SET state = $4, replayed_offset = $5, "
            "replayed_at = CASE WHEN $4 = 'sent' THEN now() END "
            "WHERE (source_topic, source_partition, source_offset) = ($1, $2, $3)",
            where.topic,
            where.partition,
            where.offset,
            state,
            offset,
        )


def _replay(row: Any) -> Replay:
    return Replay(
        Position(row["source_topic"], row["source_partition"], row["source_offset"]),
        row["dead_letter_id"],
        row["processor"],
        row["state"],
        row["attempts"],
        row["claimed_at"],
        row["replayed_at"],
        row["replayed_offset"],
    )


def _when(moment: datetime | None) -> str:
    return "an unknown time" if moment is None else moment.isoformat(timespec="seconds")


def postgres_failed(exc: BaseException) -> RetriableInfrastructureError:
    return RetriableInfrastructureError(
        f"PostgreSQL failed while recording a replay: {exc!r}; check that it runs "
        "(`acolhe stack status`) and ACOLHE_POSTGRES_DSN"
    )
