"""Personal data in exports: left out, pseudonymized with a keyed HMAC, or (with an
authorized key) in clear; never in clear without one."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Mapping
from typing import Any

import pytest

from schemas.container import ContainerWriter
from schemas.personal import InMemoryKeyRing
from streams.export.plan import ANALYST_TYPES
from streams.export.privacy import (
    CITIZEN_IDENTIFIERS,
    Policy,
    UnauthorizedKey,
    check_authorized_key,
    make_pseudonym,
    redact,
    redaction_for,
)
from tests.unit.export.builders import (
    CITIZEN,
    CONTACT,
    NAME,
    PHONE,
    TEXT,
    WAMID,
    codec,
    envelope,
    joana_message,
    sealed,
)

SECRET = b"k" * 32
PLAINTEXTS = (TEXT, PHONE, NAME, CONTACT, CITIZEN, WAMID, "Rua das Flores", "certidao")


def export(record: dict[str, Any], policy: Policy, keys: InMemoryKeyRing) -> dict[str, Any]:
    name = "MessageReceived"
    redaction = redaction_for(codec().schemas.current(name).raw, policy)
    key = keys.decryption_key(record["subject_id"]) if redaction.opens_sealed else None
    return redact(
        record,
        redaction,
        pseudonym=make_pseudonym(SECRET) if policy == "pseudonymize" else None,
        key=key,
    )


def test_pseudonymize_replaces_identifiers_and_leaves_free_text_out() -> None:
    keys = InMemoryKeyRing()
    record = sealed("MessageReceived", joana_message(), keys)

    out = export(record, "pseudonymize", keys)

    pseudonym = make_pseudonym(SECRET)
    assert out["contact_id"] == pseudonym(CONTACT)
    assert out["subject_id"] == pseudonym(CITIZEN)
    assert out["contact_address"] == pseudonym(PHONE)
    assert out["provider_message_id"] == out["thread_id"] == pseudonym(WAMID)
    for left_out in ("text", "sender_name", "email_subject", "location", "shared_contacts"):
        assert left_out not in out
    assert set(out["attachments"][0]) == {
        "attachment_id",
        "provider_media_id",
        "media_type",
        "size_bytes",
        "sha256",
        "storage_ref",
    }
    assert out["kind"] == "image"
    assert out["channel"] == "whatsapp"
    assert not any(p in repr(out) for p in PLAINTEXTS)


def test_omit_leaves_out_every_personal_field_and_identifier_without_any_key() -> None:
    keys = InMemoryKeyRing()
    record = sealed("MessageReceived", joana_message(), keys)
    redaction = redaction_for(codec().schemas.current("MessageReceived").raw, "omit")

    out = redact(record, redaction, pseudonym=None, key=None)

    assert not redaction.opens_sealed
    assert not {"contact_id", "subject_id", "contact_address", "text"} & set(out)
    assert out["received_at"] == record["received_at"]
    assert not any(p in repr(out) for p in PLAINTEXTS)


def test_clear_opens_every_personal_field() -> None:
    keys = InMemoryKeyRing()
    message = joana_message()
    record = sealed("MessageReceived", message, keys)

    out = export(record, "clear", keys)

    for field in ("contact_id", "subject_id", "contact_address", "sender_name", "text"):
        assert out[field] == message[field]
    assert out["location"] == message["location"]
    assert out["attachments"][0]["caption"] == "certidão do meu filho"
    assert out["shared_contacts"] == message["shared_contacts"]


def test_a_destroyed_key_yields_null_not_an_error() -> None:
    keys = InMemoryKeyRing()
    record = sealed("MessageReceived", joana_message(), keys)
    keys.destroy(CITIZEN)

    clear = export(record, "clear", keys)
    pseudonymized = export(record, "pseudonymize", keys)

    assert clear["text"] is None
    assert clear["contact_address"] is None
    assert clear["location"]["latitude"] is None
    assert clear["event_id"] == record["event_id"]
    assert pseudonymized["contact_address"] is None
    assert pseudonymized["contact_id"] == make_pseudonym(SECRET)(CONTACT)


def test_pseudonyms_are_stable_keyed_and_join_across_event_types() -> None:
    keys = InMemoryKeyRing()
    message = export(sealed("MessageReceived", joana_message(), keys), "pseudonymize", keys)
    opened = redact(
        {
            **envelope("open-1", 1),
            "case_id": "case-1",
            "citizen_id": CITIZEN,
            "contact_id": CONTACT,
            "channel": "whatsapp",
            "opened_by_message_id": None,
            "opened_by_agent_id": None,
        },
        redaction_for(codec().schemas.current("CaseOpened").raw, "pseudonymize"),
        pseudonym=make_pseudonym(SECRET),
        key=None,
    )

    assert opened["contact_id"] == message["contact_id"]
    assert opened["citizen_id"] == message["subject_id"]
    assert make_pseudonym(SECRET)(CONTACT) == make_pseudonym(bytes(SECRET))(CONTACT)
    assert make_pseudonym(b"j" * 32)(CONTACT) != make_pseudonym(SECRET)(CONTACT)
    assert re.fullmatch(r"[0-9a-f]{32}", message["contact_id"])


def test_arrays_of_identifiers_are_pseudonymized_one_by_one() -> None:
    linked = {
        **envelope("link-1", 1),
        "citizen_id": "citizen-a",
        "contact_ids": ["contact-a", "contact-b"],
        "merged_citizen_ids": ["citizen-b"],
        "linked_by_agent_id": "agent-7",
        "reason": "same_document",
    }
    redaction = redaction_for(codec().schemas.current("ContactsLinked").raw, "pseudonymize")

    out = redact(linked, redaction, pseudonym=make_pseudonym(SECRET), key=None)

    p = make_pseudonym(SECRET)
    assert out["contact_ids"] == [p("contact-a"), p("contact-b")]
    assert out["merged_citizen_ids"] == [p("citizen-b")]
    assert out["linked_by_agent_id"] == "agent-7"  # agents are staff, in clear


@pytest.mark.parametrize("policy", ["clear", "pseudonymize", "omit"])
def test_every_exported_schema_is_valid_avro_and_seals_nothing(policy: Policy) -> None:
    for name in ANALYST_TYPES:
        redaction = redaction_for(codec().schemas.current(name).raw, policy)

        ContainerWriter(io.BytesIO(), redaction.schema)  # parses, or raises
        text = repr(redaction.schema)
        assert "'bytes'" not in text, name
        assert "acolhe.personal" not in text, name
        if policy == "omit":
            assert not CITIZEN_IDENTIFIERS & set(_field_names(redaction.schema)), name


def test_every_field_that_may_point_at_a_citizen_is_personal_or_pseudonymized() -> None:
    """A new field named like a contact, citizen, address or provider id must be classified
    (sealed in its schema, or added to CITIZEN_IDENTIFIERS) before it reaches an export."""
    suspect = re.compile(r"contact|citizen|subject|provider|thread|address|phone|email|sender")
    reviewed_harmless = {"provider_timestamp", "sender_kind", "shared_contacts"}  # cards sealed
    for name in ANALYST_TYPES:
        for field, personal in _fields(codec().schemas.current(name).raw):
            if suspect.search(field) and field not in reviewed_harmless:
                assert personal or field in CITIZEN_IDENTIFIERS, f"{name}.{field}"


def test_only_an_authorized_key_opens_personal_fields() -> None:
    key = os.urandom(32)
    digest = hashlib.sha256(key).hexdigest()

    check_authorized_key(key, [digest])
    check_authorized_key(key, ["0" * 64, digest.upper()])
    with pytest.raises(UnauthorizedKey, match="not an authorized key"):
        check_authorized_key(os.urandom(32), [digest])
    with pytest.raises(UnauthorizedKey, match="ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256"):
        check_authorized_key(key, [])
    with pytest.raises(UnauthorizedKey, match="at least 32"):
        check_authorized_key(b"short", [hashlib.sha256(b"short").hexdigest()])


def _fields(record: Mapping[str, Any]) -> list[tuple[str, bool]]:
    out = []
    for field in record["fields"]:
        out.append((field["name"], field.get("acolhe.personal") is True))
        for branch in field["type"] if isinstance(field["type"], list) else [field["type"]]:
            if isinstance(branch, dict) and branch.get("type") == "record":
                out.extend(_fields(branch))
            items = branch.get("items") if isinstance(branch, dict) else None
            if isinstance(items, dict) and items.get("type") == "record":
                out.extend(_fields(items))
    return out


def _field_names(record: Mapping[str, Any]) -> list[str]:
    return [name for name, _ in _fields(record)]
