"""The Graph API stand-in answers as Meta documents, and the pure client reads it right:
sends, media, and each switch a test can flip."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from connectors.whatsapp.graph import build_send_requests, classify_error, parse_send_response
from connectors.whatsapp.graph_client import GraphCallFailed, GraphClient
from connectors.whatsapp.graph_upload import UploadForm
from connectors.whatsapp.mapping import map_webhook
from connectors.whatsapp.signature import SIGNATURE_HEADER, SignatureOutcome, check_signature
from streams.shared.settings import Secret
from tests.standins.graph_api import (
    GRAPH,
    PHONE_NUMBER_ID,
    TOKEN,
    StandInGraph,
    Upload,
    create_app,
    message,
    signed,
    webhook,
)
from tests.unit.connectors.whatsapp.builders import CITIZEN, CONTACTS, RECEIVED, outbound

AUTH = {"Authorization": f"Bearer {TOKEN}"}
MESSAGES = f"/v21.0/{PHONE_NUMBER_ID}/messages"


@pytest.fixture
async def graph() -> AsyncIterator[TestClient[Any, Any]]:
    client = TestClient(TestServer(create_app(StandInGraph())))
    await client.start_server()
    yield client
    await client.close()


def state_of(client: TestClient[Any, Any]) -> StandInGraph:
    app = client.app
    assert app is not None
    state: StandInGraph = app[GRAPH]
    return state


async def test_a_built_text_request_is_accepted_and_its_wamid_parsed(
    graph: TestClient[Any, Any],
) -> None:
    (body,) = build_send_requests(outbound())  # type: ignore[misc]

    response = await graph.post(MESSAGES, json=body, headers=AUTH)

    assert response.status == 200
    answer = await response.json()
    accepted = parse_send_response(answer)
    assert answer["contacts"] == [{"input": "+" + CITIZEN, "wa_id": CITIZEN}]
    assert accepted.wamid.startswith("wamid.")
    assert state_of(graph).sent[0].body["biz_opaque_callback_data"] == "msg-1"


async def test_a_bad_token_gets_meta_oauth_error_190(graph: TestClient[Any, Any]) -> None:
    response = await graph.post(MESSAGES, json={}, headers={"Authorization": "Bearer wrong"})

    body = await response.json()
    assert response.status == 401
    assert body["error"]["code"] == 190
    assert body["error"]["type"] == "OAuthException"
    assert body["error"]["fbtrace_id"]
    assert classify_error(response.status, body).action == "operator"


async def test_an_unknown_phone_number_id_gets_code_100_subcode_33(
    graph: TestClient[Any, Any],
) -> None:
    response = await graph.post("/v21.0/123/messages", json={}, headers=AUTH)

    body = await response.json()
    assert (response.status, body["error"]["code"], body["error"]["error_subcode"]) == (
        400,
        100,
        33,
    )
    assert "Object with ID '123' does not exist" in body["error"]["message"]
    assert classify_error(response.status, body).action == "operator"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"to": CITIZEN, "type": "text", "text": {"body": "x"}}, "messaging_product"),
        (
            {"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}},
            "to is required",
        ),
        (
            {"messaging_product": "whatsapp", "to": CITIZEN, "type": "fax", "fax": {}},
            "type must be",
        ),
        (
            {"messaging_product": "whatsapp", "to": CITIZEN, "type": "text", "text": {}},
            "text['body']",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": CITIZEN,
                "type": "template",
                "template": {"name": "t"},
            },
            "template",
        ),
    ],
)
async def test_a_malformed_body_is_refused_like_meta(
    graph: TestClient[Any, Any], body: dict[str, Any], details: str
) -> None:
    response = await graph.post(MESSAGES, json=body, headers=AUTH)

    error = (await response.json())["error"]
    assert (response.status, error["code"]) == (400, 100)
    assert details in error["error_data"]["details"]
    assert error["error_data"]["messaging_product"] == "whatsapp"


async def test_rate_limited_sends_fail_with_400_then_succeed(graph: TestClient[Any, Any]) -> None:
    state_of(graph).rate_limit_next(2, code=131056)
    (body,) = build_send_requests(outbound())  # type: ignore[misc]

    statuses = [(await graph.post(MESSAGES, json=body, headers=AUTH)) for _ in range(3)]

    assert [r.status for r in statuses] == [400, 400, 200]
    first = classify_error(statuses[0].status, await statuses[0].json())
    assert (first.action, first.code) == ("retry_later", 131056)
    assert len(state_of(graph).sends()) == 3
    assert len(state_of(graph).sent) == 1


async def test_a_given_failure_code_comes_back_with_its_http_status(
    graph: TestClient[Any, Any],
) -> None:
    state_of(graph).fail_next(131000)
    (body,) = build_send_requests(outbound())  # type: ignore[misc]

    response = await graph.post(MESSAGES, json=body, headers=AUTH)

    assert response.status == 500
    assert classify_error(response.status, await response.json()).action == "retry_later"


async def test_a_closed_window_refuses_free_form_but_not_templates(
    graph: TestClient[Any, Any],
) -> None:
    state_of(graph).close_window("+" + CITIZEN)
    (text,) = build_send_requests(outbound())  # type: ignore[misc]
    (template,) = build_send_requests(
        outbound(text=None, template_name="t", template_language="pt_BR")
    )  # type: ignore[misc]

    refused = await graph.post(MESSAGES, json=text, headers=AUTH)
    accepted = await graph.post(MESSAGES, json=template, headers=AUTH)

    error = classify_error(refused.status, await refused.json())
    assert (error.action, error.code) == ("refused", 131047)
    assert accepted.status == 200
    assert (await accepted.json())["messages"][0]["message_status"] == "accepted"


async def test_media_is_described_then_downloaded_with_the_token(
    graph: TestClient[Any, Any],
) -> None:
    content = b"%PDF-1.7 comprovante"
    media_id = state_of(graph).add_media(content, "application/pdf")

    described = await (await graph.get(f"/v21.0/{media_id}", headers=AUTH)).json()
    url = described["url"].removeprefix(str(graph.make_url("")))
    unauthorised = await graph.get(url)
    download = await graph.get(url, headers=AUTH)

    assert described == {
        "messaging_product": "whatsapp",
        "url": described["url"],
        "mime_type": "application/pdf",
        "sha256": hashlib.sha256(content).hexdigest(),
        "file_size": str(len(content)),
        "id": media_id,
    }
    assert unauthorised.status == 401
    assert await download.read() == content


async def test_an_unknown_media_id_is_meta_s_missing_object(graph: TestClient[Any, Any]) -> None:
    response = await graph.get("/v21.0/424242", headers=AUTH)

    assert (await response.json())["error"]["error_subcode"] == 33


async def test_every_request_is_recorded(graph: TestClient[Any, Any]) -> None:
    await graph.get("/v21.0/1", headers=AUTH)
    await graph.post(MESSAGES, json={"x": 1}, headers={"Authorization": "Bearer no"})

    assert [(r.method, r.body) for r in state_of(graph).requests] == [
        ("GET", None),
        ("POST", {"x": 1}),
    ]


def test_a_signed_webhook_from_the_builder_verifies_and_maps() -> None:
    payload = webhook(messages=[message("text", {"body": "oi"}, wamid="wamid.A", sender=CITIZEN)])

    body, headers = signed(payload, b"secret")

    assert check_signature(b"secret", body, headers[SIGNATURE_HEADER]) is SignatureOutcome.VALID
    mapped = map_webhook(
        payload, accounts={PHONE_NUMBER_ID}, contacts=CONTACTS, occurred_at=RECEIVED
    )
    assert [m.text for m in mapped.messages] == ["oi"]


# -- uploads ---------------------------------------------------------------------------------

UPLOAD = f"/v21.0/{PHONE_NUMBER_ID}/media"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8  # every byte value, CR LF and boundaries included


def upload_form(content: bytes, kind: str, *, product: str | None = "whatsapp") -> FormData:
    form = FormData()
    if product is not None:
        form.add_field("messaging_product", product)
    form.add_field("type", kind)
    form.add_field("file", content, filename="peticao.pdf", content_type=kind)
    return form


async def test_a_client_upload_arrives_intact_and_its_media_id_reads_back(
    graph: TestClient[Any, Any],
) -> None:
    client = GraphClient(str(graph.make_url("")), "v21.0", Secret(TOKEN))
    await client.start()
    try:
        media_id = await client.upload(
            PHONE_NUMBER_ID, UploadForm("application/pdf", "peticao.pdf", PDF)
        )
    finally:
        await client.close()

    (upload,) = state_of(graph).uploads
    assert upload == Upload(
        PHONE_NUMBER_ID, media_id, "whatsapp", "application/pdf", "peticao.pdf",
        "application/pdf", PDF,
    )  # fmt: skip
    described = await (await graph.get(f"/v21.0/{media_id}", headers=AUTH)).json()
    assert described["sha256"] == hashlib.sha256(PDF).hexdigest()


@pytest.mark.parametrize(
    ("content", "kind", "product", "code", "details"),
    [
        (b"PK\x03\x04", "application/zip", "whatsapp", 100, "one of the following types"),
        (b"\xff" * 5_000_001, "image/jpeg", "whatsapp", 131053, "size too big"),
        (PDF, "application/pdf", None, 100, "messaging_product is required"),
    ],
)
async def test_an_upload_meta_does_not_take_is_refused_like_meta(
    graph: TestClient[Any, Any],
    content: bytes,
    kind: str,
    product: str | None,
    code: int,
    details: str,
) -> None:
    form = upload_form(content, kind, product=product)

    response = await graph.post(UPLOAD, data=form, headers=AUTH)

    body = await response.json()
    assert (response.status, body["error"]["code"]) == (400, code)
    assert details in body["error"]["error_data"]["details"]
    assert classify_error(response.status, body).action == "refused"
    assert state_of(graph).uploads == []


async def test_a_failing_upload_comes_back_as_a_graph_error_to_retry(
    graph: TestClient[Any, Any],
) -> None:
    state_of(graph).fail_next_upload(131000)
    client = GraphClient(str(graph.make_url("")), "v21.0", Secret(TOKEN))
    await client.start()
    try:
        with pytest.raises(GraphCallFailed) as failed:
            await client.upload(PHONE_NUMBER_ID, UploadForm("image/png", "x.png", b"\x89PNG"))
        media_id = await client.upload(
            PHONE_NUMBER_ID, UploadForm("image/png", "x.png", b"\x89PNG")
        )
    finally:
        await client.close()

    assert (failed.value.error.action, failed.value.error.code) == ("retry_later", 131000)
    assert [u.media_id for u in state_of(graph).uploads] == [media_id]
