"""Processor state survives a trip through the changelog exactly; its personal values are
sealed with their citizen's key, and come back ERASED once the key is destroyed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from immutables import Map

from schemas.personal import ERASED, Erased, InMemoryKeyRing
from streams.shared.snapshots import (
    PLAIN,
    SEALED,
    SnapshotError,
    dump,
    format_of,
    holds_personal,
    load,
    subject_of,
)

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
PHONE = "+5511999990000"
CITIZEN = "citizen-42"


def ring_with(*subjects: str) -> InMemoryKeyRing:
    ring = InMemoryKeyRing()
    for subject in subjects:
        ring.encryption_key(subject)
    return ring


def test_nested_state_round_trips_exactly() -> None:
    state = Contact(
        contact_id="c-1",
        cases=(
            Case("k-1", "closed", WHEN, "agent-7", ERASED),
            Case("k-2", "queued", WHEN + timedelta(days=1), None, PHONE),
        ),
        seen=frozenset({"e-2", "e-1"}),
        window=timedelta(hours=36, microseconds=5),
        counts={"reminders": 2},
        by_day={20261128: ("e-1", "e-2")},
        birthday=date(1980, 2, 29),
        score=1,
    )

    ring = ring_with(CITIZEN)

    again = load(Contact, dump(state, ring, CITIZEN), ring)

    assert again == state
    assert again.cases[0].address is ERASED
    assert isinstance(again.score, float)


@dataclass(frozen=True)
class Visits:
    contact_id: str
    seen: frozenset[str] = frozenset()


def test_snapshots_without_personal_values_are_deterministic_plain_bytes() -> None:
    state = Visits(contact_id="c", seen=frozenset({"b", "a", "c"}))

    assert dump(state) == dump(Visits(contact_id="c", seen=frozenset({"c", "a", "b"})))
    assert format_of(dump(state)) == PLAIN
    assert not holds_personal(Visits)


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
    ring = ring_with(CITIZEN)
    assert load(Case, dump(case, ring, CITIZEN), ring) == case


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

    ring = ring_with(CITIZEN)

    again = load(Board, dump(one, ring, CITIZEN), ring)

    assert again == one
    assert isinstance(again.cases, Map)
    assert again.order[7] == "k7"
    assert dump(one, ring, CITIZEN) == dump(other, ring, CITIZEN)


def test_personal_values_inside_persistent_maps_are_sealed_and_restored() -> None:
    board = Board(
        Map({f"k{i}": Case(f"k{i}", "queued", WHEN, None, f"+55119{i:08}") for i in range(20)})
    )
    ring = ring_with(CITIZEN)

    data = dump(board, ring, CITIZEN)

    assert b"+55119" not in data
    assert load(Board, data, ring) == board


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


# -- personal values sealed ----------------------------------------------------------------


def contact_of_maria() -> Contact:
    return Contact(
        contact_id="contact-7",
        cases=(
            Case("k-1", "closed", WHEN, "agent-7", "maria.quiteria@example.org"),
            Case("k-2", "queued", WHEN, None, PHONE),
            Case("k-3", "in_triage", WHEN, None, None),
        ),
        counts={"reminders": 1},
    )


def test_personal_values_are_sealed_and_ids_stay_readable() -> None:
    ring = ring_with(CITIZEN)

    data = dump(contact_of_maria(), ring, CITIZEN)

    assert format_of(data) == SEALED
    assert subject_of(data) == CITIZEN
    assert b"maria.quiteria" not in data
    assert PHONE.encode() not in data
    assert b"contact-7" in data
    assert b"agent-7" in data
    assert load(Contact, data, ring) == contact_of_maria()


def test_once_the_citizens_key_is_destroyed_personal_values_come_back_erased() -> None:
    ring = ring_with(CITIZEN)
    data = dump(contact_of_maria(), ring, CITIZEN)

    ring.destroy(CITIZEN)
    again = load(Contact, data, ring)

    assert [c.address for c in again.cases] == [ERASED, ERASED, None]
    assert again == Contact(
        contact_id="contact-7",
        cases=tuple(
            Case(c.case_id, c.status, c.opened_at, c.agent_id, ERASED if c.address else None)
            for c in contact_of_maria().cases
        ),
        counts={"reminders": 1},
    )


def test_a_state_of_an_erased_citizen_is_written_with_its_personal_values_erased() -> None:
    ring = ring_with(CITIZEN)
    ring.destroy(CITIZEN)

    data = dump(contact_of_maria(), ring, CITIZEN)

    assert b"maria.quiteria" not in data
    assert PHONE.encode() not in data
    assert subject_of(data) is None  # nothing sealed: nothing to open
    assert [c.address for c in load(Contact, data, ring_with()).cases] == [ERASED, ERASED, None]


def test_a_state_that_names_no_citizen_keeps_no_personal_value() -> None:
    data = dump(contact_of_maria(), ring_with(CITIZEN), None)

    assert b"maria.quiteria" not in data
    assert [c.address for c in load(Contact, data).cases] == [ERASED, ERASED, None]


def test_a_state_without_personal_values_present_needs_no_key_to_read() -> None:
    ring = ring_with(CITIZEN)
    state = Contact(contact_id="c", cases=(Case("k", "queued", WHEN),))

    data = dump(state, ring, CITIZEN)

    assert format_of(data) == SEALED
    assert subject_of(data) is None
    assert load(Contact, data) == state


def test_a_snapshot_written_before_sealing_is_still_read() -> None:
    # What streams.shared.snapshots wrote before sealing: the state as JSON, in clear.
    old = (
        b'{"contact_id":"contact-7","cases":[{"case_id":"k-1","status":"closed",'
        b'"opened_at":"2026-11-28T12:00:00.123456+00:00","agent_id":"agent-7",'
        b'"address":{"$erased":true}},{"case_id":"k-2","status":"queued",'
        b'"opened_at":"2026-11-28T12:00:00.123456+00:00","agent_id":null,'
        b'"address":"+5511999990000"}],"seen":["e-1"],"window":{"$us":604800000000},'
        b'"counts":{},"by_day":{"20261128":["e-1"]},"birthday":null,"score":0.0}'
    )

    again = load(Contact, old, ring_with())

    assert format_of(old) == PLAIN
    assert subject_of(old) is None
    assert [c.address for c in again.cases] == [ERASED, PHONE]
    assert again.by_day == {20261128: ("e-1",)}


def test_sealed_values_need_a_key_ring_to_be_read() -> None:
    data = dump(contact_of_maria(), ring_with(CITIZEN), CITIZEN)

    with pytest.raises(SnapshotError, match="a key ring is needed"):
        load(Contact, data)
    with pytest.raises(SnapshotError, match="a key ring is needed"):
        dump(contact_of_maria())


def test_a_tampered_or_transplanted_sealed_part_is_refused() -> None:
    ring = ring_with(CITIZEN, "citizen-43")
    data = dump(contact_of_maria(), ring, CITIZEN)
    tampered = data[:-200] + bytes([data[-200] ^ 1]) + data[-199:]
    sealed_at = 8 + len(CITIZEN)
    # The same sealed part presented as another citizen's: the key does not open it.
    other = b"citizen-43"
    transplanted = data[:2] + len(other).to_bytes(2, "big") + data[4:8] + other + data[sealed_at:]

    with pytest.raises(SnapshotError):
        load(Contact, tampered, ring)
    with pytest.raises(SnapshotError, match="fails authentication"):
        load(Contact, transplanted, ring)


def test_a_truncated_sealed_snapshot_says_so() -> None:
    data = dump(contact_of_maria(), ring_with(CITIZEN), CITIZEN)

    with pytest.raises(SnapshotError, match="more bytes than there are"):
        load(Contact, data[:20], ring_with(CITIZEN))


@dataclass(frozen=True)
class Tags:
    tags: frozenset[str | Erased] = frozenset()


def test_a_type_that_keeps_personal_values_where_they_cannot_be_sealed_is_refused() -> None:
    with pytest.raises(TypeError, match="in a set"):
        holds_personal(Tags)


def test_the_conversation_state_seals_the_address_the_dialogue_and_the_answers() -> None:
    from streams.conversation.processor import ConversationCore
    from tests.unit.triage.conversation import CITIZEN as CONVERSING
    from tests.unit.triage.conversation import Citizen

    core = ConversationCore()
    maria = Citizen(channel="email", address="maria.quiteria.mk1@example.org")
    state = core.initial("contact-1")
    for message in (
        maria.says("O Joaquim mk2 não paga a pensão", email_subject="Pensão do Pedro mk3"),
        maria.says(
            "meu ex marido Joaquim mk4 não paga a pensão das crianças",
            email_subject="Re: Pensão do Pedro mk3",
        ),
    ):
        after, _ = core.handle(state, message)
        assert after is not None
        state = after
    assert state.triage is not None
    assert state.triage.answers  # the dialogue is under way, the words are in the state
    ring = ring_with(CONVERSING)

    data = dump(state, ring, core.subject_of(state))

    for marker in (b"mk1", b"mk2", b"mk3", b"mk4"):
        assert marker not in data
    assert load(core.state_type, data, ring) == state
    ring.destroy(CONVERSING)
    erased = load(core.state_type, data, ring)
    assert erased.contact.contact_address is ERASED
    assert erased.triage is not None
    assert erased.triage.reply_to is not None
    assert erased.triage.reply_to.contact_address is ERASED
    assert erased.triage.reply_to.email_subject is ERASED
    assert {a.answer for a in erased.triage.answers} == {ERASED}
    assert set(erased.triage.narrative) == {ERASED}
    assert erased.contact.case == state.contact.case  # what is not personal is intact


def test_the_routers_and_the_sla_clocks_states_hold_nothing_personal() -> None:
    from streams.routing.state import RouterState
    from streams.sla.processor import ContactClocks, PolicyContext

    assert not holds_personal(RouterState)
    assert not holds_personal(ContactClocks)
    assert not holds_personal(PolicyContext)


def test_sealed_snapshots_read_back_as_json_after_their_header() -> None:
    # Operators can still look at a state with ordinary tools: after the header, JSON.
    ring = ring_with(CITIZEN)
    data = dump(contact_of_maria(), ring, CITIZEN)
    body_at = 8 + len(CITIZEN) + int.from_bytes(data[4:8], "big")

    plain = orjson.loads(data[body_at:])

    assert plain["contact_id"] == "contact-7"
    assert plain["cases"][1]["address"] == {"$sealed": 1}


def test_the_sealed_formats_json_is_the_plain_formats_with_the_values_numbered() -> None:
    state = Contact(
        contact_id="c",
        cases=(Case("k-1", "queued", WHEN), Case("k-2", "closed", WHEN, "agent-7", PHONE)),
        seen=frozenset({"b", "a"}),
        window=timedelta(hours=1),
        counts={"x": 1},
        by_day={1: ("e",)},
    )

    def plain(value: object) -> object:  # what the plain format writes besides orjson's own
        if isinstance(value, frozenset):
            return sorted(value)
        if isinstance(value, timedelta):
            return {"$us": value // timedelta(microseconds=1)}
        raise TypeError(value)

    data = dump(state, ring_with(CITIZEN), CITIZEN)
    body_at = 8 + len(CITIZEN) + int.from_bytes(data[4:8], "big")

    expected = orjson.loads(orjson.dumps(state, default=plain, option=orjson.OPT_NON_STR_KEYS))
    expected["cases"][1]["address"] = {"$sealed": 0}
    assert orjson.loads(data[body_at:]) == expected
