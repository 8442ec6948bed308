"""Given a webhook with a citizen's message of each WhatsApp type, when it is mapped, then
one MessageReceived carries what the citizen sent, filled as the contract documents."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from connectors.common.media import StoredMedia
from connectors.whatsapp.mapping import (
    MediaToFetch,
    Rejection,
    attachment_id,
    complete_message,
    message_event_id,
)
from schemas.envelope import derive_event_id
from schemas.events import Location, MessageReceived
from tests.standins.graph_api import (
    PHONE_NUMBER_ID,
    media_content,
    message,
    profile,
    webhook,
)
from tests.unit.connectors.whatsapp.builders import (
    CITIZEN,
    CONTACTS,
    RECEIVED,
    SHA_HEX,
    WAMID,
    when_mapped,
)


def only_message(kind: str, content: object, **kw: object) -> MessageReceived:
    payload = webhook(
        contacts=[profile(CITIZEN, "Maria Silva")],
        messages=[message(kind, content, wamid=WAMID, sender=CITIZEN, **kw)],  # type: ignore[arg-type]
    )
    result = when_mapped(payload)
    assert result.rejections == ()
    assert len(result.messages) == 1
    return result.messages[0]


def test_a_text_message_is_received_with_everything_the_contract_asks() -> None:
    got = only_message("text", {"body": "Oi, preciso de ajuda com a pensão"})

    contact = CONTACTS.contact("whatsapp", CITIZEN)
    assert got == MessageReceived(
        event_id=derive_event_id("whatsapp", WAMID),
        occurred_at=RECEIVED,
        correlation_id=derive_event_id("whatsapp", WAMID),
        subject_id=contact.subject_id,
        channel="whatsapp",
        contact_id=contact.contact_id,
        contact_address="+" + CITIZEN,
        channel_account_id=PHONE_NUMBER_ID,
        provider_message_id=WAMID,
        kind="text",
        sender_name="Maria Silva",
        text="Oi, preciso de ajuda com a pensão",
        received_at=datetime(2025, 2, 12, 0, 43, 44, tzinfo=UTC),
        provider_timestamp="1739321024",
    )
    assert CITIZEN not in got.contact_id


def test_a_reply_carries_the_context_message_id_as_reply_and_thread() -> None:
    got = only_message("text", {"body": "sim"}, context={"from": "15550783881", "id": "wamid.Q"})

    assert got.reply_to_provider_message_id == "wamid.Q"
    assert got.thread_id == "wamid.Q"


def test_a_forwarded_message_has_a_context_without_id() -> None:
    got = only_message("text", {"body": "olha"}, context={"forwarded": True})

    assert got.reply_to_provider_message_id is None


@pytest.mark.parametrize(
    ("kind", "mime", "caption", "filename"),
    [
        ("image", "image/jpeg", "meu RG", None),
        ("video", "video/mp4", "o vídeo", None),
        ("document", "application/pdf", "comprovante", "comprovante de residência.pdf"),
        ("audio", "audio/ogg; codecs=opus", None, None),
        ("sticker", "image/webp", None, None),
    ],
)
def test_a_media_message_waits_for_its_file_then_carries_an_attachment(
    kind: str, mime: str, caption: str | None, filename: str | None
) -> None:
    content = media_content(
        kind, "1003383421387256", mime, SHA_HEX, caption=caption, filename=filename
    )
    result = when_mapped(webhook(messages=[message(kind, content, wamid=WAMID, sender=CITIZEN)]))

    assert result.messages == ()
    (pending,) = result.pending
    assert pending.message.kind == kind
    assert pending.message.text is None
    assert pending.media == (MediaToFetch(0, "1003383421387256", mime, SHA_HEX, caption, filename),)

    stored = StoredMedia(sha256=SHA_HEX, size_bytes=2048, storage_ref="media/abc")
    done = complete_message(pending, [stored])

    assert isinstance(done, MessageReceived)
    (attachment,) = done.attachments
    assert attachment.attachment_id == attachment_id(message_event_id(WAMID), 0)
    assert attachment.provider_media_id == "1003383421387256"
    assert (attachment.media_type, attachment.size_bytes) == (mime, 2048)
    assert (attachment.sha256, attachment.storage_ref) == (SHA_HEX, "media/abc")
    assert (attachment.caption, attachment.file_name) == (caption, filename)


def test_a_base64_checksum_from_meta_is_read_as_hex() -> None:
    declared = base64.b64encode(bytes.fromhex(SHA_HEX)).decode()
    content = media_content("image", "77", "image/jpeg", declared)

    (pending,) = when_mapped(
        webhook(messages=[message("image", content, wamid=WAMID, sender=CITIZEN)])
    ).pending

    assert pending.media[0].sha256 == SHA_HEX


def test_a_stored_file_whose_checksum_differs_from_the_declared_one_is_rejected() -> None:
    content = media_content("image", "77", "image/jpeg", SHA_HEX)
    (pending,) = when_mapped(
        webhook(messages=[message("image", content, wamid=WAMID, sender=CITIZEN)])
    ).pending

    done = complete_message(
        pending, [StoredMedia(sha256="0" * 64, size_bytes=1, storage_ref="media/x")]
    )

    assert isinstance(done, Rejection)
    assert "sha256" in done.reason
    assert done.provider_message_id == WAMID


def test_the_detected_media_type_wins_over_the_declared_one() -> None:
    content = media_content("document", "77", "application/octet-stream", SHA_HEX)
    (pending,) = when_mapped(
        webhook(messages=[message("document", content, wamid=WAMID, sender=CITIZEN)])
    ).pending

    done = complete_message(
        pending, [StoredMedia(SHA_HEX, 10, "media/x")], media_types=["application/pdf"]
    )

    assert isinstance(done, MessageReceived)
    assert done.attachments[0].media_type == "application/pdf"


def test_a_location_carries_its_coordinates_as_text() -> None:
    got = only_message(
        "location",
        {
            "latitude": -23.5505,
            "longitude": -46.6333,
            "name": "Defensoria",
            "address": "Rua Boa Vista, 103",
        },
    )

    assert got.kind == "location"
    assert got.location == Location(
        latitude="-23.5505", longitude="-46.6333", name="Defensoria", address="Rua Boa Vista, 103"
    )


def test_shared_contacts_keep_each_card_as_json_text() -> None:
    card = {
        "name": {"formatted_name": "João", "first_name": "João"},
        "phones": [{"phone": "+55 11 9999-0000", "type": "CELL"}],
    }
    item = message("contacts", [card, card], wamid=WAMID, sender=CITIZEN)

    (got,) = when_mapped(webhook(messages=[item])).messages

    assert got.kind == "contacts"
    assert [orjson.loads(str(c.card)) for c in got.shared_contacts] == [card, card]


@pytest.mark.parametrize(
    ("reply", "reply_id", "title"),
    [
        (
            {"type": "button_reply", "button_reply": {"id": "perigo.nao", "title": "Não"}},
            "perigo.nao",
            "Não",
        ),
        (
            {
                "type": "list_reply",
                "list_reply": {"id": "area.familia", "title": "Família", "description": "pensão"},
            },
            "area.familia",
            "Família",
        ),
    ],
)
def test_an_interactive_reply_carries_the_option_id_and_title(
    reply: dict[str, object], reply_id: str, title: str
) -> None:
    got = only_message("interactive", reply)

    assert (got.kind, got.interactive_reply_id, got.text) == ("interactive", reply_id, title)


def test_a_template_quick_reply_button_carries_its_payload_and_label() -> None:
    got = only_message("button", {"payload": "confirmar.sim", "text": "Sim"})

    assert (got.kind, got.interactive_reply_id, got.text) == ("button", "confirmar.sim", "Sim")


def test_a_reaction_carries_its_emoji_and_the_message_reacted_to() -> None:
    got = only_message("reaction", {"message_id": "wamid.OURS", "emoji": "\U0001f44d"})

    assert (got.kind, got.reaction_emoji) == ("reaction", "\U0001f44d")
    assert got.reply_to_provider_message_id == "wamid.OURS"


def test_removing_a_reaction_is_an_empty_emoji() -> None:
    got = only_message("reaction", {"message_id": "wamid.OURS"})

    assert got.reaction_emoji == ""


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("unsupported", {"type": "edit"}),
        ("order", {"catalog_id": "1", "product_items": []}),
        ("system", {"body": "User changed number", "type": "user_changed_number"}),
        ("interactive", {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}),
    ],
)
def test_unsupported_and_unknown_types_are_received_as_unsupported(
    kind: str, content: object
) -> None:
    got = only_message(kind, content)

    assert got.kind == "unsupported"
    assert got.text is None


def test_the_profile_name_is_taken_from_the_matching_contact() -> None:
    payload = webhook(
        contacts=[profile("5521900000000", "Outra"), profile(CITIZEN, "Maria")],
        messages=[message("text", {"body": "oi"}, wamid=WAMID, sender=CITIZEN)],
    )

    (got,) = when_mapped(payload).messages

    assert got.sender_name == "Maria"


def test_without_contacts_there_is_no_sender_name() -> None:
    (got,) = when_mapped(
        webhook(messages=[message("text", {"body": "oi"}, wamid=WAMID, sender=CITIZEN)])
    ).messages

    assert got.sender_name is None


@pytest.mark.parametrize("timestamp", ["not-a-time", "99999999999999999999", ""])
def test_an_unreadable_timestamp_falls_back_to_the_receipt_time(timestamp: str) -> None:
    got = only_message("text", {"body": "oi"}, timestamp=timestamp)

    assert got.received_at == RECEIVED
    assert got.provider_timestamp == timestamp


def test_a_redelivered_webhook_yields_the_same_event_ids() -> None:
    payload = webhook(
        messages=[
            message("text", {"body": "oi"}, wamid=WAMID, sender=CITIZEN),
            message(
                "image",
                media_content("image", "9", "image/jpeg", SHA_HEX),
                wamid="wamid.B",
                sender=CITIZEN,
            ),
        ]
    )

    first, again = when_mapped(payload), when_mapped(payload)

    assert [m.event_id for m in first.messages] == [m.event_id for m in again.messages]
    assert [m.message.event_id for m in first.pending] == [
        m.message.event_id for m in again.pending
    ]
    assert first.messages[0].event_id == message_event_id(WAMID)


def test_the_same_wamid_twice_in_one_payload_is_mapped_once() -> None:
    item = message("text", {"body": "oi"}, wamid=WAMID, sender=CITIZEN)

    assert len(when_mapped(webhook(messages=[item, item])).messages) == 1
