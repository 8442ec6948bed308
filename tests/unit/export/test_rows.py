"""Exported records flattened into rows: a column per field, nested records spread into
columns, arrays as JSON text, instants in UTC."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

from bench.samples import routing_decided
from schemas.personal import InMemoryKeyRing
from streams.export.privacy import make_pseudonym, redact, redaction_for
from streams.export.rows import columns_of, csv_cell, flatten
from tests.unit.export.builders import codec, joana_message, sealed


def test_a_message_in_clear_spreads_its_location_and_keeps_its_attachments_as_json() -> None:
    keys = InMemoryKeyRing()
    message = joana_message()
    redaction = redaction_for(codec().schemas.current("MessageReceived").raw, "clear")
    record = redact(
        sealed("MessageReceived", message, keys),
        redaction,
        pseudonym=None,
        key=keys.decryption_key(message["subject_id"]),
    )

    columns = columns_of(redaction.schema)
    row = dict(zip([c.name for c in columns], flatten(record, columns), strict=True))

    assert {c.name: c.kind for c in columns}["occurred_at"] == "timestamp"
    assert row["occurred_at"] == message["occurred_at"]
    assert row["location_latitude"] == "-23.5505"
    assert row["location_address"] == "Rua das Flores 12"
    assert "location" not in row
    attachments = json.loads(row["attachments"])
    assert attachments[0]["caption"] == "certidão do meu filho"
    assert attachments[0]["size_bytes"] == 184_233
    assert json.loads(row["shared_contacts"]) == [{"card": '{"name": "Irmã da Joana"}'}]


def test_a_pseudonymized_message_has_no_column_for_what_it_leaves_out() -> None:
    keys = InMemoryKeyRing()
    redaction = redaction_for(codec().schemas.current("MessageReceived").raw, "pseudonymize")
    names = [c.name for c in columns_of(redaction.schema)]

    assert "contact_address" in names
    assert "contact_id" in names
    assert not {"text", "sender_name", "location_latitude", "shared_contacts"} & set(names)
    record = redact(
        sealed("MessageReceived", joana_message(location=None), keys),
        redaction,
        pseudonym=make_pseudonym(b"s" * 32),
        key=keys.decryption_key("citizen-joana"),
    )
    assert len(flatten(record, columns_of(redaction.schema))) == len(names)


def test_nested_arrays_with_instants_become_json_with_rfc3339_times() -> None:
    raw = routing_decided(3)
    redaction = redaction_for(codec().schemas.current("RoutingDecided").raw, "omit")
    columns = columns_of(redaction.schema)

    row = dict(zip([c.name for c in columns], flatten(raw, columns), strict=True))

    candidates = json.loads(row["candidates"])
    assert candidates[0]["agent_id"] == "agent-0"
    assert candidates[1]["last_assigned_at"].endswith("+00:00")
    assert row["escalation_step"] == raw["escalation_step"]


def test_a_previous_presence_named_by_reference_is_text() -> None:
    redaction = redaction_for(codec().schemas.current("AgentPresenceChanged").raw, "omit")

    kinds = {c.name: c.kind for c in columns_of(redaction.schema)}

    assert kinds["presence"] == kinds["previous_presence"] == "string"
    assert kinds["changed_at"] == "timestamp"


def test_csv_cells_are_plain_text_with_utc_instants() -> None:
    sao_paulo = timezone(timedelta(hours=-3))

    assert csv_cell(None) == ""
    assert csv_cell(True) == "true"
    assert csv_cell(False) == "false"
    assert csv_cell(42) == "42"
    assert csv_cell(datetime(2026, 11, 30, 9, 0, tzinfo=sao_paulo)) == (
        "2026-11-30T12:00:00.000000Z"
    )
    assert csv_cell(datetime(2026, 11, 30, 12, 0, 0, 5, tzinfo=UTC)).endswith(":00.000005Z")
    assert csv_cell(date(2026, 4, 21)) == "2026-04-21"
    assert csv_cell('um "texto", com vírgula') == 'um "texto", com vírgula'
