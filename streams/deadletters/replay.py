"""Putting rejected records back on their source topic, once the cause is fixed.

A processor that could not read a record (a schema version it did not know, a bug) set it
aside with where it was; after the fix, the same bytes, key and headers written again
into the same partition of the same topic are read by the fixed processor. Ids do not
change (they are in the bytes), so whatever was in fact processed is dropped downstream
as a duplicate, and a full replay of the log, which now holds both copies, decides the
same.

Steps of `replay`, in order:
1. read the dead letters and pick those asked for: by id (each must exist and be
   replayable, else `ReplayRefused` before anything is written), or by filter (what is
   not replayable, or was replayed already, is left out and said why);
2. one replay per source record: several processors may have dead-lettered the same one;
3. the bytes: the dead letter's copy, or, when it kept none (an event a processor's core
   refused), the record itself read at its offset; a record gone with retention is
   refused (by id) or left out (by filter);
4. the ledger (`acolhe_ops.replays`): a record replayed before, or whose replay was left
   unconfirmed, needs --force (by id: refused; by filter: left out);
5. unless it is a dry run, for each record: claim its row, send it with the idempotent
   producer (acks=all) into its partition and wait for the acknowledgement, confirm the
   row with the new offset. A failed send marks the row failed and stops, saying what was
   replayed before it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError

from schemas.events import InputDeadLettered
from streams.deadletters import select
from streams.deadletters.ledger import Ledger, postgres_failed
from streams.deadletters.reading import Original, read_dead_letters, read_original
from streams.deadletters.select import Position, Selection
from streams.shared.contract import Contract
from streams.shared.errors import RetriableInfrastructureError, RuleViolation
from streams.shared.kafka import make_producer
from streams.shared.postgres import connect
from streams.shared.settings import Settings


class ReplayRefused(RuleViolation):
    """A replay asked for by id that cannot be done; nothing was replayed."""


@dataclass(frozen=True)
class Planned:
    dead_letter: InputDeadLettered
    where: Position
    original: Original
    also: tuple[InputDeadLettered, ...] = ()  # other dead letters of the same record


@dataclass
class ReplayReport:
    planned: list[Planned] = field(default_factory=list)
    replayed: list[tuple[Planned, int]] = field(default_factory=list)  # and the new offset
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (dead letter id, why)
    dry_run: bool = False


def original_of(record: InputDeadLettered) -> Original:
    """What the dead letter keeps of the record (processors keep no headers today)."""
    return Original(
        record.payload,
        record.source_key,
        tuple((h.name, h.value) for h in record.source_headers),
    )


async def replay(
    settings: Settings,
    contract: Contract,
    *,
    topic: str,
    ops_schema: str,
    event_ids: Sequence[str] = (),
    selection: Selection | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> ReplayReport:
    by_id = bool(event_ids)
    if by_id or selection is None:
        selection = Selection(event_ids=frozenset(event_ids))
    found = await read_dead_letters(settings, contract, topic, since=selection.since)
    report = ReplayReport(dry_run=dry_run)
    groups = _choose(found.records, selection, event_ids, topic, report)
    plans = await _with_bytes(settings, groups, by_id, report)
    conn = await connect(settings.postgres)
    try:
        ledger = Ledger(conn, ops_schema)
        report.planned = await _not_replayed(ledger, plans, by_id, force, report)
        if not dry_run:
            try:
                await ledger.create_tables()
            except Exception as exc:
                raise postgres_failed(exc) from exc
            await _send(settings, ledger, report.planned, report, force=force)
    finally:
        await conn.close()
    return report


def _choose(
    records: Sequence[InputDeadLettered],
    selection: Selection,
    event_ids: Sequence[str],
    topic: str,
    report: ReplayReport,
) -> dict[Position, list[InputDeadLettered]]:
    """Steps 1 and 2: the replayable dead letters asked for, by the record they name."""
    entries = select.select(records, selection).shown
    missing = sorted(set(event_ids) - {e.record.event_id for e in entries})
    if missing:
        raise ReplayRefused(
            f"no dead letter {', '.join(missing)} on {topic} (they are kept 14 days; "
            "`acolhe deadletters list` shows those there)"
        )
    groups: dict[Position, list[InputDeadLettered]] = {}
    for entry in entries:
        why = select.refusal(entry.record)
        where = select.position(entry.record)
        if why is None and where is not None:
            groups.setdefault(where, []).append(entry.record)
        elif event_ids:
            raise ReplayRefused(f"{entry.record.event_id} cannot be replayed: {why}")
        else:
            report.left_out.append((entry.record.event_id, f"not replayable: {why}"))
    return groups


async def _with_bytes(
    settings: Settings,
    groups: dict[Position, list[InputDeadLettered]],
    by_id: bool,
    report: ReplayReport,
) -> list[Planned]:
    """Step 3: what to write for each record, the dead letter's copy or the record itself."""
    plans: list[Planned] = []
    for where, records in groups.items():
        first = next((r for r in records if not select.needs_original(r)), records[0])
        original: Original | None = original_of(first)
        if select.needs_original(first):
            original = await read_original(settings, where)
        if original is None:
            why = (
                f"the dead letter keeps no copy of the record, and {where} is no longer on "
                "the topic (retention)"
            )
            if by_id:
                raise ReplayRefused(f"{first.event_id} cannot be replayed: {why}")
            report.left_out.append((first.event_id, why))
            continue
        plans.append(Planned(first, where, original, tuple(r for r in records if r is not first)))
    return plans


async def _not_replayed(
    ledger: Ledger, plans: list[Planned], by_id: bool, force: bool, report: ReplayReport
) -> list[Planned]:
    """Step 4: the records not replayed before (all of them with --force)."""
    if force:
        return plans
    try:
        done = await ledger.find([p.where for p in plans])
    except Exception as exc:
        raise postgres_failed(exc) from exc
    blocked = [(p, done[p.where]) for p in plans if p.where in done]
    blocked = [(p, row) for p, row in blocked if row.blocks_replay]
    if blocked and by_id:
        p, row = blocked[0]
        raise ReplayRefused(
            f"{p.dead_letter.event_id} ({p.where}): {row.describe()}; --force replays it "
            "again (processors drop an event they already applied, by its id)"
        )
    report.left_out += [(p.dead_letter.event_id, row.describe()) for p, row in blocked]
    taken = {p.where for p, _ in blocked}
    return [p for p in plans if p.where not in taken]


async def _send(
    settings: Settings, ledger: Ledger, plans: list[Planned], report: ReplayReport, *, force: bool
) -> None:
    producer = make_producer(settings.kafka)
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise _kafka_failed(settings, exc, report) from exc
    try:
        for plan in plans:
            try:
                in_the_way = await ledger.claim(
                    plan.where, plan.dead_letter.event_id, plan.dead_letter.processor, force=force
                )
            except Exception as exc:
                raise postgres_failed(exc) from exc
            if in_the_way is not None:  # another replay took it meanwhile
                report.left_out.append((plan.dead_letter.event_id, in_the_way.describe()))
                continue
            try:
                sent: Any = await producer.send_and_wait(
                    plan.where.topic,
                    value=plan.original.value,
                    key=plan.original.key,
                    partition=plan.where.partition,
                    headers=list(plan.original.headers),
                )
            except KafkaError as exc:
                # Not sent: a later replay may take it again. If even this fails, the row
                # stays `sending` and the next replay says so.
                with contextlib.suppress(Exception):
                    await ledger.fail(plan.where)
                raise _kafka_failed(settings, exc, report) from exc
            report.replayed.append((plan, sent.offset))
            try:
                await ledger.confirm(plan.where, sent.offset)
            except Exception as exc:
                raise postgres_failed(exc) from exc
    finally:
        await producer.stop()


def _kafka_failed(
    settings: Settings, exc: BaseException, report: ReplayReport
) -> RetriableInfrastructureError:
    done = ", ".join(p.dead_letter.event_id for p, _ in report.replayed) or "none"
    return RetriableInfrastructureError(
        f"cannot write to Kafka at {settings.kafka.bootstrap_servers}: {exc}; check that the "
        f"broker runs (`acolhe stack status`) and ACOLHE_KAFKA_BOOTSTRAP_SERVERS. Replayed "
        f"before the failure: {done}"
    )
