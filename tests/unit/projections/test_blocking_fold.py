"""Given a batch of acolhe.conversations holding the copies of blocks and unblocks, when the
case projection folds it, then the batch ends with one `Blocking` per citizen, the latest by
occurred_at whatever the order the copies came in; a rebuild's in-memory rows note them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import CitizenBlocked, CitizenUnblocked
from streams.projections.blocking import Blocking, latest
from streams.projections.folds import AgentProjection, CaseProjection, ClockProjection
from streams.projections.rebuild import MemoryRows
from streams.projections.writer import Upsert
from tests.unit.cases.builders import at, received

T0 = datetime(2026, 12, 2, 10, tzinfo=UTC)


def fact(kind: str, citizen: str, minutes: int) -> CitizenBlocked | CitizenUnblocked:
    cls = CitizenBlocked if kind == "block" else CitizenUnblocked
    return cls(
        event_id=f"{kind}-{citizen}-{minutes}",
        occurred_at=T0 + timedelta(minutes=minutes),
        correlation_id="c",
        citizen_id=citizen,
        legal_basis="data_subject_request",
        request_reference=f"PROT-{minutes}",
    )


def batch(*events: Any) -> list[tuple[int, Any]]:
    return list(enumerate(events))


async def test_the_case_projection_reads_blocks_and_no_other_projection_does() -> None:
    for name in ("CitizenBlocked", "CitizenUnblocked"):
        assert name in CaseProjection.reads
        assert name not in AgentProjection.reads | ClockProjection.reads


async def test_a_batch_ends_with_the_latest_block_or_unblock_of_each_citizen() -> None:
    events = batch(
        received(1, at(minutes=1)),
        # Copies from two partitions: partition 2's older block comes after partition 1's
        # unblock; the unblock (later) wins.
        fact("block", "citizen-a", 1),
        fact("unblock", "citizen-a", 2),
        fact("block", "citizen-a", 1),
        fact("block", "citizen-b", 3),
        fact("block", "citizen-b", 3),
    )

    changes = await CaseProjection().fold(MemoryRows(), events)

    assert isinstance(changes[0], Upsert)  # the rows first
    blockings = [c for c in changes if isinstance(c, Blocking)]
    assert [(b.citizen_id, b.blocked, b.event_id) for b in blockings] == [
        ("citizen-a", False, "unblock-citizen-a-2"),
        ("citizen-b", True, "block-citizen-b-3"),
    ]
    assert changes[-len(blockings) :] == blockings  # after the rows


async def test_a_batch_without_blocks_keeps_none() -> None:
    changes = await CaseProjection().fold(MemoryRows(), batch(received(1, at(minutes=1))))

    assert not any(isinstance(c, Blocking) for c in changes)


def test_latest_is_order_free() -> None:
    one = Blocking.of(fact("block", "citizen-a", 1))
    two = Blocking.of(fact("unblock", "citizen-a", 2))
    three = Blocking.of(fact("block", "citizen-a", 3))

    assert latest([one, two, three]) == latest([three, one, two]) == {"citizen-a": three}
    assert latest([two, one, two]) == {"citizen-a": two}


async def test_a_rebuild_notes_the_blockings_of_its_partition() -> None:
    memory = MemoryRows()
    projection = CaseProjection()
    memory.apply(await projection.fold(memory, batch(fact("block", "citizen-a", 1))))
    memory.apply(await projection.fold(memory, batch(fact("unblock", "citizen-a", 2))))

    assert [b.event_id for b in memory.blockings] == ["block-citizen-a-1", "unblock-citizen-a-2"]
    assert "blocked_citizens" not in memory.tables  # kept by `blocking.apply`, not COPYed
