"""The web chat connector against the real Kafka and PostgreSQL: a visitor's message is
recorded once and acked only when durable; an agent's reply is pushed live and kept; a
reconnect, even to a restarted connector, resumes exactly what was missed; and every bad
input gets a clear answer (docs/connectors.md, "Web chat", lists them with these tests)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType

from connectors.webchat.config import RateSettings
from connectors.webchat.mapping import message_event_id
from connectors.webchat.service import serve
from streams.shared.contract import Contract
from streams.shared.kafka import make_producer
from streams.shared.keystore import PostgresKeyStore
from streams.shared.settings import Settings
from tests.integration.connectors.webchat_rig import (
    SITE,
    TopicReader,
    WebChatRig,
    agent_reply,
    message,
    next_frame,
    running_webchat,
    send,
    texts,
    topic_routes,
    with_limits,
)

pytestmark = pytest.mark.timeout(120)


async def _opened(rig: WebChatRig, token: str, last_seen: int = 0) -> Any:
    ws = await rig.connect(token)
    await send(ws, {"type": "resume", "last_seen_seq": last_seen})
    return ws


async def _closed(ws: Any) -> tuple[int | None, str]:
    """How the server closed the socket: its code and reason."""
    msg = await ws.receive(timeout=10)
    assert msg.type == WSMsgType.CLOSE, (msg.type, msg.data)
    return ws.close_code, str(msg.extra)


# -- accepted messages ------------------------------------------------------------------


async def test_a_visitor_message_is_on_kafka_once_and_acked_even_when_the_frame_is_resent(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        token = await rig.new_token()
        claims = rig.claims(token)
        ws = await _opened(rig, token)

        await send(ws, message("c-1", "Preciso de pensão alimentícia para meu filho"))
        first = await next_frame(ws)
        await send(ws, message("c-1", "Preciso de pensão alimentícia para meu filho"))
        again = await next_frame(ws)
        await ws.close()

        event_id = message_event_id(SITE, claims.session_id, "c-1")
        assert first == {
            "type": "ack",
            "client_message_id": "c-1",
            "message_id": event_id,
            "seq": 1,
        }
        assert again == first
        await log.settle()
        [received] = log.of("MessageReceived")
        contact = rig.chat.contact_ids.contact("web_chat", claims.visitor_id)
        assert received["event_id"] == event_id
        assert received["text"] == "Preciso de pensão alimentícia para meu filho"
        assert (received["contact_id"], received["subject_id"]) == (
            contact.contact_id,
            contact.subject_id,
        )
        assert received["thread_id"] == claims.session_id
        assert received["provider_message_id"] == f"{claims.session_id}/c-1"


async def test_an_agent_reply_is_pushed_live_reported_sent_and_read_receipts_published_once(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        token = await rig.new_token()
        ws = await _opened(rig, token)
        await send(ws, message("c-1", "Fui despejada hoje"))
        assert (await next_frame(ws))["type"] == "ack"

        reply = await rig.reply(token, "Olá, sou a defensora. Pode me contar mais?")
        pushed = await next_frame(ws)

        assert pushed["type"] == "message"
        assert (pushed["seq"], pushed["message_id"], pushed["sender"]) == (
            2,
            reply.message_id,
            "agent",
        )
        assert pushed["text"] == "Olá, sou a defensora. Pode me contar mais?"
        [status] = await log.wait_for("DeliveryStatusChanged", message_id=reply.message_id)
        assert status["status"] == "sent"

        await send(ws, {"type": "read", "up_to_message_id": reply.message_id})
        await send(ws, {"type": "read", "up_to_message_id": reply.message_id})
        await send(ws, {"type": "resume", "last_seen_seq": 2})  # answered after both reads
        await send(ws, {"type": "typing", "active": True})
        await send(ws, {"type": "nope"})  # the next answer: nothing else came back before
        assert (await next_frame(ws))["code"] == "unknown_type"
        await ws.close()
        await log.settle()
        reads = log.of("DeliveryStatusChanged", message_id=reply.message_id, status="read")
        assert len(reads) == 1
        assert reads[0]["causation_id"] == reply.event_id


async def test_a_reconnect_after_a_restart_resumes_exactly_the_missed_replies(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        keys = rig.keys
        token = await rig.new_token()
        ws = await _opened(rig, token)
        await send(ws, message("c-1", "Meu pai precisa de um remédio"))
        assert (await next_frame(ws))["seq"] == 1
        await rig.reply(token, "Qual remédio?")
        assert (await next_frame(ws))["seq"] == 2
        await ws.close()

        missed = [await rig.reply(token, t) for t in ("Tem a receita?", "Mande uma foto dela")]
        for sent in missed:
            await log.wait_for("DeliveryStatusChanged", message_id=sent.message_id, status="sent")

    async with running_webchat(settings, contract, topic, pg_schema, keys=keys) as restarted:
        ws = await _opened(restarted, token, last_seen=2)
        resumed = [await next_frame(ws), await next_frame(ws)]
        await send(ws, {"type": "nope"})
        after = await next_frame(ws)
        await ws.close()
        everything = await _opened(restarted, token, last_seen=0)
        whole = [await next_frame(everything) for _ in range(4)]
        await everything.close()

    assert [(f["seq"], f["message_id"]) for f in resumed] == [
        (3, missed[0].message_id),
        (4, missed[1].message_id),
    ]
    assert texts(resumed) == ["Tem a receita?", "Mande uma foto dela"]
    assert after["code"] == "unknown_type"  # nothing but the missed ones came before it
    assert [f["seq"] for f in whole] == [1, 2, 3, 4]
    assert whole[0]["sender"] == "visitor"
    assert whole[0]["client_message_id"] == "c-1"


async def test_the_http_fallback_records_once_and_lists_the_session(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        token = await rig.new_token()
        listening = await _opened(rig, token)
        headers = {"Origin": rig.origin, "Authorization": f"Bearer {token}"}
        body = b'{"type":"message","client_message_id":"h-1","text":"Pelo navegador antigo"}'
        answers = []
        for _ in range(2):
            async with rig.http.post(
                f"{rig.url}/webchat/messages", data=body, headers=headers
            ) as response:
                answers.append((response.status, await response.json()))
        pushed = await next_frame(listening)
        await listening.close()
        async with rig.http.get(
            f"{rig.url}/webchat/messages", params={"after_seq": "0"}, headers=headers
        ) as response:
            listed = await response.json()

        assert answers[0] == answers[1]
        assert answers[0][0] == 200
        assert answers[0][1]["type"] == "ack"
        assert pushed["text"] == "Pelo navegador antigo"
        assert listed["latest_seq"] == 1
        assert texts(listed["messages"]) == ["Pelo navegador antigo"]
        await log.settle()
        assert len(log.of("MessageReceived")) == 1


# -- bad input --------------------------------------------------------------------------


async def test_an_expired_token_closes_the_socket_with_4401_and_is_refused_over_http(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with running_webchat(settings, contract, topic, pg_schema) as rig:
        expired, visitor_id = rig.old_token(issued_ago=timedelta(hours=2), ttl=timedelta(hours=1))
        ws = await rig.connect(expired)
        code, reason = await _closed(ws)
        live = await _opened(rig, await rig.new_token())
        later = datetime.now(UTC) + rig.settings.token_ttl + timedelta(minutes=5)
        rig.chat.clock = lambda: later  # the token of the open socket has expired meanwhile
        await send(live, {"type": "typing", "active": True})  # any frame: the check runs
        code_live, reason_live = await _closed(live)
        rig.chat.clock = lambda: datetime.now(UTC)
        async with rig.http.post(
            f"{rig.url}/webchat/messages",
            data=b'{"type":"message","client_message_id":"c-1","text":"oi"}',
            headers={"Origin": rig.origin, "Authorization": f"Bearer {expired}"},
        ) as response:
            status, answer = response.status, await response.json()
            challenge = response.headers.get("WWW-Authenticate")
        async with rig.http.post(
            f"{rig.url}/webchat/session",
            json={"token": expired},
            headers={"Origin": rig.origin},
        ) as response:
            renewed_status, renewed = response.status, await response.json()

    assert code == code_live == 4401
    assert reason.startswith("expired: ")
    assert reason_live.startswith("expired: ")
    assert status == 401
    assert answer["error"]["code"] == "token_expired"
    assert challenge == 'Bearer error="invalid_token"'
    # expired within the renewal grace: the same visitor and session go on
    assert renewed_status == 200
    assert rig.claims(renewed["token"]).visitor_id == visitor_id


async def test_a_tampered_or_missing_token_is_refused(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with running_webchat(settings, contract, topic, pg_schema) as rig:
        token = await rig.new_token()
        payload, signature = token.split(".")
        flipped = "A" if payload[5] != "A" else "B"
        tampered = f"{payload[:5]}{flipped}{payload[6:]}.{signature}"
        closes = []
        for bad in (tampered, None, "not-a-token"):
            ws = await rig.connect(bad)
            closes.append(await _closed(ws))
        async with rig.http.post(
            f"{rig.url}/webchat/session", json={"token": tampered}, headers={"Origin": rig.origin}
        ) as response:
            renew = response.status, (await response.json())["error"]["code"]

    assert closes[0][0] == 4401
    assert closes[0][1].startswith("bad_signature: ")
    assert [c[0] for c in closes[1:]] == [4401, 4401]
    assert [c[1].split(":")[0] for c in closes[1:]] == ["malformed", "malformed"]
    assert renew[0] == 401
    assert renew[1] == "token_bad_signature"


async def test_a_foreign_missing_or_null_origin_is_refused_before_anything_else(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with running_webchat(settings, contract, topic, pg_schema) as rig:
        token = await rig.new_token()
        answers: dict[str, tuple[int, str]] = {}
        cors: dict[str, str | None] = {}
        for label, origin in (
            ("foreign", "https://evil.example"),
            ("null", "null"),
            ("malformed", "https://x/path"),
        ):
            async with rig.http.post(
                f"{rig.url}/webchat/session", headers={"Origin": origin}
            ) as response:
                answers[label] = (response.status, (await response.json())["error"]["code"])
                cors[label] = response.headers.get("Access-Control-Allow-Origin")
        async with rig.http.post(f"{rig.url}/webchat/session") as response:
            answers["missing"] = (response.status, (await response.json())["error"]["code"])
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await rig.connect(token, origin="https://evil.example")
        async with rig.http.get(
            f"{rig.url}/webchat/messages",
            headers={"Origin": "https://evil.example", "Authorization": f"Bearer {token}"},
        ) as response:
            listing = response.status

    assert answers["foreign"] == (403, "origin_not_allowed")
    assert answers["null"] == (403, "origin_null")
    assert answers["malformed"] == (403, "origin_malformed")
    assert answers["missing"] == (403, "origin_missing")
    assert cors["foreign"] is None
    assert refused.value.status == 403
    assert listing == 403


async def test_oversized_messages_are_refused_and_nothing_is_published(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        token = await rig.new_token()
        limit = rig.settings.max_message_bytes
        ws = await _opened(rig, token)
        await send(ws, message("c-1", "a" * (limit + 1)))
        ascii_over = await next_frame(ws)
        await send(ws, message("c-2", "ã" * (limit // 2 + 1)))  # 2 bytes each in UTF-8
        utf8_over = await next_frame(ws)
        await send(ws, message("c-3", "ã" * (limit // 2)))  # exactly the limit: accepted
        at_limit = await next_frame(ws)
        async with rig.http.post(
            f"{rig.url}/webchat/messages",
            data=b"x" * (rig.settings.max_frame_bytes + 1),
            headers={"Origin": rig.origin, "Authorization": f"Bearer {token}"},
        ) as response:
            http_over = response.status, (await response.json())["error"]["code"]
        await ws.send_str("x" * (4 * rig.settings.max_frame_bytes + 1))
        code, _ = await _closed(ws)
        await log.settle()

    assert (ascii_over["type"], ascii_over["code"], ascii_over["field"]) == (
        "error",
        "oversized",
        "text",
    )
    assert (utf8_over["code"], utf8_over["field"]) == ("oversized", "text")
    assert at_limit["type"] == "ack"
    assert http_over == (413, "too_large")
    assert code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert texts(log.of("MessageReceived")) == ["ã" * (limit // 2)]


async def test_invalid_utf8_and_malformed_frames_get_error_frames_and_the_socket_goes_on(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with (
        running_webchat(settings, contract, topic, pg_schema) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        token = await rig.new_token()
        ws = await _opened(rig, token)
        bad_text = b'{"type":"message","client_message_id":"c-1","text":"ol\xe1"}'  # Latin-1
        await ws.send_frame(bad_text, WSMsgType.TEXT)
        await ws.send_bytes(bad_text)
        for raw in (
            "{not json",
            "[]",
            '{"type":"message","client_message_id":"c-2"}',
            '{"type":"message","client_message_id":"c-2","text":"oi","extra":1}',
            '{"type":"message","client_message_id":"c 2","text":"oi"}',
            '{"type":"message","client_message_id":"c-2","text":"   "}',
            '{"type":"resume","last_seen_seq":99}',
        ):
            await ws.send_str(raw)
        errors = [await next_frame(ws) for _ in range(9)]
        await send(ws, message("c-2", "olá"))
        ack = await next_frame(ws)
        await ws.close()
        async with rig.http.post(
            f"{rig.url}/webchat/messages",
            data=bad_text,
            headers={"Origin": rig.origin, "Authorization": f"Bearer {token}"},
        ) as response:
            http_bad = response.status, (await response.json())["error"]["code"]
        await log.settle()

    assert [e["code"] for e in errors] == [
        "invalid_utf8",
        "invalid_utf8",
        "malformed_json",
        "malformed_json",
        "missing_field",
        "invalid_field",
        "invalid_field",
        "invalid_field",
        "resume_gap",
    ]
    assert ack["type"] == "ack"
    assert http_bad == (400, "invalid_utf8")
    assert texts(log.of("MessageReceived")) == ["olá"]


async def test_a_flood_from_one_visitor_is_limited_while_another_is_served(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    # 3 at once, then one a minute: the flood's 4th to 6th messages cannot refill in time
    tune = with_limits(messages=RateSettings(per_minute=1, burst=3))
    async with (
        running_webchat(settings, contract, topic, pg_schema, tune=tune) as rig,
        TopicReader(settings, contract, topic) as log,
    ):
        flooder, calm = await rig.new_token(), await rig.new_token()
        ws_flood, ws_calm = await _opened(rig, flooder), await _opened(rig, calm)
        for i in range(6):
            await send(ws_flood, message(f"c-{i}", f"mensagem {i}"))
        flood = [await next_frame(ws_flood) for _ in range(6)]
        await send(ws_calm, message("c-1", "Bom dia, preciso de ajuda"))
        served = await next_frame(ws_calm)
        await ws_flood.close()
        await ws_calm.close()
        await log.settle()
        contacts = rig.chat.contact_ids
        flooder_contact = contacts.contact("web_chat", rig.claims(flooder).visitor_id)
        calm_contact = contacts.contact("web_chat", rig.claims(calm).visitor_id)

    assert [f["type"] for f in flood] == ["ack"] * 3 + ["error"] * 3
    assert {f.get("code") for f in flood[3:]} == {"rate_limited"}
    assert all(f["retry_after"] > 0 for f in flood[3:])
    assert served["type"] == "ack"
    assert len(log.of("MessageReceived", contact_id=flooder_contact.contact_id)) == 3
    assert texts(log.of("MessageReceived", contact_id=calm_contact.contact_id)) == [
        "Bom dia, preciso de ajuda"
    ]


async def test_a_flood_of_new_sessions_from_one_address_gets_429_with_retry_after(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    tune = with_limits(sessions=RateSettings(per_minute=1, burst=2))
    async with running_webchat(settings, contract, topic, pg_schema, tune=tune) as rig:
        answers = []
        for _ in range(3):
            async with rig.http.post(
                f"{rig.url}/webchat/session", headers={"Origin": rig.origin}
            ) as response:
                answers.append((response.status, response.headers.get("Retry-After")))

    assert [a[0] for a in answers] == [201, 201, 429]
    assert int(answers[2][1] or "0") >= 1


# -- the service ------------------------------------------------------------------------


async def test_the_service_takes_a_message_delivers_a_reply_and_stops_cleanly(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    """`acolhe run webchat`'s serve(), configured from the environment as an operator does."""
    with socket.socket() as probe:  # a free port for the service
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = "https://www.defensoria.example"
    secret = base64.b64encode(os.urandom(32)).decode()
    env = dict(
        settings.env,
        ACOLHE_WEBCHAT_SITE_ID=SITE,
        ACOLHE_WEBCHAT_TOKEN_KEYS=f"2026-11:{secret}",
        ACOLHE_WEBCHAT_ALLOWED_ORIGINS=f"{site}, https://defensoria.example",
        ACOLHE_WEBCHAT_PORT=str(port),
        ACOLHE_WEBCHAT_SCHEMA=pg_schema,
    )
    stop = asyncio.Event()
    service = asyncio.create_task(
        serve(Settings.from_env(env), contract, stop, topic=topic, routes=topic_routes(topic))
    )
    url = f"http://127.0.0.1:{port}"
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        async with aiohttp.ClientSession() as http, TopicReader(settings, contract, topic) as log:
            await asyncio.wait_for(_healthy(http, url, service), 30)
            async with http.post(f"{url}/webchat/session", headers={"Origin": site}) as response:
                token = (await response.json())["token"]
            ws = await http.ws_connect(
                f"{url}/webchat/ws",
                protocols=["acolhe.webchat.v1", f"acolhe.token.{token}"],
                origin=site,
            )
            await send(ws, message("c-1", "Olá"))
            ack = await next_frame(ws)
            [received] = await log.wait_for("MessageReceived")
            reply = agent_reply(
                received["contact_id"],
                received["subject_id"],
                received["contact_address"],
                received["thread_id"],
                "Olá! Como posso ajudar?",
            )
            publisher = contract.publisher(producer, source="/test", routes=topic_routes(topic))
            await publisher.publish(reply.NAME, reply.to_record())
            pushed = await next_frame(ws)
            stop.set()
            code, _ = await _closed(ws)
            await asyncio.wait_for(service, 30)
    finally:
        await producer.stop()
        if not service.done():
            service.cancel()

    assert ack["type"] == "ack"
    assert pushed["text"] == "Olá! Como posso ajudar?"
    assert code == aiohttp.WSCloseCode.GOING_AWAY
    assert service.exception() is None


async def _healthy(http: aiohttp.ClientSession, url: str, service: asyncio.Task[None]) -> None:
    while True:
        if service.done():
            service.result()  # raises what stopped it
            raise AssertionError("the service ended before it served")
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)  # polling a condition: the port opens when it is ready


# -- privacy ----------------------------------------------------------------------------


async def test_session_text_is_sealed_shredded_by_erasure_and_deleted_when_idle(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, pg: Any
) -> None:
    async with running_webchat(settings, contract, topic, pg_schema) as rig:
        token = await rig.new_token()
        claims = rig.claims(token)
        ws = await _opened(rig, token)
        await send(ws, message("c-1", "Sofro violência em casa"))
        assert (await next_frame(ws))["type"] == "ack"
        await rig.reply(token, "Vamos pedir uma medida protetiva hoje")
        assert (await next_frame(ws))["seq"] == 2
        await ws.close()
        stored = await pg.fetch(f'SELECT text_sealed FROM "{pg_schema}".messages')

        subject = rig.chat.contact_ids.contact("web_chat", claims.visitor_id).subject_id
        assert isinstance(contract.keys, PostgresKeyStore)
        await contract.keys.destroy(subject)
        after_erasure = await _opened(rig, token, last_seen=0)
        await send(after_erasure, {"type": "nope"})
        first_after_erasure = await next_frame(after_erasure)
        await after_erasure.close()

        deleted = await rig.store.forget_idle(datetime.now(UTC) + timedelta(minutes=1))
        left = await pg.fetchval(f'SELECT count(*) FROM "{pg_schema}".messages')

    assert len(stored) == 2
    for row in stored:
        assert "violência".encode() not in row["text_sealed"]
        assert b"medida protetiva" not in row["text_sealed"]
    assert first_after_erasure["code"] == "unknown_type"  # no erased message came back
    assert deleted == 1
    assert left == 0
