"""The WhatsApp Cloud API connector against the real broker and database, with a Graph API
stand-in that answers as Meta documents: what a webhook becomes on Kafka, what each bad
input is answered, and how the office's messages go out (window, rate limits, errors,
restarts)."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY

from connectors.common.identity import ContactIds
from connectors.common.inbound import Inbound
from connectors.common.lean_http import LeanServer
from connectors.common.outbound import Sent
from connectors.gateway.app import Gateway, make_app
from connectors.gateway.auth import AgentClaims, issue_agent_token
from connectors.gateway.commands import SOURCE as GATEWAY
from connectors.gateway.commands import command_from_request
from connectors.gateway.config import GatewaySettings
from connectors.gateway.indicator import TypingIndicator
from connectors.gateway.store import CaseDirectory, IdempotencyKeys, WebChatSessions
from connectors.gateway.uploads import FileIntake
from connectors.webchat.limits import RateLimiter
from connectors.webchat.signing import SigningKey
from connectors.whatsapp import service
from connectors.whatsapp.deliver import WhatsAppDeliverer
from connectors.whatsapp.mapping import message_event_id, status_event_id
from connectors.whatsapp.signature import SIGNATURE_HEADER, sign
from connectors.whatsapp.webhook import PATH, Webhook
from schemas.events import Attachment, CaseAssigned, MessageReceived, MessageSent, SendReply
from streams.cases.domain import decide, handle
from streams.cases.policy import default_policy
from streams.cases.state import ContactState
from streams.projections.migrations import migrate
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import make_producer
from streams.shared.settings import Settings
from tests.integration.connectors.whatsapp_rig import (
    APP_SECRET,
    CITIZEN,
    VERIFY_TOKEN,
    WAIT_S,
    Rig,
    deliver_until,
    open_rig,
    routes,
    standin_graph,
)
from tests.standins.graph_api import (
    PHONE_NUMBER_ID,
    TOKEN,
    media_content,
    message,
    profile,
    signed,
    status,
    status_error,
    webhook,
)

pytestmark = pytest.mark.timeout(180)
PDF = b"%PDF-1.7\n" + b"comprovante de residencia " * 40


@pytest.fixture
async def rig(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> AsyncIterator[Rig]:
    async with open_rig(settings, contract, topic, pg_schema, tmp_path / "media") as opened:
        yield opened


def text(wamid: str, body: str = "Preciso de ajuda", *, at: datetime | None = None) -> Any:
    moment = at or datetime.now(UTC)
    return message(
        "text", {"body": body}, wamid=wamid, sender=CITIZEN, timestamp=str(int(moment.timestamp()))
    )


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def stored_files(rig: Rig) -> list[Path]:
    root = rig.config.media_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def dead_letters(rig: Rig, error_type: str) -> list[dict[str, Any]]:
    return [r for r in await rig.of("InputDeadLettered") if r["error_type"] == error_type]


# -- the handshake -------------------------------------------------------------------------


async def test_the_handshake_echoes_the_challenge_only_for_the_offices_token(rig: Rig) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}

    accepted = await rig.client.get(PATH, params=query | {"hub.verify_token": VERIFY_TOKEN})
    refused = await rig.client.get(PATH, params=query | {"hub.verify_token": "guess"})

    assert (accepted.status, await accepted.text()) == (200, "1158201444")
    assert refused.status == 403
    assert (await refused.json())["error"] == {
        "code": "handshake_refused",
        "reason": "hub.verify_token does not match",
    }


# -- messages in ---------------------------------------------------------------------------


async def test_every_message_type_becomes_its_event_with_media_fetched_and_sealed(
    rig: Rig, contract: Contract
) -> None:
    files = {
        "image": (b"\xff\xd8\xff\xe0 jpeg of an RG", "image/jpeg"),
        "audio": (b"OggS voice note", "audio/ogg; codecs=opus"),
        "video": (b"\x00\x00\x00\x18ftypmp42 video", "video/mp4"),
        "document": (PDF, "application/pdf"),
        "sticker": (b"RIFF webp sticker", "image/webp"),
    }
    items = []
    media_ids = {}
    for kind, (content, mime) in files.items():
        media_ids[kind] = rig.graph.add_media(content, mime)
        extra = {"caption": f"meu {kind}"} if kind in ("image", "video", "document") else {}
        if kind == "document":
            extra["filename"] = "comprovante.pdf"
        body = media_content(kind, media_ids[kind], mime, sha(content), **extra)
        items.append(message(kind, body, wamid=f"wamid.{kind}", sender=CITIZEN))
    items += [
        text("wamid.text", "Oi, preciso de ajuda com a pensão"),
        message(
            "location",
            {"latitude": -23.5489, "longitude": -46.6388, "name": "Defensoria"},
            wamid="wamid.location",
            sender=CITIZEN,
        ),
        message(
            "contacts",
            [{"name": {"formatted_name": "Ana"}, "phones": [{"phone": "+55 11 3105-5799"}]}],
            wamid="wamid.contacts",
            sender=CITIZEN,
        ),
        message(
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "area-familia", "title": "Família"}},
            wamid="wamid.button_reply",
            sender=CITIZEN,
        ),
        message(
            "interactive",
            {"type": "list_reply", "list_reply": {"id": "moradia", "title": "Moradia"}},
            wamid="wamid.list_reply",
            sender=CITIZEN,
        ),
        message(
            "button",
            {"payload": "CONFIRMAR", "text": "Confirmo"},
            wamid="wamid.button",
            sender=CITIZEN,
        ),
        message(
            "reaction",
            {"message_id": "wamid.ours", "emoji": "\U0001f44d"},
            wamid="wamid.reaction",
            sender=CITIZEN,
        ),
        message("unsupported", {"type": "edit"}, wamid="wamid.unsupported", sender=CITIZEN),
    ]

    response = await rig.post(webhook(contacts=[profile(CITIZEN, "Maria")], messages=items))

    assert response.status == 200
    got = {r["provider_message_id"]: r for r in await rig.of("MessageReceived")}
    assert {w: r["kind"] for w, r in got.items()} == {
        "wamid.image": "image",
        "wamid.audio": "audio",
        "wamid.video": "video",
        "wamid.document": "document",
        "wamid.sticker": "sticker",
        "wamid.text": "text",
        "wamid.location": "location",
        "wamid.contacts": "contacts",
        "wamid.button_reply": "interactive",
        "wamid.list_reply": "interactive",
        "wamid.button": "button",
        "wamid.reaction": "reaction",
        "wamid.unsupported": "unsupported",
    }
    assert got["wamid.text"]["text"] == "Oi, preciso de ajuda com a pensão"
    assert got["wamid.text"]["sender_name"] == "Maria"
    assert got["wamid.text"]["contact_id"] == rig.citizen.contact_id
    assert got["wamid.location"]["location"]["latitude"] == "-23.5489"
    assert got["wamid.contacts"]["shared_contacts"][0]["card"].startswith('{"name"')
    assert got["wamid.button_reply"]["interactive_reply_id"] == "area-familia"
    assert got["wamid.list_reply"]["interactive_reply_id"] == "moradia"
    assert got["wamid.button"]["interactive_reply_id"] == "CONFIRMAR"
    assert got["wamid.reaction"]["reaction_emoji"] == "\U0001f44d"
    key = contract.keys.encryption_key(rig.citizen.subject_id)
    for kind, (content, mime) in files.items():
        (attachment,) = got[f"wamid.{kind}"]["attachments"]
        assert attachment["provider_media_id"] == media_ids[kind]
        assert attachment["media_type"] == mime
        assert (attachment["sha256"], attachment["size_bytes"]) == (sha(content), len(content))
        assert await rig.media.get(key, attachment["storage_ref"]) == content
        on_disk = (rig.config.media_dir / attachment["storage_ref"]).read_bytes()
        assert content not in on_disk  # sealed with the citizen's key
    assert got["wamid.document"]["attachments"][0]["file_name"] == "comprovante.pdf"
    assert got["wamid.image"]["attachments"][0]["caption"] == "meu image"
    assert await dead_letters(rig, "RejectedItems") == []


async def test_a_redelivered_webhook_yields_the_same_event_ids(rig: Rig) -> None:
    media_id = rig.graph.add_media(b"\xff\xd8 jpeg", "image/jpeg")
    payload = webhook(
        messages=[
            text("wamid.A"),
            message(
                "image",
                media_content("image", media_id, "image/jpeg", sha(b"\xff\xd8 jpeg")),
                wamid="wamid.B",
                sender=CITIZEN,
            ),
        ]
    )

    first = await rig.post(payload)
    again = await rig.post(payload)

    assert (first.status, again.status) == (200, 200)
    records = await rig.of("MessageReceived")
    ids = Counter(r["event_id"] for r in records)
    assert ids == {message_event_id("wamid.A"): 2, message_event_id("wamid.B"): 2}
    assert len({r["attachments"][0]["storage_ref"] for r in records if r["attachments"]}) == 1
    assert len(stored_files(rig)) == 1


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "X-Hub-Signature-256 is missing"),
        ("malformed", "is not sha256= followed by 64 hex digits"),
        ("mismatch", "does not match the body"),
    ],
)
async def test_a_missing_or_wrong_signature_is_refused_401_and_dead_lettered(
    rig: Rig, case: str, reason: str
) -> None:
    body, headers = signed(webhook(messages=[text("wamid.forged")]), APP_SECRET)
    if case == "missing":
        del headers[SIGNATURE_HEADER]
    elif case == "malformed":
        headers[SIGNATURE_HEADER] = "sha1=" + "0" * 40
    else:
        headers[SIGNATURE_HEADER] = sign(b"another app's secret", body)

    response = await rig.post_raw(body, headers)

    assert response.status == 401
    assert (await response.json())["error"]["code"] == f"signature_{case}"
    (letter,) = await dead_letters(rig, "InvalidSignature")
    assert reason in letter["reason"]
    assert (letter["payload"], letter["source"]) == (body, "http")
    assert letter["processor"] == rig.processor
    names = {h["name"].lower() for h in letter["source_headers"]}
    assert "content-type" in names
    assert SIGNATURE_HEADER.lower() not in names
    assert await rig.of("MessageReceived") == []


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_an_oversized_body_is_refused_413_before_it_is_read(rig: Rig, chunked: bool) -> None:
    padding = "x" * rig.config.max_body_bytes
    body, headers = signed(webhook(messages=[text("wamid.big", padding)]), APP_SECRET)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    response = await rig.client.post(PATH, data=chunks() if chunked else body, headers=headers)

    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_large"
    assert await rig.events() == []


@pytest.mark.parametrize(
    ("body", "code", "error_type", "reason"),
    [
        (
            b'{"object": "whatsapp_business_account", "entry": [',
            "bad_json",
            "MalformedJson",
            "not JSON",
        ),
        (b'{"object": "whatsapp_business_account\xff"}', "invalid_utf8", "InvalidUtf8", "UTF-8"),
    ],
    ids=["malformed-json", "invalid-utf8"],
)
async def test_a_signed_body_that_is_not_json_is_refused_400_and_dead_lettered(
    rig: Rig, body: bytes, code: str, error_type: str, reason: str
) -> None:
    headers = {SIGNATURE_HEADER: sign(APP_SECRET, body), "Content-Type": "application/json"}

    response = await rig.post_raw(body, headers)

    assert response.status == 400
    assert (await response.json())["error"]["code"] == code
    (letter,) = await dead_letters(rig, error_type)
    assert reason in letter["reason"]
    assert letter["payload"] == body


async def test_json_that_is_not_a_whatsapp_webhook_is_refused_400_and_dead_lettered(
    rig: Rig,
) -> None:
    response = await rig.post({"object": "page", "entry": []})

    assert response.status == 400
    (letter,) = await dead_letters(rig, "UnexpectedPayload")
    assert "object is not 'whatsapp_business_account'" in letter["reason"]


async def test_a_change_for_an_unknown_phone_number_id_is_dead_lettered_and_answered_200(
    rig: Rig,
) -> None:
    payload = webhook(messages=[text("wamid.ours")])
    payload["entry"] += webhook(messages=[text("wamid.theirs")], phone_number_id="999000111")[
        "entry"
    ]

    response = await rig.post(payload)

    assert response.status == 200
    assert [r["provider_message_id"] for r in await rig.of("MessageReceived")] == ["wamid.ours"]
    (letter,) = await dead_letters(rig, "UnknownAccount")
    assert "999000111" in letter["reason"]
    assert "ACOLHE_WHATSAPP_PHONE_NUMBER_IDS" in letter["reason"]
    assert await dead_letters(rig, "RejectedItems") == []


async def test_media_whose_checksum_differs_rejects_that_message_only_and_keeps_nothing(
    rig: Rig,
) -> None:
    media_id = rig.graph.add_media(b"the file Meta holds", "image/jpeg")
    declared = sha(b"the file the citizen sent")
    payload = webhook(
        messages=[
            message(
                "image",
                media_content("image", media_id, "image/jpeg", declared),
                wamid="wamid.tampered",
                sender=CITIZEN,
            ),
            text("wamid.fine"),
        ]
    )

    response = await rig.post(payload)

    assert response.status == 200
    assert [r["provider_message_id"] for r in await rig.of("MessageReceived")] == ["wamid.fine"]
    (letter,) = await dead_letters(rig, "RejectedItems")
    assert "sha256 differs" in letter["reason"]
    assert "wamid.tampered" in letter["reason"]
    assert stored_files(rig) == []


async def test_media_above_the_size_limit_is_rejected_unread(rig: Rig) -> None:
    content = b"\x00" * (rig.config.max_media_bytes + 1)
    media_id = rig.graph.add_media(content, "video/mp4")
    payload = webhook(
        messages=[
            message(
                "video",
                media_content("video", media_id, "video/mp4", sha(content)),
                wamid="wamid.huge",
                sender=CITIZEN,
            )
        ]
    )

    response = await rig.post(payload)

    assert response.status == 200
    assert await rig.of("MessageReceived") == []
    (letter,) = await dead_letters(rig, "RejectedItems")
    assert f"above the {rig.config.max_media_bytes}-byte limit" in letter["reason"]
    assert not [r for r in rig.graph.requests if "attachments" in r.path]  # never downloaded
    assert stored_files(rig) == []


async def test_media_the_graph_api_cannot_give_now_answers_503_and_metas_retry_is_accepted(
    rig: Rig,
) -> None:
    content = b"\xff\xd8 not yet there"
    payload = webhook(
        messages=[
            message(
                "image",
                media_content("image", "1999", "image/jpeg", sha(content)),
                wamid="wamid.later",
                sender=CITIZEN,
            )
        ]
    )

    refused = await rig.post(payload)
    published_meanwhile = await rig.events()
    rig.graph.media["1999"] = (content, "image/jpeg")
    retried = await rig.post(payload)

    assert (refused.status, retried.status) == (503, 200)
    assert published_meanwhile == []
    (record,) = await rig.of("MessageReceived")
    assert record["attachments"][0]["sha256"] == sha(content)


class BrokerDown:
    """A producer whose broker cannot be reached."""

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        raise KafkaConnectionError("the broker is unreachable")


async def test_a_kafka_failure_answers_503_and_metas_retry_is_accepted(
    rig: Rig, contract: Contract
) -> None:
    down = Inbound(contract, BrokerDown(), processor=rig.processor, routes=routes(rig.topic))
    broken = Webhook(
        rig.config,
        inbound=down,
        graph=rig.graph_client,
        media=rig.media,
        keys=contract.keys,
        contacts=rig.contacts,
        ledger=rig.ledger,
    )
    body, headers = signed(webhook(messages=[text("wamid.retried")]), APP_SECRET)

    server = LeanServer(broken.routes(), connector="whatsapp", limits=broken.limits())
    await server.start("127.0.0.1", 0)
    try:
        async with ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
            refused = await client.post(PATH, data=body, headers=headers)
            assert refused.status == 503
            assert (await refused.json())["error"]["code"] == "unavailable"
    finally:
        await server.close()
    retried = await rig.post_raw(body, headers)

    assert retried.status == 200
    (record,) = await rig.of("MessageReceived")
    assert record["event_id"] == message_event_id("wamid.retried")


# -- statuses in ---------------------------------------------------------------------------


async def test_statuses_in_any_order_become_status_events_with_our_message_id(rig: Rig) -> None:
    assert (await rig.post(webhook(messages=[text("wamid.in")]))).status == 200
    await rig.publish(rig.reply("msg-status"))
    outbound = rig.outbound()
    await outbound.start()
    try:
        await deliver_until(outbound, lambda: outbound.delivered == 1)
    finally:
        await outbound.stop()
    wamid = rig.graph.sent[0].wamid
    in_order = [
        status(wamid, "read", CITIZEN, timestamp="1739321090", message_id="msg-status"),
        status(wamid, "delivered", CITIZEN, timestamp="1739321060", message_id="msg-status"),
        status(wamid, "sent", CITIZEN, timestamp="1739321030", message_id="msg-status"),
    ]
    failed = status(wamid, "failed", CITIZEN, errors=[status_error(131026)])  # no message id
    stranger = status("wamid.not-ours", "failed", CITIZEN, errors=[status_error(131026)])

    answers = [
        await rig.post(webhook(statuses=in_order)),
        await rig.post(webhook(statuses=[failed, stranger])),
    ]

    assert [a.status for a in answers] == [200, 200]
    reported = {
        r["status"]: r
        for r in await rig.of("DeliveryStatusChanged")
        if r["provider_timestamp"] is not None  # Meta's, not the connector's own 'sent'
    }
    assert set(reported) == {"sent", "delivered", "read", "failed"}
    for state, record in reported.items():
        assert record["message_id"] == "msg-status"
        assert record["provider_message_id"] == wamid
        assert record["contact_id"] == rig.citizen.contact_id
        codes = ["131026"] if state == "failed" else []
        assert record["event_id"] == status_event_id(wamid, state, codes)
    assert reported["read"]["status_at"] == datetime.fromtimestamp(1739321090, UTC)
    assert [e["code"] for e in reported["failed"]["errors"]] == ["131026"]
    (letter,) = await dead_letters(rig, "RejectedItems")
    assert "status for an unknown message" in letter["reason"]
    assert "wamid.not-ours" in letter["reason"]


# -- messages out --------------------------------------------------------------------------


async def deliver(rig: Rig, *replies: Any, clock: Any = None) -> None:
    await rig.publish(*replies)
    outbound = rig.outbound(clock=clock) if clock else rig.outbound()
    await outbound.start()
    try:
        await deliver_until(outbound, lambda: outbound.delivered + outbound.failed == len(replies))
    finally:
        await outbound.stop()


async def statuses_of(rig: Rig, message_id: str) -> list[dict[str, Any]]:
    return [r for r in await rig.of("DeliveryStatusChanged") if r["message_id"] == message_id]


async def test_a_reply_within_the_window_goes_out_as_meta_documents_and_is_reported_sent(
    rig: Rig,
) -> None:
    assert (await rig.post(webhook(messages=[text("wamid.q")]))).status == 200
    reply = rig.reply("msg-1", reply_to_provider_message_id="wamid.q")

    await deliver(rig, reply)

    (request,) = rig.graph.sends()
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.authorization == f"Bearer {TOKEN}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+" + CITIZEN,
        "biz_opaque_callback_data": "msg-1",
        "type": "text",
        "text": {"preview_url": False, "body": "Bom dia! Recebemos seus documentos."},
        "context": {"message_id": "wamid.q"},
    }
    (sent,) = await statuses_of(rig, "msg-1")
    assert sent["status"] == "sent"
    assert sent["provider_message_id"] == rig.graph.sent[0].wamid
    assert sent["causation_id"] == reply.event_id
    assert await rig.ledger.message_of(rig.graph.sent[0].wamid) == "msg-1"


async def test_outside_the_window_free_form_is_refused_unsent_and_a_template_goes_out(
    rig: Rig,
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=25)
    assert (await rig.post(webhook(messages=[text("wamid.old", at=long_ago)]))).status == 200
    free_form = rig.reply("msg-free")
    template = rig.reply(
        "msg-template",
        text=None,
        template_name="retomar_atendimento",
        template_language="pt_BR",
        template_parameters='["Maria"]',
    )

    await deliver(rig, free_form, template)

    (request,) = rig.graph.sends()
    assert request.body["type"] == "template"
    assert request.body["template"]["name"] == "retomar_atendimento"
    (refused,) = await statuses_of(rig, "msg-free")
    assert refused["status"] == "failed"
    (error,) = refused["errors"]
    assert error["code"] == "outside_window"
    assert "outside the 24-hour window" in error["title"]
    (sent,) = await statuses_of(rig, "msg-template")
    assert sent["status"] == "sent"


IDEMPOTENCY_KEY = "3c0b7a1e-5f2d-4e8a-9b61-7d4c2e9f0a13"


async def test_an_agents_template_reply_outside_the_window_reaches_the_citizen(rig: Rig) -> None:
    # A public defender tells a citizen silent for a day that the hearing is tomorrow: the
    # agents' app's body, the gateway's command, the lifecycle's decision, then this outbound.
    long_ago = datetime.now(UTC) - timedelta(hours=25)
    assert (await rig.post(webhook(messages=[text("wamid.old", at=long_ago)]))).status == 200
    (record,) = await rig.of("MessageReceived")
    received = MessageReceived.from_record(record)
    policy = default_policy()
    state, _ = handle(ContactState(contact_id=received.contact_id), received, policy)
    assert state.case is not None
    case_id = state.case.case_id
    now = datetime.now(UTC)
    assignment = CaseAssigned(
        event_id=f"assigned-{case_id}",
        occurred_at=long_ago + timedelta(minutes=5),
        correlation_id=case_id,
        case_id=case_id,
        agent_id="ana.souza",
        queue_id="criminal-capital",
        routing_decision_id="rd-1",
    )
    state, _ = handle(state, assignment, policy)
    hearing = ["amanhã, 14h", "Fórum da Barra Funda, sala 3"]
    body = {
        "case_id": case_id,
        "contact_id": received.contact_id,
        "subject_id": received.subject_id,
        "template": {"name": "aviso_audiencia", "language": "pt_BR", "parameters": hearing},
    }
    agent = AgentClaims(agent_id="ana.souza", issued_at=now, expires_at=now + timedelta(hours=8))
    command = command_from_request(
        "reply", orjson.dumps(body), agent=agent, idempotency_key=IDEMPOTENCY_KEY, received_at=now
    )
    assert isinstance(command, SendReply), command
    (reply,) = decide(state, command, policy)
    assert isinstance(reply, MessageSent), reply

    await deliver(rig, reply)

    (request,) = rig.graph.sends()
    assert request.body["type"] == "template"
    assert request.body["template"] == {
        "name": "aviso_audiencia",
        "language": {"code": "pt_BR"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": v} for v in hearing]}
        ],
    }
    (sent,) = await statuses_of(rig, reply.message_id)
    assert sent["status"] == "sent"


async def test_an_agents_file_from_the_gateway_reaches_the_citizen_intact(
    rig: Rig, settings: Settings, pg: Any, pg_schema: str
) -> None:
    # A public defender sends the citizen the petition to sign: the file POSTed to the
    # gateway, a reply naming it (durable on Kafka), the lifecycle's decision, this outbound.
    assert (await rig.post(webhook(messages=[text("wamid.q")]))).status == 200
    (record,) = await rig.of("MessageReceived")
    received = MessageReceived.from_record(record)
    policy = default_policy()
    state, _ = handle(ContactState(contact_id=received.contact_id), received, policy)
    assert state.case is not None
    case_id = state.case.case_id
    assigned = CaseAssigned(
        event_id=f"assigned-{case_id}",
        occurred_at=datetime.now(UTC),
        correlation_id=case_id,
        case_id=case_id,
        agent_id="ana.souza",
        queue_id="familia-capital",
        routing_decision_id="rd-1",
    )
    state, _ = handle(state, assigned, policy)
    await migrate(pg, pg_schema)
    await pg.execute(
        f'INSERT INTO "{pg_schema}".cases (case_id, contact_id, citizen_id, channel, status,'
        " agent_id, opened_at, assigned_at, version)"
        " VALUES ($1, $2, $3, 'whatsapp', 'assigned', 'ana.souza', now(), now(), 1)",
        case_id,
        received.contact_id,
        received.subject_id,
    )
    agent = {"Authorization": f"Bearer {agent_token('ana.souza')}"}

    async with gateway_for(rig, settings, pg_schema) as client:
        upload = await client.post(
            f"/v1/cases/{case_id}/files",
            params={"name": "peticao_inicial.pdf"},
            data=PDF,
            headers=agent | {"Content-Type": "application/pdf"},
        )
        described = await upload.json()
        answer = await client.post(
            f"/v1/cases/{case_id}/reply",
            json={
                "contact_id": received.contact_id,
                "text": "Segue a petição para assinar.",
                "attachments": [described],
            },
            headers=agent | {"Idempotency-Key": IDEMPOTENCY_KEY},
        )
        assert (upload.status, answer.status) == (201, 202), await answer.text()
    (command,) = [SendReply.from_record(r) for r in await rig.of("SendReply")]
    (reply,) = decide(state, command, policy)
    assert isinstance(reply, MessageSent), reply

    await deliver(rig, reply)

    (uploaded,) = rig.graph.uploads
    assert uploaded.content == PDF
    assert (uploaded.type, uploaded.file_name) == ("application/pdf", "peticao_inicial.pdf")
    (request,) = rig.graph.sends()
    assert request.body["document"] == {
        "id": uploaded.media_id,
        "filename": "peticao_inicial.pdf",
        "caption": "Segue a petição para assinar.",
    }
    (sent,) = await statuses_of(rig, reply.message_id)
    assert sent["status"] == "sent"


TOKEN_KEY = SigningKey("2026-03", b"c" * 32)


def agent_token(agent_id: str) -> str:
    now = datetime.now(UTC)
    return issue_agent_token(TOKEN_KEY, agent_id=agent_id, issued_at=now, ttl=timedelta(hours=8))


@asynccontextmanager
async def gateway_for(
    rig: Rig, settings: Settings, schema: str
) -> AsyncIterator[TestClient[Any, Any]]:
    """The agents' gateway on the rig's media store, reading the read model in `schema`,
    its replies published to the rig's topic."""
    config = GatewaySettings(token_keys=(TOKEN_KEY,), read_model_schema=schema, schema=schema)
    async with asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=2) as pool:
        keys = IdempotencyKeys(pool, schema=schema, ttl=config.idempotency_ttl)
        await keys.create_table()
        cases = CaseDirectory(pool, schema=schema)
        inbound = Inbound(
            rig.contract,
            rig.producer,
            processor=GATEWAY,
            routes={"SendReply": TopicRoute(rig.topic, "contact_id")},
        )
        gw = Gateway(
            settings=config,
            inbound=inbound,
            keys=keys,
            cases=cases,
            limiter=RateLimiter(rate=1.0, burst=100, max_keys=10),
            indicator=TypingIndicator(cases, WebChatSessions(pool, schema=schema)),
            files=FileIntake(cases, rig.contract.keys, rig.media, config.max_file_bytes),
        )
        async with TestClient(TestServer(make_app(gw))) as client:
            yield client


def delivery_counts() -> tuple[float, float, float]:
    """The WhatsApp connector's settled deliveries (sent, failed) and retries, as /metrics
    has them."""

    def value(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return (
        value("acolhe_connector_deliveries_total", {"channel": "whatsapp", "status": "sent"}),
        value("acolhe_connector_deliveries_total", {"channel": "whatsapp", "status": "failed"}),
        value("acolhe_connector_delivery_retries_total", {"channel": "whatsapp"}),
    )


async def test_a_rate_limited_send_is_retried_with_backoff_then_sent(rig: Rig) -> None:
    assert (await rig.post(webhook(messages=[text("wamid.q")]))).status == 200
    rig.graph.rate_limit_next(2, 130429)
    sent_before, failed_before, retries_before = delivery_counts()

    await deliver(rig, rig.reply("msg-busy"))

    assert len(rig.graph.sends()) == 3
    assert len(rig.graph.sent) == 1
    assert rig.slept == [1.0, 2.0]  # the loop's exponential backoff
    (sent,) = await statuses_of(rig, "msg-busy")
    assert (sent["status"], sent["provider_message_id"]) == ("sent", rig.graph.sent[0].wamid)
    sent_after, failed_after, retries_after = delivery_counts()
    assert (sent_after - sent_before, failed_after - failed_before) == (1, 0)
    assert retries_after - retries_before == 2


async def test_a_permanent_error_fails_the_message_with_metas_code(rig: Rig) -> None:
    assert (await rig.post(webhook(messages=[text("wamid.q")]))).status == 200
    rig.graph.fail_next(131026)
    sent_before, failed_before, retries_before = delivery_counts()

    await deliver(rig, rig.reply("msg-undeliverable"))

    assert len(rig.graph.sends()) == 1
    assert rig.slept == []
    sent_after, failed_after, retries_after = delivery_counts()
    assert (sent_after - sent_before, failed_after - failed_before) == (0, 1)
    assert retries_after == retries_before
    (failed,) = await statuses_of(rig, "msg-undeliverable")
    assert failed["status"] == "failed"
    (error,) = failed["errors"]
    assert error["code"] == "131026"
    assert "Message undeliverable" in error["title"]


async def agents_file(rig: Rig, content: bytes, media_type: str, **overrides: Any) -> Attachment:
    """A file an agent sent: sealed in the media store under the citizen's key, described
    by an Attachment without a WhatsApp media id."""
    key = rig.contract.keys.encryption_key(rig.citizen.subject_id)
    stored = await rig.media.put(key, content)
    fields: dict[str, Any] = {
        "attachment_id": f"att-{stored.sha256[:12]}",
        "media_type": media_type,
        "size_bytes": stored.size_bytes,
        "sha256": stored.sha256,
        "storage_ref": stored.storage_ref,
        "file_name": "peticao_inicial.pdf",
    }
    return Attachment(**(fields | overrides))


async def test_an_agents_file_is_uploaded_intact_then_sent_by_its_media_id(rig: Rig) -> None:
    assert (await rig.post(webhook(messages=[text("wamid.q")]))).status == 200
    petition = await agents_file(rig, PDF, "application/pdf")

    await deliver(rig, rig.reply("msg-file", text="Segue a petição.", attachments=(petition,)))

    (upload,) = rig.graph.uploads
    assert upload.content == PDF
    assert (upload.messaging_product, upload.type) == ("whatsapp", "application/pdf")
    assert (upload.file_name, upload.content_type) == ("peticao_inicial.pdf", "application/pdf")
    (request,) = rig.graph.sends()
    assert request.body["type"] == "document"
    assert request.body["document"] == {
        "id": upload.media_id,
        "filename": "peticao_inicial.pdf",
        "caption": "Segue a petição.",
    }
    (sent,) = await statuses_of(rig, "msg-file")
    assert (sent["status"], sent["provider_message_id"]) == ("sent", rig.graph.sent[0].wamid)


async def test_a_rate_limited_upload_is_retried_with_backoff_and_uploaded_once(rig: Rig) -> None:
    assert (await rig.post(webhook(messages=[text("wamid.q")]))).status == 200
    photo = await agents_file(rig, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    rig.graph.fail_next_upload(130429, 2)
    rig.graph.rate_limit_next(1, 130429)  # then the send itself, once: no second upload

    await deliver(rig, rig.reply("msg-photo", attachments=(photo,)))

    uploads = [r for r in rig.graph.requests if r.path.endswith("/media")]
    assert len(uploads) == 3
    (upload,) = rig.graph.uploads
    assert rig.slept == [1.0, 2.0, 4.0]
    assert len(rig.graph.sends()) == 2
    (accepted,) = rig.graph.sent
    assert accepted.body["image"] == {"id": upload.media_id, "caption": rig.reply("x").text}
    (sent,) = await statuses_of(rig, "msg-photo")
    assert sent["status"] == "sent"


async def test_a_file_whatsapp_does_not_take_fails_unsent_with_why(rig: Rig) -> None:
    assert (await rig.post(webhook(messages=[text("wamid.q")]))).status == 200
    archive = await agents_file(rig, b"PK\x03\x04 documentos", "application/zip")
    big = await agents_file(rig, b"\xff\xd8\xff", "image/jpeg", size_bytes=5_000_001)
    forged = await agents_file(rig, PDF, "application/pdf", sha256="0" * 64)
    refused = await agents_file(rig, PDF[:100], "application/pdf")
    rig.graph.fail_next_upload(131053)

    await deliver(
        rig,
        rig.reply("msg-zip", attachments=(archive,)),
        rig.reply("msg-big", attachments=(big,)),
        rig.reply("msg-forged", attachments=(forged,)),
        rig.reply("msg-refused", attachments=(refused,)),
    )

    assert len([r for r in rig.graph.requests if r.path.endswith("/media")]) == 1
    assert rig.graph.sends() == []
    reasons = {}
    for message_id in ("msg-zip", "msg-big", "msg-forged", "msg-refused"):
        (failed,) = await statuses_of(rig, message_id)
        assert failed["status"] == "failed"
        (error,) = failed["errors"]
        reasons[message_id] = (error["code"], error["title"])
    assert reasons["msg-zip"][0] == "unsendable"
    assert "application/zip, which WhatsApp does not take" in reasons["msg-zip"][1]
    assert reasons["msg-big"][0] == "unsendable"
    assert "5000001 bytes, above WhatsApp's 5000000 for image/jpeg" in reasons["msg-big"][1]
    assert reasons["msg-forged"] == (
        "unsendable",
        f"attachment {forged.attachment_id} does not match its sha256 in the media store",
    )
    assert reasons["msg-refused"][0] == "131053"
    assert rig.slept == []


async def test_a_restart_after_sending_does_not_send_the_message_again(rig: Rig) -> None:
    assert (await rig.post(webhook(messages=[text("wamid.q")]))).status == 200
    settled, unsettled = rig.reply("msg-settled"), rig.reply("msg-unsettled")
    await rig.publish(settled, unsettled)
    before = rig.outbound()
    # Crashed before committing: one message went through steps 1-5 of the loop, the
    # other was sent by the deliverer but neither reported nor settled.
    await before.deliver(settled)
    await rig.ledger.attempt(unsettled.message_id)
    deliverer = WhatsAppDeliverer(
        rig.graph_client,
        rig.ledger,
        rig.config.phone_number_ids,
        keys=rig.contract.keys,
        media=rig.media,
    )
    crashed = await deliverer.deliver(unsettled)
    assert isinstance(crashed, Sent)
    assert len(rig.graph.sent) == 2

    after = rig.outbound()
    await after.start()
    seen = 0
    try:
        async with asyncio.timeout(WAIT_S):
            while seen < 2:  # both messages read again, as after a restart
                seen += await after.step(timeout_ms=200)
    finally:
        await after.stop()

    assert len(rig.graph.sends()) == 2  # neither went out again
    (reported,) = await statuses_of(rig, "msg-unsettled")
    assert reported["provider_message_id"] == crashed.provider_message_id
    assert len(await statuses_of(rig, "msg-settled")) == 1
    held = await rig.ledger.delivery("msg-unsettled")
    assert held is not None
    assert held.state == "sent"


# -- the service ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_the_service_takes_webhooks_delivers_replies_and_stops_when_told(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, tmp_path: Path
) -> None:
    port = free_port()
    async with standin_graph() as (graph, url):
        env = dict(settings.env) | {
            "ACOLHE_WHATSAPP_APP_SECRET": APP_SECRET.decode(),
            "ACOLHE_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "ACOLHE_WHATSAPP_ACCESS_TOKEN": TOKEN,
            "ACOLHE_WHATSAPP_PHONE_NUMBER_IDS": PHONE_NUMBER_ID,
            "ACOLHE_WHATSAPP_GRAPH_URL": url,
            "ACOLHE_WHATSAPP_PORT": str(port),
            "ACOLHE_WHATSAPP_MEDIA_DIR": str(tmp_path / "media"),
        }
        configured = Settings.from_env(env)
        stop = asyncio.Event()
        running = asyncio.create_task(
            service.serve(
                configured,
                contract,
                stop,
                routes=routes(topic),
                topic=topic,
                ledger_schema=pg_schema,
                processor=f"connectors.whatsapp.service-{time.monotonic_ns()}",
            )
        )
        base = f"http://127.0.0.1:{port}"
        async with ClientSession() as http, asyncio.timeout(WAIT_S):
            while not await is_up(http, f"{base}/healthz"):
                assert not running.done(), running.exception()
                await asyncio.sleep(0.05)  # polling until the port opens: no signal exists
            body, headers = signed(webhook(messages=[text("wamid.svc")]), APP_SECRET)
            async with http.post(f"{base}{PATH}", data=body, headers=headers) as answer:
                assert answer.status == 200
            contact = ContactIds(configured.contact_id_key()).contact("whatsapp", CITIZEN)
            producer = make_producer(settings.kafka)
            await producer.start()
            try:
                publisher = contract.publisher(
                    producer, source="/acolhe/test", routes=routes(topic)
                )
                reply = service_reply(contact.contact_id, contact.subject_id)
                await publisher.publish(reply.NAME, reply.to_record())
            finally:
                await producer.stop()
            while not [
                e for e in await events_of(settings, contract, topic, "DeliveryStatusChanged")
            ]:
                assert not running.done(), running.exception()
        stop.set()
        async with asyncio.timeout(WAIT_S):
            await running
    (sent,) = graph.sent
    assert sent.body["biz_opaque_callback_data"] == "msg-svc"
    (received,) = await events_of(settings, contract, topic, "MessageReceived")
    assert received["contact_id"] == contact.contact_id


async def is_up(http: ClientSession, url: str) -> bool:
    try:
        async with http.get(url) as health:
            return health.status == 200
    except OSError:
        return False


async def events_of(
    settings: Settings, contract: Contract, topic: str, name: str
) -> list[dict[str, Any]]:
    got = await read_topic(settings.kafka, contract.decode, topic)
    return [g.event.record for g in got if isinstance(g, Received) and g.event.name == name]


def service_reply(contact_id: str, subject_id: str) -> MessageSent:
    now = datetime.now(UTC)
    return MessageSent(
        event_id="evt-svc",
        occurred_at=now,
        correlation_id="flow-svc",
        subject_id=subject_id,
        channel="whatsapp",
        contact_id=contact_id,
        contact_address="+" + CITIZEN,
        channel_account_id=PHONE_NUMBER_ID,
        message_id="msg-svc",
        sender_kind="agent",
        agent_id="agent-7",
        text="Recebemos sua mensagem.",
        sent_at=now,
    )
