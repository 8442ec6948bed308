"""Given payloads that are not for us or not well formed, when mapped, then what is wrong
is rejected with where and why, the rest still maps, and nothing ever raises."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.whatsapp.mapping import Notice, WebhookMapping, map_webhook
from tests.standins.graph_api import message, status, webhook
from tests.unit.connectors.whatsapp.builders import CITIZEN, CONTACTS, RECEIVED, WAMID, when_mapped

TEXT = message("text", {"body": "oi"}, wamid=WAMID, sender=CITIZEN)


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ([], "$"),
        ({"object": "page", "entry": []}, "$.object"),
        ({"object": "whatsapp_business_account"}, "$.entry"),
    ],
)
def test_a_payload_that_is_not_a_whatsapp_business_account_webhook_is_rejected_whole(
    payload: Any, where: str
) -> None:
    result = when_mapped(payload)

    assert result.is_rejected_whole
    assert [r.where for r in result.rejections] == [where]


def test_a_change_for_a_number_the_office_does_not_run_is_rejected() -> None:
    result = when_mapped(webhook(messages=[TEXT], phone_number_id="999999999999999"))

    assert result.messages == ()
    (rejection,) = result.rejections
    assert rejection.scope == "change"
    assert rejection.reason.startswith("metadata.phone_number_id is not one of the configured")
    assert result.has_unknown_account
    assert not result.is_rejected_whole


def test_an_empty_account_list_rejects_every_change() -> None:
    result = map_webhook(
        webhook(messages=[TEXT]), accounts=(), contacts=CONTACTS, occurred_at=RECEIVED
    )

    assert result.has_unknown_account


def test_other_webhook_fields_are_noticed_not_rejected() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [{"field": "message_template_status_update", "value": {}}]}
        ],
    }

    result = when_mapped(payload)

    assert result.rejections == ()
    assert "'message_template_status_update' is not handled" in result.notices[0].text


def test_account_level_errors_become_notices_without_phone_numbers() -> None:
    payload = webhook()
    payload["entry"][0]["changes"][0]["value"]["errors"] = [
        {"code": 130429, "title": "Rate limit hit", "error_data": {"details": "to 5511987654321"}}
    ]

    (notice,) = when_mapped(payload).notices

    assert notice.text.startswith("WhatsApp error 130429: Rate limit hit")
    assert CITIZEN not in notice.text


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        ({"from": None}, "from", "from is missing or not a non-empty string"),
        ({"from": "+55 11 9"}, "from", "from is not a WhatsApp phone number"),
        ({"id": ""}, "id", "id is missing or not a non-empty string"),
        ({"type": None}, "type", "type is missing or not a non-empty string"),
        ({"text": "oi"}, "text", "text is missing or not an object"),
        ({"text": {"body": 5}}, "text.body", "body is missing or not a non-empty string"),
        ({"context": "wamid"}, "context", "context is not an object"),
        ({"text": {"body": "\ud800"}}, "text.body", "body is missing or not a non-empty string"),
    ],
)
def test_a_malformed_message_is_rejected_and_its_neighbours_still_map(
    change: dict[str, Any], where: str, reason: str
) -> None:
    bad = TEXT | change
    good = message("text", {"body": "tudo bem"}, wamid="wamid.GOOD", sender=CITIZEN)

    result = when_mapped(webhook(messages=[bad, good]))

    assert [m.provider_message_id for m in result.messages] == ["wamid.GOOD"]
    (rejection,) = result.rejections
    assert (rejection.scope, rejection.reason) == ("message", reason)
    assert rejection.where == f"$.entry[0].changes[0].value.messages[0].{where}"


@pytest.mark.parametrize(
    ("kind", "content", "where"),
    [
        ("image", {"mime_type": "image/jpeg"}, "image.id"),
        ("image", {"id": "1", "mime_type": "image/jpeg", "sha256": "nope"}, "image.sha256"),
        ("location", {"latitude": "x", "longitude": 1}, "location.latitude"),
        ("location", {"latitude": 91.0, "longitude": 1}, "location.latitude"),
        ("location", {"latitude": True, "longitude": 1}, "location.latitude"),
        ("contacts", [], "contacts"),
        ("interactive", {"type": "button_reply"}, "interactive.button_reply"),
        (
            "interactive",
            {"type": "list_reply", "list_reply": {"id": "a"}},
            "interactive.list_reply.title",
        ),
        ("button", {"payload": "p"}, "button.text"),
        ("reaction", {"emoji": "x"}, "reaction.message_id"),
    ],
)
def test_each_type_checks_its_required_fields(kind: str, content: Any, where: str) -> None:
    result = when_mapped(webhook(messages=[message(kind, content, wamid=WAMID, sender=CITIZEN)]))

    (rejection,) = result.rejections
    assert rejection.where == f"$.entry[0].changes[0].value.messages[0].{where}"
    assert rejection.provider_message_id == WAMID


def test_messages_and_statuses_that_are_not_lists_reject_the_change_part() -> None:
    payload = webhook(statuses=[status("wamid.S", "read", CITIZEN, message_id="m")])
    payload["entry"][0]["changes"][0]["value"]["messages"] = {"oops": 1}

    result = when_mapped(payload)

    assert len(result.statuses) == 1
    assert [r.where for r in result.rejections] == ["$.entry[0].changes[0].value.messages"]


def test_the_paths_of_rejections_and_notices_name_the_entry_change_and_item() -> None:
    good = message("text", {"body": "oi"}, wamid="wamid.GOOD", sender=CITIZEN)
    bad_text = message("text", {"body": ""}, wamid=WAMID, sender=CITIZEN)
    bad_status = status("wamid.S", "failed", CITIZEN, message_id="m", errors=[{"title": "x"}])
    messages_change = webhook(messages=[good, bad_text])["entry"][0]["changes"][0]
    statuses_change = webhook(statuses=[status("wamid.T", "read", CITIZEN, message_id="m")])
    statuses_change = statuses_change["entry"][0]["changes"][0]
    statuses_change["value"]["statuses"].append(bad_status)
    statuses_change["value"]["errors"] = [{"code": 131000, "title": "Something"}]
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [{"field": "account_update", "value": {}}, statuses_change]},
            {"id": "1", "changes": [5, messages_change]},
        ],
    }

    result = when_mapped(payload)

    assert [(r.scope, r.where, r.reason) for r in result.rejections] == [
        ("status", "$.entry[0].changes[1].value.statuses[1].errors[0].code",
         "code is missing or not a number"),
        ("change", "$.entry[1].changes[0]", "change is not an object"),
        ("message", "$.entry[1].changes[1].value.messages[1].text.body",
         "body is missing or not a non-empty string"),
    ]  # fmt: skip
    assert [r.provider_message_id for r in result.rejections] == ["wamid.S", None, WAMID]
    assert result.notices == (
        Notice("$.entry[0].changes[0]", "webhook field 'account_update' is not handled"),
        Notice("$.entry[0].changes[1].value.errors[0]", "WhatsApp error 131000: Something"),
    )
    assert [m.provider_message_id for m in result.messages] == ["wamid.GOOD"]
    assert [s.provider_message_id for s in result.statuses] == ["wamid.T"]


@pytest.mark.parametrize(
    ("body", "is_received"),
    [("ação", True), ("oi \U0001f600", True), ("ação\udc80", False), ("\udfff oi", False)],
)
def test_a_text_with_a_lone_surrogate_is_rejected_and_any_other_text_received(
    body: str, is_received: bool
) -> None:
    result = when_mapped(
        webhook(messages=[message("text", {"body": body}, wamid=WAMID, sender=CITIZEN)])
    )

    assert [m.text for m in result.messages] == ([body] if is_received else [])
    assert [r.where for r in result.rejections] == (
        [] if is_received else ["$.entry[0].changes[0].value.messages[0].text.body"]
    )


def test_a_surrogate_in_the_sender_or_profile_name_is_not_read() -> None:
    payload = webhook(
        contacts=[{"profile": {"name": "Jos\udce9"}, "wa_id": CITIZEN}],
        messages=[
            message("text", {"body": "oi"}, wamid=WAMID, sender=CITIZEN),
            message("text", {"body": "oi"}, wamid="wamid.B", sender=CITIZEN + "\ud800"),
        ],
    )

    result = when_mapped(payload)

    assert [m.sender_name for m in result.messages] == [None]
    assert [r.where for r in result.rejections] == ["$.entry[0].changes[0].value.messages[1].from"]


@pytest.mark.parametrize(
    ("timestamp", "received_at", "provider_timestamp"),
    [
        ("1739321024", datetime(2025, 2, 12, 0, 43, 44, tzinfo=UTC), "1739321024"),
        (1739321024, datetime(2025, 2, 12, 0, 43, 44, tzinfo=UTC), "1739321024"),
        ("0", datetime(1970, 1, 1, tzinfo=UTC), "0"),
        ("253402300799", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "253402300799"),
        ("253402300800", RECEIVED, "253402300800"),
        ("1739321024000", RECEIVED, "1739321024000"),
        ("+1739321024", RECEIVED, "+1739321024"),
        ("١٧٣٩٣٢١٠٢٤", RECEIVED, "١٧٣٩٣٢١٠٢٤"),
        ("\ud800", RECEIVED, None),
        (17.5, RECEIVED, None),
        (True, RECEIVED, None),
        (10**15, RECEIVED, None),
    ],
)
def test_the_provider_timestamp_is_read_as_epoch_seconds_or_kept_as_given(
    timestamp: Any, received_at: datetime, provider_timestamp: str | None
) -> None:
    item = message("text", {"body": "oi"}, wamid=WAMID, sender=CITIZEN) | {"timestamp": timestamp}

    for _ in range(2):  # the second time from what was read before
        (got,) = when_mapped(webhook(messages=[item])).messages

        assert (got.received_at, got.provider_timestamp) == (received_at, provider_timestamp)


def test_naive_receipt_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        map_webhook({}, accounts=(), contacts=CONTACTS, occurred_at=RECEIVED.replace(tzinfo=None))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)
field_names = st.sampled_from(
    [
        "id",
        "from",
        "type",
        "text",
        "body",
        "timestamp",
        "image",
        "status",
        "recipient_id",
        "errors",
        "code",
        "context",
        "interactive",
        "reaction",
        "location",
        "latitude",
        "contacts",
        "emoji",
    ]
)


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(field_names, json_values, max_size=4).map(lambda extra: base | extra)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_mapping_never_raises_on_any_json(payload: Any) -> None:
    result = when_mapped(payload)

    assert isinstance(result, WebhookMapping)
    assert all(r.reason and r.where.startswith("$") for r in result.rejections)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.lists(mutated(TEXT), min_size=1, max_size=3).map(lambda ms: ("messages", ms)),
        st.lists(
            mutated(status("wamid.S", "failed", CITIZEN, message_id="m")), min_size=1, max_size=3
        ).map(lambda ss: ("statuses", ss)),
    )
)
def test_every_item_is_mapped_at_most_once_or_rejected(items: tuple[str, list[Any]]) -> None:
    key, listed = items
    payload = webhook(messages=listed) if key == "messages" else webhook(statuses=listed)

    result = when_mapped(payload)

    accounted = (
        len(result.messages) + len(result.pending) + len(result.statuses) + len(result.rejections)
    )
    assert 1 <= accounted <= len(listed)  # the first is always there; repeats of an id are not
    assert not result.is_rejected_whole
