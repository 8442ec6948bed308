"""Processor state survives a trip through the changelog exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from immutables import Map

from schemas.personal import ERASED, Erased
from streams.shared.snapshots import SnapshotError, dump, load

Status = Literal["in_triage", "queued", "closed"]


@dataclass(frozen=True)
class Case:
    case_id: str
    status: Status
    opened_at: datetime
    agent_id: str | None = None
    address: str | Erased | None = None


@dataclass(frozen=True)
class Contact:
    contact_id: str
    cases: tuple[Case, ...] = ()
    seen: frozenset[str] = frozenset()
    window: timedelta = timedelta(days=7)
    counts: dict[str, int] = field(default_factory=dict)
    by_day: dict[int, tuple[str, ...]] = field(default_factory=dict)
    birthday: date | None = None
    score: float = 0.0


WHEN = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)


def test_nested_state_round_trips_exactly() -> None:
    state = Contact(
        contact_id="c-1",
        cases=(
            Case("k-1", "closed", WHEN, "agent-7", ERASED),
            Case("k-2", "queued", WHEN + timedelta(days=1), None, "+5511999990000"),
        ),
        seen=frozenset({"e-2", "e-1"}),
        window=timedelta(hours=36, microseconds=5),
        counts={"reminders": 2},
        by_day={20261128: ("e-1", "e-2")},
        birthday=date(1980, 2, 29),
        score=1,
    )

    again = load(Contact, dump(state))

    assert again == state
    assert again.cases[0].address is ERASED
    assert isinstance(again.score, float)


def test_snapshots_are_deterministic_bytes() -> None:
    state = Contact(contact_id="c", seen=frozenset({"b", "a", "c"}))
    assert dump(state) == dump(Contact(contact_id="c", seen=frozenset({"c", "a", "b"})))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json", "not JSON"),
        (b'{"cases": []}', "contact_id is missing"),
        (b'{"contact_id": 5}', "expected str"),
        (
            b'{"contact_id": "c", "cases": [{"case_id": "k", "status": "lost", "opened_at": "x"}]}',
            "not one of",
        ),
    ],
)
def test_a_snapshot_that_does_not_fit_says_where(data: bytes, reason: str) -> None:
    with pytest.raises(SnapshotError, match=reason):
        load(Contact, data)


@given(
    st.builds(
        Case,
        case_id=st.text(),
        status=st.sampled_from(["in_triage", "queued", "closed"]),
        opened_at=st.datetimes(timezones=st.just(UTC)),
        agent_id=st.none() | st.text(),
        address=st.none() | st.text() | st.just(ERASED),
    )
)
def test_any_case_round_trips(case: Case) -> None:
    assert load(Case, dump(case)) == case


@dataclass(frozen=True)
class Board:
    cases: Map[str, Case] = field(default_factory=Map)
    order: Map[int, str] = field(default_factory=Map)


def test_persistent_maps_round_trip_and_give_the_same_bytes_in_any_insertion_order() -> None:
    cases = [Case(f"k{i}", "queued", WHEN) for i in range(50)]
    one = Board(Map({c.case_id: c for c in cases}), Map({i: f"k{i}" for i in range(50)}))
    other = Board(
        Map({c.case_id: c for c in reversed(cases)}), Map({i: f"k{i}" for i in reversed(range(50))})
    )

    again = load(Board, dump(one))

    assert again == one
    assert isinstance(again.cases, Map)
    assert again.order[7] == "k7"
    assert dump(one) == dump(other)


def test_the_routers_state_survives_its_changelog() -> None:
    from streams.routing.state import RouterState
    from tests.unit.routing.builders import closed, online, triaged
    from tests.unit.routing.builders import given as routed

    state = routed(
        *online("ana", "bia"),
        triaged("c1", "familia", minute=1),
        triaged("c2", "familia", minute=2),
        closed("c1", minute=3),
    )

    again = load(RouterState, dump(state))

    assert again == state
    assert "c1" in again.closed
    assert dict(again.assignments) == dict(state.assignments)
