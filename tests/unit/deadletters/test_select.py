"""Which dead letters an operator sees, how they read, and which can be replayed: never a
payload, key or header value on screen."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from schemas.events import InputDeadLettered, InputHeader
from streams.deadletters import select
from streams.deadletters.select import Entry, Position, Selection

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SECRET = b"Maria da Silva, CPF 123.456.789-09"


def dead(
    n: int = 0,
    *,
    at: datetime = T0,
    error_type: str = "DecodeError",
    processor: str = "streams.conversation",
    **changes: object,
) -> InputDeadLettered:
    """A processor's dead letter of an undecodable record, as `dead_letter` writes it."""
    record = InputDeadLettered(
        event_id=f"dl-{n}",
        occurred_at=at,
        correlation_id=f"dl-{n}",
        source="kafka",
        source_topic="acolhe.conversations",
        source_partition=3,
        source_offset=100 + n,
        source_key=b"contact-1",
        payload=SECRET,
        payload_sha256="ab" * 32,
        error_type=error_type,
        reason="MessageReceived v1: 10 bytes left after the record; truncated or corrupted",
        processor=processor,
        dead_lettered_at=at,
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def connectors(source: str = "http") -> InputDeadLettered:
    return dead(
        9,
        processor="connectors.whatsapp",
        error_type="MalformedJson",
        source=source,
        source_topic=None,
        source_partition=None,
        source_offset=None,
        source_key=None,
        source_headers=(InputHeader(name="content-type", value=b"application/json"),),
    )


# -- filters ---------------------------------------------------------------------------------


def test_given_a_range_when_selecting_then_since_is_included_and_until_is_not() -> None:
    records = [dead(i, at=T0 + timedelta(minutes=i)) for i in range(5)]

    got = select.select(
        records, Selection(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    )

    assert [e.record.event_id for e in got.shown] == ["dl-1", "dl-2"]


def test_given_types_and_processors_when_selecting_then_only_those_are_kept() -> None:
    records = [
        dead(1, error_type="DecodeError"),
        dead(2, error_type="UnknownEvent"),
        dead(3, error_type="DecodeError", processor="streams.sla"),
    ]

    got = select.select(
        records,
        Selection(error_types=frozenset({"DecodeError"}), processors=frozenset({"streams.sla"})),
    )

    assert [e.record.event_id for e in got.shown] == ["dl-3"]


def test_given_copies_of_one_id_when_selecting_then_it_is_listed_once_with_its_copies() -> None:
    records = [
        dead(2, at=T0 + timedelta(minutes=2)),
        dead(1),
        dead(2, at=T0 + timedelta(minutes=9)),
    ]

    got = select.select(records, Selection())

    assert [(e.record.event_id, e.copies) for e in got.shown] == [("dl-1", 1), ("dl-2", 2)]
    assert got.shown[1].record.dead_lettered_at == T0 + timedelta(minutes=2)  # the first copy


def test_given_a_limit_then_the_most_recent_are_shown_and_the_counts_cover_every_match() -> None:
    records = [dead(i, at=T0 + timedelta(minutes=i), error_type=t) for i, t in enumerate("AABAB")]

    got = select.select(records, Selection(), limit=2)

    assert [e.record.event_id for e in got.shown] == ["dl-3", "dl-4"]
    assert got.matched == 5
    assert got.by_error_type == {"A": 3, "B": 2}
    assert select.summary(got)[0] == "2 of 5 dead letters shown (the most recent; --limit)"


def test_only_a_selection_that_names_something_is_narrowed() -> None:
    assert not Selection().is_narrowed
    assert Selection(error_types=frozenset({"DecodeError"})).is_narrowed


# -- what an operator reads ------------------------------------------------------------------


def test_a_line_says_when_what_where_and_why_and_never_the_payload() -> None:
    record = dead(1, reason="x" * 200 + " the end")

    line = select.line(Entry(record))

    assert line.startswith("2026-11-30T12:00:00Z  dl-1  streams.conversation  DecodeError  ")
    assert "acolhe.conversations/3@101" in line
    assert f"{len(SECRET)} B" in line
    assert "x" * 119 + "…" in line
    assert "the end" not in line
    assert "Maria" not in line
    assert "contact-1" not in line


def test_control_characters_in_a_reason_do_not_reach_the_terminal() -> None:
    line = select.line(Entry(dead(reason="bad byte \x1b[2J\nthere")))

    assert "\x1b" not in line
    assert "\n" not in line


def test_shown_fields_name_headers_and_sizes_not_values() -> None:
    record = connectors()

    lines = select.describe(Entry(record, copies=3), is_replayable=False, why_not="no topic")
    text = "\n".join(lines)

    assert "headers         content-type (16 B)" in lines
    assert "application/json" not in text
    assert "Maria" not in text
    assert "copies          3 on the topic (the same id)" in lines
    assert "replayable      no: no topic" in lines


def test_the_json_form_carries_sizes_and_no_content() -> None:
    entry = select.as_json(Entry(dead(1)))

    assert entry["payload_bytes"] == len(SECRET)
    assert entry["key_bytes"] == len(b"contact-1")
    assert "Maria" not in repr(entry)
    assert "contact-1" not in repr(entry)
    assert entry["replayable"] is True


# -- replay ------------------------------------------------------------------------------------


def test_a_record_a_processor_read_from_kafka_is_replayable_into_its_partition() -> None:
    record = dead(1)

    assert select.refusal(record) is None
    assert select.position(record) == Position("acolhe.conversations", 3, 101)
    assert not select.needs_original(record)


def test_a_connectors_input_is_not_replayable_and_the_refusal_says_what_to_do() -> None:
    http = select.refusal(connectors("http"))
    smtp = select.refusal(connectors("smtp"))

    assert http is not None
    assert "not from a Kafka topic" in http
    assert "the provider resends" in http
    assert smtp is not None
    assert "send it again" in smtp


def test_a_kafka_dead_letter_without_its_position_is_not_replayable() -> None:
    why = select.refusal(dead(1, source_partition=None))

    assert why is not None
    assert "names no source topic" in why


def test_an_event_a_core_refused_has_no_bytes_so_the_replay_reads_the_source() -> None:
    # The runtime's `Rejected(topic, partition, offset, None, None, exc)` for a core's BadInput.
    record = dead(1, payload=b"", source_key=None)

    assert select.refusal(record) is None
    assert select.needs_original(record)
