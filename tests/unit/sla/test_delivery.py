"""At-least-once delivery: a redelivered event is a no-op, a late one never turns time back,
an event keyed to the wrong case is refused, and the state survives a snapshot."""

from __future__ import annotations

import dataclasses

import pytest

from schemas.events import SlaMet
from streams.shared import snapshots
from streams.shared.errors import BadInput
from streams.sla.clocks import CaseClocks, Input, MisroutedEvent
from streams.sla.domain import handle

from .builders import (
    HOUR,
    POLICY,
    given,
    held,
    names,
    one,
    opened,
    queued,
    replied,
    resumed,
    sp,
    tick,
    when,
    wrote,
)

OPENED: list[Input] = [opened(sp(3, 2, 9)), queued(sp(3, 2, 9))]  # a normal case, Monday 09:00


@pytest.mark.parametrize(
    ("history", "again"),
    [
        pytest.param(
            [wrote(sp(3, 2, 11)), replied(sp(3, 2, 12))],
            wrote(sp(3, 2, 11)),
            id="a citizen's message does not start a second next response",
        ),
        pytest.param(
            [replied(sp(3, 2, 12)), wrote(sp(3, 2, 13))],
            replied(sp(3, 2, 12)),
            id="an agent's reply does not meet the next clock",
        ),
        pytest.param(
            [held(sp(3, 2, 10), "documents_pending"), resumed(sp(3, 2, 11))],
            held(sp(3, 2, 10), "documents_pending"),
            id="a hold does not pause again after the resumption",
        ),
        pytest.param([], opened(sp(3, 2, 9)), id="an open case is not opened again"),
    ],
)
def test_a_redelivered_event_is_a_no_op(history: list[Input], again: Input) -> None:
    state = given(*OPENED, replied(sp(3, 2, 9, 30)), *history)

    after, outputs = handle(state, again, POLICY)

    assert outputs == []
    assert after is not None
    assert state is not None
    assert after.clocks == state.clocks


def test_the_same_events_give_the_same_outputs_every_time() -> None:
    events: list[Input] = [*OPENED, tick(sp(3, 2, 15)), replied(sp(3, 2, 16)), wrote(sp(3, 3, 10))]

    assert when(None, events) == when(None, events)


def test_a_late_event_counts_from_the_latest_instant_already_evaluated() -> None:
    # The tick at 17:05 found the breach (at 17:00); a reply stamped 16:58 reaches the
    # processor after it: the breach stands, and the reply counts as sent at 17:05.
    state = given(*OPENED, tick(sp(3, 2, 17, 5)))

    _, outputs = when(state, [replied(sp(3, 2, 16, 58))])

    met = one(SlaMet, outputs)
    assert (met.within_target, met.elapsed_ms, met.occurred_at) == (
        False,
        7 * HOUR,
        sp(3, 2, 17, 5),
    )


def test_events_before_the_case_opened_keep_nothing() -> None:
    assert when(None, [queued(sp(3, 2, 9)), wrote(sp(3, 2, 9)), tick(sp(3, 2, 10))]) == (None, [])


def test_an_event_for_another_case_is_refused() -> None:
    state = given(*OPENED)
    other = dataclasses.replace(replied(sp(3, 2, 10)), case_id="case-joao")

    with pytest.raises(MisroutedEvent, match="case-joao"):
        handle(state, other, POLICY)


def test_a_message_from_another_contact_is_refused() -> None:
    state = given(*OPENED)
    stranger = dataclasses.replace(wrote(sp(3, 2, 10)), contact_id="contact-joao")

    with pytest.raises(BadInput, match="contact-joao"):
        handle(state, stranger, POLICY)


def test_the_state_survives_a_snapshot_round_trip() -> None:
    state = given(*OPENED, replied(sp(3, 2, 10)), wrote(sp(3, 2, 11)), tick(sp(3, 2, 16)))
    assert state is not None

    restored = snapshots.load(CaseClocks, snapshots.dump(state))

    assert restored == state
    later: list[Input] = [replied(sp(3, 3, 10)), tick(sp(3, 20, 9))]
    assert names(when(restored, later)[1]) == names(when(state, later)[1])
