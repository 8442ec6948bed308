"""An export's options are checked before anything is read: what is wrong is said, and each
event type is read from one topic only, so no event is exported twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from streams.export.plan import (
    ANALYST_TYPES,
    DEFAULT_TOPICS,
    ExportOptions,
    kafka_topic,
    resolve,
)
from streams.shared.errors import BadInput

OUT = Path("out")
T0 = datetime(2026, 11, 30, tzinfo=UTC)


def test_by_default_every_analysts_event_is_read_from_its_home_topic() -> None:
    resolved = resolve(ExportOptions(OUT))

    assert set(resolved.types) == set(ANALYST_TYPES)
    assert resolved.sources["CaseQueued"] == "acolhe.conversations"  # not its routing copy
    assert resolved.sources["SendReply"] == "acolhe.conversations"  # not its commands copy
    assert resolved.sources["SlaPolicyChanged"] == "acolhe.sla.config"
    assert not resolved.explicit
    assert "acolhe.clock" not in DEFAULT_TOPICS
    assert "acolhe.deadletter" not in DEFAULT_TOPICS
    assert not {"ClockTicked", "ErasureRequested", "InputDeadLettered"} & set(ANALYST_TYPES)


def test_a_copy_is_read_when_the_home_topic_is_not() -> None:
    resolved = resolve(ExportOptions(OUT, topics=("acolhe.routing",)))

    assert resolved.sources["CaseQueued"] == "acolhe.routing"
    assert resolved.sources["RoutingDecided"] == "acolhe.routing"
    assert "MessageReceived" not in resolved.sources
    assert resolved.topics() == ("acolhe.routing",)


def test_a_type_asked_for_whose_topics_are_not_read_is_refused() -> None:
    with pytest.raises(BadInput, match=r"MessageReceived lives in acolhe\.conversations"):
        resolve(
            ExportOptions(
                OUT, event_types=frozenset({"MessageReceived"}), topics=("acolhe.routing",)
            )
        )


def test_the_range_is_half_open_in_microseconds() -> None:
    resolved = resolve(ExportOptions(OUT, since=T0, until=T0 + timedelta(seconds=1)))

    assert resolved.since_us == int(T0.timestamp()) * 1_000_000
    assert resolved.until_us == resolved.since_us + 1_000_000


def test_an_offset_counts_as_utc() -> None:
    sao_paulo = datetime(2026, 11, 29, 21, tzinfo=timezone(timedelta(hours=-3)))

    assert resolve(ExportOptions(OUT, since=sao_paulo)).since_us == (
        resolve(ExportOptions(OUT, since=T0)).since_us
    )


def test_topic_names_say_where_a_catalog_topic_actually_is() -> None:
    options = ExportOptions(OUT, topic_names={"acolhe.conversations": "test.conv.1"})

    assert kafka_topic(options, "acolhe.conversations") == "test.conv.1"
    assert kafka_topic(options, "acolhe.sla") == "acolhe.sla"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (ExportOptions(OUT, event_types=frozenset({"MessageRecieved"})), "unknown event type"),
        (ExportOptions(OUT, event_types=frozenset({"ClockTicked"})), "not exported"),
        (ExportOptions(OUT, event_types=frozenset({"InputDeadLettered"})), "not exported"),
        (ExportOptions(OUT, event_types=frozenset()), "no event type"),
        (ExportOptions(OUT, since=T0, until=T0), "must be after since"),
        (ExportOptions(OUT, since=T0, until=T0 - timedelta(days=1)), "must be after since"),
        (ExportOptions(OUT, since=datetime(2026, 11, 30)), "time zone"),
        (ExportOptions(OUT, areas=frozenset({"family"})), "unknown area 'family'"),
        (ExportOptions(OUT, formats=()), "at least one format"),
        (ExportOptions(OUT, formats=("xlsx",)), "unknown format"),  # type: ignore[arg-type]
        (ExportOptions(OUT, topics=("acolhe.nope",)), "not a topic of the catalog"),
        (ExportOptions(OUT, chunk_rows=0), "chunk_rows"),
    ],
)
def test_bad_options_are_refused_with_the_reason(options: ExportOptions, says: str) -> None:
    with pytest.raises(BadInput, match=says):
        resolve(options)
