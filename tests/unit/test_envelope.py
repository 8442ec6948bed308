"""Event ids are derived from their cause; CloudEvents headers carry the envelope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.envelope import cloudevent_headers, derive_event_id, parse_cloudevent_headers


def test_a_redelivered_cause_yields_the_same_event_id() -> None:
    first = derive_event_id("whatsapp", "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFjNFQjA")
    again = derive_event_id("whatsapp", "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFjNFQjA")

    assert first == again


def test_different_causes_or_processors_yield_different_ids() -> None:
    ids = {
        derive_event_id("whatsapp", "wamid.1"),
        derive_event_id("whatsapp", "wamid.2"),
        derive_event_id("email", "wamid.1"),
        derive_event_id("e-1", "streams.triage", "0"),
        derive_event_id("e-1", "streams.triage", "1"),
        derive_event_id("e-1", "streams.routing", "0"),
        # the separator keeps ("a", "bc") apart from ("ab", "c")
        derive_event_id("a", "bc"),
        derive_event_id("ab", "c"),
    }
    assert len(ids) == 8


@given(st.lists(st.text(min_size=1), min_size=1, max_size=4))
def test_event_ids_are_rfc_uuid5_of_the_joined_parts(parts: list[str]) -> None:
    # Ids already written to the log must stay derivable forever: the fast derivation is
    # the standard name-based UUID of the parts joined by the unit separator.
    namespace = uuid.UUID("6c1d6a4e-5f0b-4c39-9a59-6163686f6c68")
    expected = str(uuid.uuid5(namespace, "\x1f".join(parts)))

    assert derive_event_id(*parts) == expected
    assert uuid.UUID(expected).version == 5


def test_an_empty_part_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        derive_event_id("whatsapp", "")


def test_cloudevents_binary_mode_headers() -> None:
    record = {
        "event_id": "9a0c1f1e-0000-5000-8000-000000000001",
        "occurred_at": datetime(
            2026, 11, 28, 12, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-3))
        ),
        "correlation_id": "c-1",
        "causation_id": None,
    }

    headers = cloudevent_headers(
        name="MessageReceived",
        record=record,
        source="/acolhe/connectors/whatsapp",
        subject="contact-1",
        content_type="application/avro; framing=single-object",
    )
    parsed = parse_cloudevent_headers(headers)

    assert parsed == {
        "ce_specversion": "1.0",
        "ce_id": record["event_id"],
        "ce_source": "/acolhe/connectors/whatsapp",
        "ce_type": "acolhe.events.MessageReceived",
        "ce_time": "2026-11-28T15:30:00.123456Z",
        "ce_subject": "contact-1",
        "ce_correlationid": "c-1",
        "content-type": "application/avro; framing=single-object",
    }


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cloudevent_headers(
            name="X",
            record={"event_id": "e", "occurred_at": datetime(2026, 1, 1)},
            source="/s",
            subject=None,
            content_type="application/avro",
        )


def test_parsing_ignores_foreign_headers_and_odd_shapes() -> None:
    assert parse_cloudevent_headers([("traceparent", b"00-abc"), ("ce_id", b"x")]) == {"ce_id": "x"}
    assert parse_cloudevent_headers(None) == {}


def test_derived_ids_are_standard_uuid5_of_the_joined_parts() -> None:
    import uuid

    from schemas.envelope import _NAMESPACE

    for parts in [("a",), ("whatsapp", "wamid.x"), ("e-1", "streams.triage", "0"), ("ç", "日本")]:
        assert derive_event_id(*parts) == str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


@given(
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3))])),
)
def test_ce_time_is_the_instant_in_utc_as_isoformat_writes_it(moment: datetime) -> None:
    record = {"event_id": "e-1", "occurred_at": moment}
    headers = dict(
        cloudevent_headers(
            name="X", record=record, source="s", subject=None, content_type="application/avro"
        )
    )
    expected = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert headers["ce_time"].decode() == expected
