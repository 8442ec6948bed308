"""Given a MessageSent, when it is turned into Graph API requests, then the bodies follow
Meta's documented format; and Graph API errors map to retry, refuse or call an operator."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import orjson
import pytest

from connectors.whatsapp.graph import (
    SendAccepted,
    UnexpectedResponse,
    Unsendable,
    build_send_requests,
    classify_error,
    media_upload_path,
    parse_send_response,
)
from connectors.whatsapp.graph_upload import (
    UploadForm,
    build_upload,
    check_upload,
    needs_upload,
    parse_upload_response,
)
from schemas.events import Attachment
from schemas.personal import ERASED
from tests.standins.graph_api import ERRORS
from tests.unit.connectors.whatsapp.builders import CITIZEN, outbound

BASE = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "+" + CITIZEN,
    "biz_opaque_callback_data": "msg-1",
}


def attachment(n: int, media_type: str, **kw: Any) -> Attachment:
    return Attachment(
        attachment_id=f"att-{n}",
        provider_media_id=kw.pop("media_id", f"10{n}"),
        media_type=media_type,
        size_bytes=10,
        sha256="0" * 64,
        storage_ref=f"media/{n}",
        **kw,
    )


def test_a_text_goes_without_link_preview_and_names_our_message() -> None:
    assert build_send_requests(outbound()) == (
        BASE
        | {
            "type": "text",
            "text": {"preview_url": False, "body": "Bom dia! Recebemos seus documentos."},
        },
    )


def test_a_reply_carries_the_context_of_the_citizens_message() -> None:
    (body,) = build_send_requests(outbound(reply_to_provider_message_id="wamid.IN"))  # type: ignore[misc]

    assert body["context"] == {"message_id": "wamid.IN"}


def test_a_template_carries_its_language_and_body_parameters() -> None:
    message = outbound(
        text=None,
        template_name="retorno_atendimento",
        template_language="pt_BR",
        template_parameters=orjson.dumps(["Maria", "12/03"]).decode(),
    )

    assert build_send_requests(message) == (
        BASE
        | {
            "type": "template",
            "template": {
                "name": "retorno_atendimento",
                "language": {"code": "pt_BR"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Maria"},
                            {"type": "text", "text": "12/03"},
                        ],
                    }
                ],
            },
        },
    )


def test_a_template_without_parameters_has_no_components() -> None:
    (body,) = build_send_requests(outbound(text=None, template_name="t", template_language="pt_BR"))  # type: ignore[misc]

    assert body["template"] == {"name": "t", "language": {"code": "pt_BR"}}


def test_the_text_rides_as_the_caption_of_the_first_image() -> None:
    message = outbound(
        attachments=(
            attachment(1, "image/jpeg"),
            attachment(2, "application/pdf", file_name="rg.pdf"),
        )
    )

    bodies = build_send_requests(message)

    assert bodies == (
        BASE
        | {
            "type": "image",
            "image": {"id": "101", "caption": "Bom dia! Recebemos seus documentos."},
        },
        BASE | {"type": "document", "document": {"id": "102", "filename": "rg.pdf"}},
    )


def test_before_audio_the_text_goes_as_its_own_message() -> None:
    bodies = build_send_requests(outbound(attachments=(attachment(1, "audio/ogg; codecs=opus"),)))

    assert [b["type"] for b in bodies] == ["text", "audio"]  # type: ignore[union-attr]


def test_uploaded_media_ids_given_by_the_shell_are_used() -> None:
    message = outbound(text=None, attachments=(attachment(1, "image/webp", media_id=None),))

    (body,) = build_send_requests(message, {"att-1": "555"})  # type: ignore[misc]

    assert body["sticker"] == {"id": "555"}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"contact_address": ERASED}, "address is erased"),
        ({"text": ERASED}, "text is erased"),
        ({"text": None}, "neither text, attachments nor a template"),
        ({"text": "x" * 4097}, "above WhatsApp's 4096"),
        ({"template_name": "t"}, "no text or attachments"),
        ({"text": None, "template_name": "t"}, "template_language is missing"),
        (
            {
                "text": None,
                "template_name": "t",
                "template_language": "pt_BR",
                "template_parameters": "[1]",
            },
            "JSON array of strings",
        ),
        ({"attachments": (attachment(1, "image/png", media_id=None),)}, "has no WhatsApp media id"),
        ({"message_id": "m" * 513}, "longer than 512"),
    ],
)
def test_a_message_that_cannot_go_out_says_why(overrides: dict[str, Any], reason: str) -> None:
    result = build_send_requests(outbound(**overrides))

    assert isinstance(result, Unsendable)
    assert reason in result.reason


def test_the_send_response_gives_the_wamid() -> None:
    body = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+" + CITIZEN, "wa_id": CITIZEN}],
        "messages": [{"id": "wamid.X", "message_status": "accepted"}],
    }

    assert parse_send_response(body) == SendAccepted("wamid.X", CITIZEN, "accepted")


@pytest.mark.parametrize(
    "body", [None, {}, {"messages": []}, {"messages": [{"id": ""}]}, {"messages": "x"}]
)
def test_a_send_response_without_wamid_is_unexpected(body: object) -> None:
    with pytest.raises(UnexpectedResponse):
        parse_send_response(body)


def meta_error(code: int, **extra: Any) -> tuple[int, dict[str, Any]]:
    status, title, details = ERRORS[code]
    error = {
        "message": f"(#{code}) {title}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
    }
    return status, {"error": error | extra}


@pytest.mark.parametrize("code", [4, 80007, 130429, 131056, 131000])
def test_rate_limits_and_transient_failures_are_retried_later(code: int) -> None:
    error = classify_error(*meta_error(code))

    assert error.action == "retry_later"
    assert error.code == code
    assert error.fbtrace_id == "Az8or2yhqkZfEZ-_4Qn_Bam"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (131047, "24 hours"),
        (131026, "undeliverable"),
        (131051, "not supported"),
        (100, "invalid"),
        (131030, "allowed list"),
        (132001, "template"),
    ],
)
def test_permanent_refusals_say_why(code: int, words: str) -> None:
    error = classify_error(*meta_error(code))

    assert error.action == "refused"
    assert words in error.reason


@pytest.mark.parametrize("code", [132000, 132015, 132068])
def test_every_template_error_is_a_refusal(code: int) -> None:
    assert classify_error(400, {"error": {"code": code, "message": "template"}}).action == "refused"


@pytest.mark.parametrize(("status", "code"), [(401, 190), (403, 10), (403, 200), (403, 299)])
def test_token_and_permission_errors_need_an_operator(status: int, code: int) -> None:
    error = classify_error(
        status, {"error": {"code": code, "type": "OAuthException", "message": "x"}}
    )

    assert error.action == "operator"


def test_an_unknown_phone_number_id_is_a_configuration_error() -> None:
    error = classify_error(
        400, {"error": {"code": 100, "error_subcode": 33, "message": "Unsupported post request."}}
    )

    assert error.action == "operator"
    assert "phone_number_id" in error.reason


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (502, "retry_later"),
        (503, "retry_later"),
        (429, "retry_later"),
        (401, "operator"),
        (400, "refused"),
    ],
)
def test_without_a_known_code_the_http_status_decides(status: int, action: str) -> None:
    assert classify_error(status, "<html>Bad gateway</html>").action == action


def test_the_pair_rate_limit_waits_at_least_six_seconds() -> None:
    assert classify_error(*meta_error(131056)).retry_after == timedelta(seconds=6)


def test_the_business_use_case_header_tells_how_long_to_wait() -> None:
    usage = {
        "102290129340398": [
            {
                "type": "whatsapp_business_management",
                "call_count": 100,
                "total_cputime": 4,
                "total_time": 5,
                "estimated_time_to_regain_access": 19,
            }
        ]
    }

    error = classify_error(
        *meta_error(80007), headers={"X-Business-Use-Case-Usage": orjson.dumps(usage).decode()}
    )

    assert error.retry_after == timedelta(minutes=19)


def test_a_retry_after_header_is_honoured_and_garbage_ignored() -> None:
    assert classify_error(*meta_error(4), headers={"Retry-After": "30"}).retry_after == timedelta(
        seconds=30
    )
    assert (
        classify_error(
            *meta_error(4), headers={"retry-after": "soon", "x-business-use-case-usage": "{"}
        ).retry_after
        is None
    )


def test_no_retry_advice_for_a_refusal() -> None:
    assert classify_error(*meta_error(131047), headers={"Retry-After": "30"}).retry_after is None


def test_phone_numbers_in_meta_error_details_are_redacted() -> None:
    status, body = meta_error(131026)
    body["error"]["error_data"]["details"] = f"Recipient {CITIZEN} cannot be reached"

    error = classify_error(status, body)

    assert error.details is not None
    assert CITIZEN not in error.details


# -- uploads: the office's files WhatsApp has no media id for yet ----------------------------

PDF = b"%PDF-1.7\nprocuracao assinada"


def agents_file(content: bytes = PDF, media_type: str = "application/pdf", **kw: Any) -> Attachment:
    fields: dict[str, Any] = {
        "attachment_id": "att-agent-1",
        "media_type": media_type,
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "storage_ref": "media/abc",
        "file_name": "procuracao.pdf",
    }
    return Attachment(**(fields | kw))


def test_only_files_without_a_whatsapp_media_id_are_uploaded() -> None:
    mine, theirs = agents_file(), attachment(2, "image/jpeg")

    assert needs_upload(outbound(attachments=(theirs, mine))) == (mine,)


def test_an_upload_form_carries_the_fields_meta_documents_and_the_bytes_untouched() -> None:
    form = build_upload(agents_file(media_type="Application/PDF; charset=binary"), PDF)

    assert isinstance(form, UploadForm)
    assert form.fields == (("messaging_product", "whatsapp"), ("type", "application/pdf"))
    assert (form.media_type, form.file_name, form.content) == (
        "application/pdf",
        "procuracao.pdf",
        PDF,
    )
    assert media_upload_path("v21.0", "106540352242922") == "/v21.0/106540352242922/media"


@pytest.mark.parametrize(
    ("file_name", "sent_as"),
    [
        (None, "att-agent-1"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ('a"b\r\nc.pdf', "a_b__c.pdf"),
    ],
)
def test_an_upload_names_the_file_safely(file_name: str | None, sent_as: str) -> None:
    form = build_upload(agents_file(file_name=file_name), PDF)

    assert isinstance(form, UploadForm)
    assert form.file_name == sent_as


@pytest.mark.parametrize(
    ("media_type", "size", "reason"),
    [
        ("application/zip", 10, "application/zip, which WhatsApp does not take"),
        ("image/gif", 10, "image/gif, which WhatsApp does not take"),
        ("", 10, "of no type, which WhatsApp does not take"),
        ("image/jpeg", 5_000_001, "5000001 bytes, above WhatsApp's 5000000 for image/jpeg"),
        ("audio/ogg; codecs=opus", 16_000_001, "above WhatsApp's 16000000 for audio/ogg"),
        ("video/mp4", 16_000_001, "above WhatsApp's 16000000 for video/mp4"),
        ("application/pdf", 100_000_001, "above WhatsApp's 100000000 for application/pdf"),
        ("image/webp", 500_001, "above WhatsApp's 500000 for image/webp"),
    ],
)
def test_a_type_or_size_whatsapp_does_not_take_is_refused_with_why(
    media_type: str, size: int, reason: str
) -> None:
    checked = check_upload(agents_file(media_type=media_type, size_bytes=size))

    assert isinstance(checked, Unsendable)
    assert reason in checked.reason


@pytest.mark.parametrize(
    ("media_type", "size"),
    [
        ("image/jpeg", 5_000_000),
        ("image/png", 1),
        ("audio/mpeg", 16_000_000),
        ("video/3gpp", 1),
        ("text/plain", 1),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", 1),
        ("application/pdf", 100_000_000),
    ],
)
def test_a_type_whatsapp_takes_at_its_limit_is_uploaded(media_type: str, size: int) -> None:
    assert check_upload(agents_file(media_type=media_type, size_bytes=size)) == media_type


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"sha256": "0" * 64}, "does not match its sha256"),
        ({"size_bytes": len(PDF) + 1}, f"has {len(PDF)} bytes in the media store"),
        ({"file_name": ERASED}, "is erased"),
    ],
)
def test_a_stored_file_that_is_not_the_attachment_is_not_uploaded(
    overrides: dict[str, Any], reason: str
) -> None:
    form = build_upload(agents_file(**overrides), PDF)

    assert isinstance(form, Unsendable)
    assert reason in form.reason


def test_the_media_id_is_read_from_the_upload_answer() -> None:
    assert parse_upload_response({"id": "1037543291543636"}) == "1037543291543636"
    unexpected: tuple[object, ...] = ({}, {"id": ""}, {"id": 7}, None, [])
    for answer in unexpected:
        with pytest.raises(UnexpectedResponse):
            parse_upload_response(answer)
