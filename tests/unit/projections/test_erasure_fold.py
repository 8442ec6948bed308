"""Given a batch of acolhe.conversations holding an erasure's copies, when the case
projection folds it, then the batch ends with one redaction per erased citizen, after its
rows, whatever the number of copies; a rebuild's in-memory rows note the citizens to redact
at the end."""

from __future__ import annotations

from typing import Any

from streams.projections.erasures import Redaction
from streams.projections.folds import AgentProjection, CaseProjection, ClockProjection
from streams.projections.rebuild import MemoryRows
from streams.projections.writer import Increment, Upsert
from tests.unit.cases.builders import CITIZEN, at, erasure, received

OTHER = "citizen-joana"


def batch(*events: Any) -> list[tuple[int, Any]]:
    return list(enumerate(events))


async def test_the_case_projection_reads_the_erasure_and_no_other_projection_does() -> None:
    assert "ErasureRequested" in CaseProjection.reads
    assert "ErasureRequested" not in AgentProjection.reads | ClockProjection.reads


async def test_an_erasure_redacts_its_citizen_once_after_the_batchs_rows() -> None:
    events = batch(
        received(1, at(minutes=1)),
        received(1, at(minutes=2), contact="contact-joana", citizen=OTHER),
        # One copy per partition: a batch may hold several of the same erasure.
        erasure(at(minutes=3)),
        erasure(at(minutes=3)),
        received(2, at(minutes=4)),
        erasure(at(minutes=3)),
    )

    changes = await CaseProjection().fold(MemoryRows(), events)

    assert changes[-1] == Redaction(CITIZEN)
    assert [c for c in changes if isinstance(c, Redaction)] == [Redaction(CITIZEN)]
    messages = [c for c in changes if isinstance(c, Upsert) and c.table == "case_messages"]
    assert len(messages) == 3  # the erasure files no row and leaves every row as folded
    assert all(c.row["text"] is not None for c in messages)
    assert all(isinstance(c, Upsert | Increment) for c in changes[:-1])


async def test_each_erased_citizen_is_redacted_once_in_the_order_first_named() -> None:
    events = batch(
        erasure(at(minutes=1), citizen=OTHER),
        erasure(at(minutes=2)),
        erasure(at(minutes=1), citizen=OTHER),
    )

    changes = await CaseProjection().fold(MemoryRows(), events)

    assert changes == [Redaction(OTHER), Redaction(CITIZEN)]


async def test_a_batch_without_an_erasure_redacts_nothing() -> None:
    changes = await CaseProjection().fold(MemoryRows(), batch(received(1), received(2)))

    assert changes
    assert not [c for c in changes if isinstance(c, Redaction)]


async def test_a_rebuild_notes_the_citizens_to_redact_across_batches() -> None:
    memory = MemoryRows()
    projection = CaseProjection()

    for events in (
        batch(received(1, at(minutes=1)), erasure(at(minutes=2))),
        batch(erasure(at(minutes=2)), erasure(at(minutes=5), citizen=OTHER)),
    ):
        memory.apply(await projection.fold(memory, events))

    assert memory.erased == {CITIZEN, OTHER}
    assert [r["text"] for r in memory.tables["case_messages"].values()] == ["mensagem 1"]
