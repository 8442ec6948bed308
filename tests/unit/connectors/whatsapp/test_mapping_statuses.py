"""Given status webhooks for the office's outbound messages, when they are mapped, then each
becomes a DeliveryStatusChanged that names our message, in whatever order Meta sends them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.whatsapp.mapping import REDACTED, redact, status_event_id
from schemas.events import DeliveryError, DeliveryStatusChanged
from tests.standins.graph_api import status, status_error, webhook
from tests.unit.connectors.whatsapp.builders import (
    CITIZEN,
    CONTACTS,
    RECEIVED,
    SENT_WAMID,
    when_mapped,
)

OUR_MESSAGE = "msg-2026-03-02-0001"


@pytest.mark.parametrize("state", ["sent", "delivered", "read"])
def test_a_status_names_our_message_from_the_callback_data(state: str) -> None:
    payload = webhook(statuses=[status(SENT_WAMID, state, CITIZEN, message_id=OUR_MESSAGE)])

    (got,) = when_mapped(payload).statuses

    assert got == DeliveryStatusChanged(
        event_id=status_event_id(SENT_WAMID, state),
        occurred_at=RECEIVED,
        correlation_id=OUR_MESSAGE,
        channel="whatsapp",
        contact_id=CONTACTS.contact("whatsapp", CITIZEN).contact_id,
        message_id=OUR_MESSAGE,
        provider_message_id=SENT_WAMID,
        status=state,  # type: ignore[arg-type]
        status_at=datetime(2025, 2, 12, 0, 43, 50, tzinfo=UTC),
        provider_timestamp="1739321030",
    )


def test_without_callback_data_the_lookup_names_our_message() -> None:
    payload = webhook(statuses=[status(SENT_WAMID, "delivered", CITIZEN)])

    (got,) = when_mapped(payload, {SENT_WAMID: OUR_MESSAGE}.get).statuses

    assert got.message_id == OUR_MESSAGE


@pytest.mark.parametrize("lookup", [None, {}.get])
def test_a_status_for_a_message_we_never_sent_is_rejected(lookup: object) -> None:
    payload = webhook(statuses=[status(SENT_WAMID, "read", CITIZEN)])

    result = when_mapped(payload, lookup)  # type: ignore[arg-type]

    assert result.statuses == ()
    (rejection,) = result.rejections
    assert (rejection.scope, rejection.reason) == ("status", "status for an unknown message")
    assert rejection.where == "$.entry[0].changes[0].value.statuses[0]"
    assert rejection.provider_message_id == SENT_WAMID


def test_a_failure_carries_its_errors_without_the_citizens_number() -> None:
    details = f"Message to +55 (11) 98765-4321 failed; recipient {CITIZEN} is not on WhatsApp"
    payload = webhook(
        statuses=[status(SENT_WAMID, "failed", CITIZEN, errors=[status_error(131026, details)])]
    )

    (got,) = when_mapped(payload, {SENT_WAMID: OUR_MESSAGE}.get).statuses

    assert got.status == "failed"
    assert got.errors == (
        DeliveryError(
            code="131026",
            title="Message undeliverable",
            detail=f"Message to {REDACTED} failed; recipient {REDACTED} is not on WhatsApp",
        ),
    )
    assert got.event_id == status_event_id(SENT_WAMID, "failed", ["131026"])


def test_failures_with_different_codes_are_different_events() -> None:
    def failed(code: int) -> str:
        payload = webhook(
            statuses=[status(SENT_WAMID, "failed", CITIZEN, errors=[status_error(code)])]
        )
        return when_mapped(payload, {SENT_WAMID: OUR_MESSAGE}.get).statuses[0].event_id

    assert failed(131047) != failed(131026)


def test_out_of_order_statuses_are_all_kept_with_their_own_times() -> None:
    payload = webhook(
        statuses=[
            status(SENT_WAMID, "read", CITIZEN, timestamp="1739321090", message_id=OUR_MESSAGE),
            status(SENT_WAMID, "sent", CITIZEN, timestamp="1739321030", message_id=OUR_MESSAGE),
            status(
                SENT_WAMID, "delivered", CITIZEN, timestamp="1739321060", message_id=OUR_MESSAGE
            ),
        ]
    )

    got = when_mapped(payload).statuses

    assert [s.status for s in got] == ["read", "sent", "delivered"]
    assert sorted(got, key=lambda s: s.status_at)[-1].status == "read"
    assert len({s.event_id for s in got}) == 3


def test_a_redelivered_status_webhook_yields_the_same_event_ids() -> None:
    payload = webhook(statuses=[status(SENT_WAMID, "delivered", CITIZEN, message_id=OUR_MESSAGE)])

    assert when_mapped(payload).statuses == when_mapped(payload).statuses


def test_errors_on_a_non_failed_status_are_not_carried() -> None:
    item = status(
        SENT_WAMID, "sent", CITIZEN, message_id=OUR_MESSAGE, errors=[status_error(131047)]
    )

    (got,) = when_mapped(webhook(statuses=[item])).statuses

    assert got.errors == ()


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"status": "deleted"}, "status"),
        ({"status": None}, "status"),
        ({"recipient_id": None}, "recipient_id"),
        ({"recipient_id": "not-a-number"}, "recipient_id"),
        ({"id": 7}, "id"),
        ({"errors": {"code": 1}}, "errors"),
        ({"errors": [{"title": "x"}]}, "errors[0].code"),
        ({"errors": [{"code": 131026}]}, "errors[0].title"),
    ],
)
def test_a_malformed_status_is_rejected_alone(change: dict[str, object], where: str) -> None:
    bad = (
        status(SENT_WAMID, "failed", CITIZEN, message_id=OUR_MESSAGE, errors=[status_error(1)])
        | change
    )
    good = status("wamid.OTHER", "read", CITIZEN, message_id=OUR_MESSAGE)

    result = when_mapped(webhook(statuses=[bad, good]))

    assert [s.provider_message_id for s in result.statuses] == ["wamid.OTHER"]
    (rejection,) = result.rejections
    assert rejection.where == f"$.entry[0].changes[0].value.statuses[0].{where}"
    assert CITIZEN not in rejection.reason


def test_redaction_leaves_codes_and_short_numbers_alone() -> None:
    assert redact("(#131047) 24 hours since 2 messages") == "(#131047) 24 hours since 2 messages"
    assert redact("call +1 650-555-1234 now") == f"call {REDACTED} now"
    assert redact("to 5511987654321.") == f"to {REDACTED}."
    assert redact("ligue (11) 3333-4444") == f"ligue {REDACTED}"
