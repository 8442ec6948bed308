"""The agents' gateway over HTTP, against the real Kafka and Postgres: given a case in the read
model and an agent's token, when the agents' app sends a command, then the command event is
durable on Kafka (this test's own topic) before the 202, with the token's agent; and every
bad request gets its own clear refusal, with nothing published."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import asyncpg
import orjson
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from connectors.common.inbound import Inbound
from connectors.common.media import FileMediaStore, storage_ref
from connectors.gateway.app import Gateway, make_app
from connectors.gateway.auth import issue_agent_token
from connectors.gateway.commands import MAX_BODY_BYTES, SOURCE, command_event_id
from connectors.gateway.config import GatewaySettings
from connectors.gateway.files import attachment_id_for
from connectors.gateway.indicator import TypingIndicator
from connectors.gateway.store import CaseDirectory, IdempotencyKeys, WebChatSessions
from connectors.gateway.uploads import FileIntake
from connectors.webchat.limits import RateLimiter
from connectors.webchat.signing import SigningKey
from connectors.webchat.tokens import issue_visitor_token
from schemas.catalog import BY_NAME
from streams.cases.commands import reply_message_id
from streams.projections.migrations import migrate
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics, make_producer
from streams.shared.keystore import PostgresKeyStore
from streams.shared.settings import Settings

pytestmark = pytest.mark.timeout(120)

CURRENT = SigningKey("2026-03", b"c" * 32)
RETIRED = SigningKey("2026-02", b"r" * 32)
FOREIGN = SigningKey("elsewhere", b"f" * 32)
COMMANDS: Final = (
    "SendReply",
    "TransferCase",
    "PutCaseOnHold",
    "ResumeCase",
    "CloseCase",
    "ClaimCase",
    "ChangePresence",
    "ChangeCapacity",
)
CASE_ID = "case-7f3a"
CONTACT_ID = "web_chat-91b2"
CITIZEN_ID = "citizen-5c0d"
REPLY = "Bom dia! Recebemos seus documentos; a defensora Ana vai analisar hoje."
WAIT_S = 60.0


def token(agent_id: str, *, key: SigningKey = CURRENT, issued: timedelta = timedelta()) -> str:
    at = datetime.now(UTC) + issued
    return issue_agent_token(key, agent_id=agent_id, issued_at=at, ttl=timedelta(hours=8))


def headers(agent_id: str = "ana.souza", key: str | None = None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token(agent_id)}",
        "Idempotency-Key": key or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


@dataclass
class Harness:
    client: TestClient[Any, Any]
    topic: str
    settings: Settings
    contract: Contract
    media: FileMediaStore

    async def send(
        self, method: str, path: str, body: object, hdrs: Mapping[str, str] | None = None
    ) -> tuple[ClientResponse, dict[str, Any]]:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        response = await self.client.request(
            method, path, data=data, headers=dict(hdrs or headers())
        )
        answer = orjson.loads(await response.read())
        return response, answer

    async def recorded(self) -> list[Received]:
        """Every command now on the topic (durable: the 202 came after the acknowledgement)."""
        read = await read_topic(self.settings.kafka, self.contract.decode, self.topic)
        assert all(isinstance(r, Received) for r in read), read
        return [r for r in read if isinstance(r, Received)]


@pytest.fixture
async def read_model(pg: Any, pg_schema: str) -> str:
    """The read model migrated into this test's schema, with one case in it."""
    await asyncio.wait_for(migrate(pg, pg_schema), WAIT_S)
    await pg.execute(
        f'INSERT INTO "{pg_schema}".cases (case_id, contact_id, citizen_id, channel, status,'
        " agent_id, opened_at, assigned_at, version)"
        " VALUES ($1, $2, $3, 'web_chat', 'assigned', 'ana.souza', now(), now(), 1)",
        CASE_ID,
        CONTACT_ID,
        CITIZEN_ID,
    )
    return pg_schema


Start = Callable[..., Any]


@pytest.fixture
async def start(
    settings: Settings, contract: Contract, topic: str, read_model: str, tmp_path: Path
) -> Start:
    """Start a gateway on this test's topic and schema (options: burst, publish timeout,
    another topic, the web chat's session schema for typing, the largest file)."""

    @asynccontextmanager
    async def running(
        *,
        burst: int = 1000,
        publish_timeout_s: float = 10.0,
        to_topic: str | None = None,
        webchat_schema: str | None = None,
        max_file_bytes: int = 64 * 1024,
    ) -> AsyncIterator[Harness]:
        config = GatewaySettings(
            token_keys=(CURRENT, RETIRED),
            burst=burst,
            rate_per_s=0.001,  # no refill within a test: the burst is all an agent has
            read_model_schema=read_model,
            schema=read_model,
            publish_timeout_s=publish_timeout_s,
            max_file_bytes=max_file_bytes,
        )
        media = FileMediaStore(tmp_path / "media", max_bytes=max_file_bytes)
        target = to_topic or topic
        routes = {n: TopicRoute(target, BY_NAME[n].key_field) for n in COMMANDS}
        pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=4)
        producer = make_producer(settings.kafka)
        await producer.start()
        try:
            keys = IdempotencyKeys(pool, schema=read_model, ttl=config.idempotency_ttl)
            await keys.create_table()
            gateway = Gateway(
                settings=config,
                inbound=Inbound(contract, producer, processor=SOURCE, routes=routes),
                keys=keys,
                cases=CaseDirectory(pool, schema=read_model),
                limiter=RateLimiter(rate=config.rate_per_s, burst=burst, max_keys=100),
                indicator=TypingIndicator(
                    CaseDirectory(pool, schema=read_model),
                    WebChatSessions(pool, schema=webchat_schema or read_model),
                ),
                files=FileIntake(
                    CaseDirectory(pool, schema=read_model), contract.keys, media, max_file_bytes
                ),
            )
            async with TestClient(TestServer(make_app(gateway))) as client:
                yield Harness(client, topic, settings, contract, media)
        finally:
            await producer.stop()
            await pool.close()

    return running


CASE = {"contact_id": CONTACT_ID}
REQUESTS: Final = (
    ("POST", f"/v1/cases/{CASE_ID}/reply", {**CASE, "text": REPLY}, "SendReply"),
    (
        "POST",
        f"/v1/cases/{CASE_ID}/transfer",
        {**CASE, "to_queue_id": "familia-capital", "note": "pensão alimentícia, 2 filhos"},
        "TransferCase",
    ),
    (
        "POST",
        f"/v1/cases/{CASE_ID}/hold",
        {**CASE, "reason": "documents_pending"},
        "PutCaseOnHold",
    ),
    ("POST", f"/v1/cases/{CASE_ID}/resume", CASE, "ResumeCase"),
    ("POST", f"/v1/cases/{CASE_ID}/close", {**CASE, "reason": "resolved"}, "CloseCase"),
    ("POST", f"/v1/cases/{CASE_ID}/claim", {"correlation_id": "ui-click-42"}, "ClaimCase"),
    ("PUT", "/v1/agents/me/presence", {"presence": "away"}, "ChangePresence"),
    ("PUT", "/v1/agents/me/capacity", {"capacity": 6}, "ChangeCapacity"),
)


async def test_each_command_is_accepted_into_its_event_by_the_token_agent(start: Start) -> None:
    async with start() as gw:
        answers = {}
        for method, path, body, name in REQUESTS:
            response, answer = await gw.send(method, path, body, headers("ana.souza"))
            assert response.status == 202, answer
            assert answer["command"] == name
            answers[name] = answer
        recorded = await gw.recorded()

    assert sorted(r.event.name for r in recorded) == sorted(COMMANDS)
    by_name = {r.event.name: r.event.record for r in recorded}
    for name, record in by_name.items():
        assert record["agent_id"] == "ana.souza"
        assert record["event_id"] == answers[name]["event_id"]
        assert record["correlation_id"] == answers[name]["correlation_id"]
    reply, transfer = by_name["SendReply"], by_name["TransferCase"]
    assert (reply["case_id"], reply["contact_id"], reply["text"]) == (CASE_ID, CONTACT_ID, REPLY)
    # sealed under the case's citizen, which the gateway looked up in the read model
    assert reply["subject_id"] == transfer["subject_id"] == CITIZEN_ID
    assert answers["SendReply"]["message_id"] == reply_message_id(reply["event_id"])
    assert by_name["ClaimCase"]["correlation_id"] == "ui-click-42"
    assert by_name["ChangeCapacity"]["capacity"] == 6
    assert by_name["PutCaseOnHold"]["reason"] == "documents_pending"
    resume = by_name["ResumeCase"]
    assert (resume["case_id"], resume["contact_id"]) == (CASE_ID, CONTACT_ID)
    keyed = {r.event.name: r.headers["ce_subject"] for r in recorded}
    assert keyed["SendReply"] == keyed["ResumeCase"] == CONTACT_ID
    assert keyed["ChangePresence"] == "ana.souza"


WA_CASE_ID = "case-2b9e"
WA_CONTACT_ID = "whatsapp-4d7c"
WA_CITIZEN_ID = "citizen-8e1f"
HEARING = ["amanhã, 14h", "Fórum João Mendes, sala 3"]


async def test_a_template_reply_is_durable_with_its_parameters_sealed(
    start: Start, pg: Any, read_model: str
) -> None:
    # a citizen silent for days on WhatsApp: only an approved template reaches them
    await pg.execute(
        f'INSERT INTO "{read_model}".cases (case_id, contact_id, citizen_id, channel, status,'
        " agent_id, opened_at, assigned_at, version)"
        " VALUES ($1, $2, $3, 'whatsapp', 'assigned', 'ana.souza', now(), now(), 1)",
        WA_CASE_ID,
        WA_CONTACT_ID,
        WA_CITIZEN_ID,
    )
    template = {"name": "lembrete_audiencia", "language": "pt_BR", "parameters": HEARING}
    body = {"contact_id": WA_CONTACT_ID, "template": template}
    async with start() as gw:
        response, answer = await gw.send("POST", f"/v1/cases/{WA_CASE_ID}/reply", body)
        assert response.status == 202, answer
        raw: list[bytes] = []

        async def keep_raw(messages: list[Any]) -> Any:
            raw.extend(m.value for m in messages)
            return await gw.contract.decode(messages)

        read = await read_topic(gw.settings.kafka, keep_raw, gw.topic)

    assert answer["command"] == "SendReply"
    [record] = [r.event.record for r in read if isinstance(r, Received)]
    assert record["event_id"] == answer["event_id"]
    assert answer["message_id"] == reply_message_id(record["event_id"])
    assert (record["case_id"], record["contact_id"], record["text"]) == (
        WA_CASE_ID,
        WA_CONTACT_ID,
        None,
    )
    assert (record["template_name"], record["template_language"]) == (
        "lembrete_audiencia",
        "pt_BR",
    )
    assert orjson.loads(record["template_parameters"]) == HEARING
    # sealed under the case's citizen: opened above with their key, never in clear on Kafka
    assert record["subject_id"] == WA_CITIZEN_ID
    [value] = raw
    for parameter in HEARING:
        assert parameter.encode() not in value
    assert "João Mendes".encode() not in value
    assert b"lembrete_audiencia" in value  # the template's name is no personal data


async def test_a_retry_with_the_same_key_gets_the_same_event_id_and_is_recorded_once(
    start: Start,
) -> None:
    key = str(uuid.uuid4())
    body = {**CASE, "text": REPLY}
    async with start() as gw:
        first, a = await gw.send("POST", f"/v1/cases/{CASE_ID}/reply", body, headers(key=key))
        again, b = await gw.send("POST", f"/v1/cases/{CASE_ID}/reply", body, headers(key=key))
        recorded = await gw.recorded()

    assert (first.status, again.status) == (202, 202)
    assert a["event_id"] == b["event_id"] == command_event_id("ana.souza", "SendReply", key)
    assert [r.event.record["event_id"] for r in recorded] == [a["event_id"]]
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_a_key_reused_for_another_request_is_refused_422(start: Start) -> None:
    key = str(uuid.uuid4())
    path = f"/v1/cases/{CASE_ID}/reply"
    async with start() as gw:
        first, _ = await gw.send("POST", path, {**CASE, "text": REPLY}, headers(key=key))
        other_text, a = await gw.send(
            "POST", path, {**CASE, "text": "Outro texto"}, headers(key=key)
        )
        other_action, b = await gw.send(
            "PUT", "/v1/agents/me/presence", {"presence": "offline"}, headers(key=key)
        )
        # the same key is another agent's own: no conflict across agents
        bruno, _ = await gw.send(
            "PUT", "/v1/agents/me/presence", {"presence": "offline"}, headers("bruno", key)
        )
        recorded = await gw.recorded()

    assert first.status == 202
    assert bruno.status == 202
    assert (other_text.status, other_action.status) == (422, 422)
    assert a["error"]["code"] == b["error"]["code"] == "idempotency_key_reused"
    assert "(SendReply)" in b["error"]["reason"]
    assert sorted(r.event.record["agent_id"] for r in recorded) == ["ana.souza", "bruno"]


async def test_a_request_without_a_valid_token_is_refused_401(start: Start) -> None:
    genuine = token("ana.souza")
    payload, signature = genuine.split(".")
    tampered_sig = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    forged_payload = base64.urlsafe_b64encode(b'["chefe",1,9999999999]').rstrip(b"=").decode()
    visitor = issue_visitor_token(
        CURRENT,
        visitor_id="v-1",
        site_id="defensoria",
        session_id="s-1",
        issued_at=datetime.now(UTC),
        ttl=timedelta(hours=1),
    )
    cases = {
        "missing_token": None,
        "not_bearer": f"Basic {base64.b64encode(b'ana:secret').decode()}",
        "token_expired": f"Bearer {token('ana.souza', issued=-timedelta(hours=9))}",
        "token_not_yet_valid": f"Bearer {token('ana.souza', issued=timedelta(hours=1))}",
        "bad_signature": f"Bearer {payload}.{tampered_sig}",
        "bad_signature ": f"Bearer {forged_payload}.{signature}",  # another agent's claims
        "bad_signature  ": f"Bearer {token('ana.souza', key=FOREIGN)}",
        "bad_signature   ": f"Bearer {visitor}",  # a visitor's token never passes here
        "malformed_token": "Bearer not-a-token",
    }
    async with start() as gw:
        for code, authorization in cases.items():
            sent = headers()
            if authorization is None:
                del sent["Authorization"]
            else:
                sent["Authorization"] = authorization
            response, answer = await gw.send(
                "PUT", "/v1/agents/me/presence", {"presence": "away"}, sent
            )
            assert response.status == 401, (code, answer)
            assert answer["error"]["code"] == code.strip(), answer
            assert response.headers["WWW-Authenticate"].startswith('Bearer realm="acolhe-gateway"')
        retired = {**headers(), "Authorization": f"Bearer {token('ana.souza', key=RETIRED)}"}
        still_valid, _ = await gw.send(
            "PUT", "/v1/agents/me/presence", {"presence": "away"}, retired
        )
        recorded = await gw.recorded()

    assert still_valid.status == 202  # rotation: a retired key still listed still passes
    assert len(recorded) == 1


async def test_bad_bodies_are_refused_400_with_every_problem(start: Start) -> None:
    reply = f"/v1/cases/{CASE_ID}/reply"
    no_key = {k: v for k, v in headers().items() if k != "Idempotency-Key"}
    cases: list[tuple[str, object, Mapping[str, str] | None, set[tuple[str, str]]]] = [
        (
            "malformed JSON",
            b'{"contact_id": "web_chat-91b2", "text": "Oi',
            None,
            {("body", "not JSON")},
        ),
        (
            "invalid UTF-8",
            b'{"contact_id": "w", "text": "\xff\xfe"}',
            None,
            {("body", "not UTF-8")},
        ),
        ("not an object", b'["text"]', None, {("body", "a JSON object")}),
        (
            "agent_id in the body",
            {**CASE, "text": REPLY, "agent_id": "chefe"},
            None,
            {("agent_id", "the acting agent is the token's: remove agent_id")},
        ),
        (
            "subject_id in the body",
            {**CASE, "text": REPLY, "subject_id": "someone-else"},
            None,
            {("subject_id", "the gateway looks up the case's citizen: remove subject_id")},
        ),
        (
            "another case in the body",
            {**CASE, "text": REPLY, "case_id": "case-other"},
            None,
            {("case_id", "not the path's case: leave case_id out")},
        ),
        (
            "text and a template at once, the template's language and a parameter bad",
            {
                **CASE,
                "text": REPLY,
                "template": {"name": "lembrete", "language": "pt-BR", "parameters": ["a\nb"]},
            },
            None,
            {
                ("template", "either text or a template, not both"),
                ("template.language", "a language code, e.g. pt_BR, en_US or es"),
                (
                    "template.parameters[0]",
                    "one line: no newline, tab or control character, nor 5 spaces in a row",
                ),
            },
        ),
        (
            "missing Idempotency-Key, blank text, unknown field",
            {**CASE, "text": "  ", "urgent": True},
            no_key,
            {
                ("Idempotency-Key", "required: a fresh UUID per request, reused on retries"),
                ("text", "required, and not blank"),
                ("urgent", "unknown field"),
            },
        ),
    ]
    async with start() as gw:
        for what, body, sent, expected in cases:
            response, answer = await gw.send("POST", reply, body, sent)
            assert response.status == 400, (what, answer)
            assert answer["error"]["code"] == "invalid_request"
            problems = {(p["field"], p["reason"]) for p in answer["error"]["problems"]}
            assert problems == expected, what
        response, answer = await gw.send("PUT", "/v1/agents/me/capacity", {"capacity": -1})
        assert response.status == 400
        assert answer["error"]["problems"][0]["field"] == "capacity"
        # a resume gives no reason: the case's hold ends whatever it was
        response, answer = await gw.send(
            "POST", f"/v1/cases/{CASE_ID}/resume", {**CASE, "reason": "external"}
        )
        assert response.status == 400
        assert answer["error"]["problems"] == [{"field": "reason", "reason": "unknown field"}]
        recorded = await gw.recorded()

    assert recorded == []


async def test_an_oversized_body_is_refused_413_declared_or_streamed(start: Start) -> None:
    big = orjson.dumps({**CASE, "text": "x" * MAX_BODY_BYTES})

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for start_at in range(0, len(big), 8192):
            yield big[start_at : start_at + 8192]

    async with start() as gw:
        declared, a = await gw.send("POST", f"/v1/cases/{CASE_ID}/reply", big)
        streamed = await gw.client.post(
            f"/v1/cases/{CASE_ID}/reply", data=chunks(), headers=headers()
        )
        b = orjson.loads(await streamed.read())
        recorded = await gw.recorded()

    assert (declared.status, streamed.status) == (413, 413)
    assert a["error"]["code"] == b["error"]["code"] == "too_large"
    assert recorded == []


async def test_a_flood_from_one_agent_is_refused_429_while_another_is_served(
    start: Start,
) -> None:
    presence = "/v1/agents/me/presence"
    async with start(burst=3) as gw:
        served = [
            (await gw.send("PUT", presence, {"presence": "away"}, headers("ana.souza")))[0].status
            for _ in range(3)
        ]
        flooded, answer = await gw.send("PUT", presence, {"presence": "away"}, headers("ana.souza"))
        other, _ = await gw.send("PUT", presence, {"presence": "available"}, headers("bruno"))
        recorded = await gw.recorded()

    assert served == [202, 202, 202]
    assert flooded.status == 429
    assert answer["error"]["code"] == "rate_limited"
    assert int(flooded.headers["Retry-After"]) >= 1
    assert other.status == 202
    assert sorted(r.event.record["agent_id"] for r in recorded) == ["ana.souza"] * 3 + ["bruno"]


async def test_a_reply_to_an_unknown_case_or_another_contact_is_refused(start: Start) -> None:
    async with start() as gw:
        unknown, a = await gw.send("POST", "/v1/cases/case-nope/reply", {**CASE, "text": REPLY})
        elsewhere, b = await gw.send(
            "POST",
            f"/v1/cases/{CASE_ID}/transfer",
            {"contact_id": "whatsapp-other", "to_queue_id": "familia-capital"},
        )
        recorded = await gw.recorded()

    assert (unknown.status, a["error"]["code"]) == (404, "unknown_case")
    assert "case case-nope is not in the read model" in a["error"]["reason"]
    assert (elsewhere.status, b["error"]["code"]) == (409, "contact_mismatch")
    assert recorded == []


async def test_a_reply_for_an_erased_citizen_is_refused_410(
    start: Start, key_store: PostgresKeyStore
) -> None:
    await key_store.shred(CITIZEN_ID)
    async with start() as gw:
        response, answer = await gw.send(
            "POST", f"/v1/cases/{CASE_ID}/reply", {**CASE, "text": REPLY}
        )
        recorded = await gw.recorded()

    assert (response.status, answer["error"]["code"]) == (410, "citizen_erased")
    assert recorded == []


async def test_when_kafka_cannot_take_a_command_the_answer_is_503_and_a_retry_succeeds(
    start: Start, settings: Settings, topic: str
) -> None:
    absent = f"{topic}.absent"  # the broker creates no topic by itself: nothing can be written
    key = str(uuid.uuid4())
    body = {"presence": "offline"}
    try:
        async with start(to_topic=absent, publish_timeout_s=1.0) as gw:
            down, a = await gw.send("PUT", "/v1/agents/me/presence", body, headers(key=key))
            await asyncio.wait_for(ensure_topics(settings.kafka, [TopicSpec(absent, 1)]), WAIT_S)
            up, b = await gw.send("PUT", "/v1/agents/me/presence", body, headers(key=key))
            gw.topic = absent
            recorded = await gw.recorded()
    finally:
        await asyncio.wait_for(delete_topics(settings.kafka, [absent]), WAIT_S)

    assert (down.status, a["error"]["code"]) == (503, "unavailable")
    assert int(down.headers["Retry-After"]) >= 1
    assert "retry with the same Idempotency-Key" in a["error"]["reason"]
    assert up.status == 202
    assert "Idempotent-Replayed" not in up.headers  # never accepted before: published now
    assert b["event_id"] == command_event_id("ana.souza", "ChangePresence", key)
    assert {r.event.record["event_id"] for r in recorded} == {b["event_id"]}


async def test_other_wrong_requests_get_the_common_refusal_shape(start: Start) -> None:
    async with start() as gw:
        text = {**headers(), "Content-Type": "text/plain"}
        wrong_type, a = await gw.send("POST", f"/v1/cases/{CASE_ID}/close", b"resolved", text)
        wrong_method, b = await gw.send("GET", f"/v1/cases/{CASE_ID}/close", b"")
        no_route, c = await gw.send("POST", "/v1/cases/x/delete", b"{}")

    assert (wrong_type.status, a["error"]["code"]) == (415, "unsupported_media_type")
    assert (wrong_method.status, b["error"]["code"]) == (405, "method_not_allowed")
    assert wrong_method.headers["Allow"] == "POST"
    assert (no_route.status, c["error"]["code"]) == (404, "not_found")


# -- an agent's files ------------------------------------------------------------------------

PDF = b"%PDF-1.7\n" + b"procuracao ad judicia " * 50


def file_headers(
    media_type: str | None = "application/pdf", agent_id: str = "ana.souza"
) -> dict[str, str]:
    found = {"Authorization": f"Bearer {token(agent_id)}"}
    return found | ({"Content-Type": media_type} if media_type else {})


def stored_files(gw: Harness) -> list[Path]:
    root = gw.media.root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_file_is_stored_sealed_under_the_citizen_then_sent_in_a_reply(
    start: Start,
) -> None:
    sha = hashlib.sha256(PDF).hexdigest()
    path = f"/v1/cases/{CASE_ID}/files"
    async with start() as gw:
        first = await gw.client.post(
            path, params={"name": "procuração.pdf"}, data=PDF, headers=file_headers()
        )
        again = await gw.client.post(
            path, params={"name": "procuração.pdf"}, data=PDF, headers=file_headers()
        )
        described, described_again = await first.json(), await again.json()
        after_upload = await gw.recorded()
        await gw.contract.keys.load([CITIZEN_ID])
        key = gw.contract.keys.decryption_key(CITIZEN_ID)
        assert key is not None
        kept = await gw.media.get(key, described["storage_ref"])
        (sealed,) = stored_files(gw)
        response, answer = await gw.send(
            "POST", f"/v1/cases/{CASE_ID}/reply", {**CASE, "attachments": [described]}
        )
        recorded = await gw.recorded()

    assert (first.status, again.status) == (201, 201)
    assert described == {
        "attachment_id": attachment_id_for(CASE_ID, sha),
        "sha256": sha,
        "size_bytes": len(PDF),
        "media_type": "application/pdf",
        "file_name": "procuração.pdf",
        "storage_ref": storage_ref(CITIZEN_ID, sha),
    }
    assert described_again == described  # the same file is the same attachment
    assert after_upload == []  # a file alone reaches no one
    assert kept == PDF
    assert b"procuracao" not in sealed.read_bytes()  # sealed under the citizen's key
    assert response.status == 202, answer
    (reply,) = recorded
    assert reply.event.name == "SendReply"
    assert reply.event.record["text"] is None
    assert reply.event.record["attachments"] == [
        described | {"provider_media_id": None, "caption": None}
    ]


async def test_a_reply_naming_a_file_of_another_citizen_is_refused_400(start: Start) -> None:
    sha = hashlib.sha256(PDF).hexdigest()
    foreign = {
        "attachment_id": attachment_id_for(CASE_ID, sha),
        "sha256": sha,
        "size_bytes": len(PDF),
        "media_type": "application/pdf",
        "file_name": "laudo.pdf",
        "storage_ref": storage_ref("citizen-other", sha),
    }
    async with start() as gw:
        response, answer = await gw.send(
            "POST", f"/v1/cases/{CASE_ID}/reply", {**CASE, "text": REPLY, "attachments": [foreign]}
        )
        recorded = await gw.recorded()

    assert response.status == 400
    assert [p["field"] for p in answer["error"]["problems"]] == ["attachments[0].storage_ref"]
    assert recorded == []


async def test_a_bad_upload_is_refused_in_the_common_shape_and_nothing_is_stored(
    start: Start, key_store: PostgresKeyStore
) -> None:
    path = f"/v1/cases/{CASE_ID}/files"
    named = {"name": "rg.pdf"}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for _ in range(5):
            yield b"x" * 256

    async with start(max_file_bytes=1024) as gw:
        post = gw.client.post
        answers = {
            "declared": await post(path, params=named, data=b"x" * 1025, headers=file_headers()),
            "streamed": await post(path, params=named, data=chunks(), headers=file_headers()),
            "unknown": await post(
                "/v1/cases/case-nope/files", params=named, data=PDF[:100], headers=file_headers()
            ),
            "empty": await post(path, params=named, data=b"", headers=file_headers()),
            "path": await post(
                path, params={"name": "../rg.pdf"}, data=b"x", headers=file_headers()
            ),
            "no name": await post(path, data=b"x", headers=file_headers()),
            "long name": await post(
                path, params={"name": "a" * 256}, data=b"x", headers=file_headers()
            ),
            "container": await post(
                path, params=named, data=b"x", headers=file_headers("multipart/mixed")
            ),
            "no token": await post(
                path, params=named, data=b"x", headers={"Content-Type": "application/pdf"}
            ),
        }
        refused = {k: (r.status, await r.json()) for k, r in answers.items()}
        nothing_stored = stored_files(gw)
        await key_store.shred(CITIZEN_ID)
        erased = await post(path, params=named, data=b"x", headers=file_headers())
        erased_answer = await erased.json()
        recorded = await gw.recorded()

    codes = {k: (status, a["error"]["code"]) for k, (status, a) in refused.items()}
    assert codes == {
        "declared": (413, "too_large"),
        "streamed": (413, "too_large"),
        "unknown": (404, "unknown_case"),
        "empty": (400, "invalid_request"),
        "path": (400, "invalid_request"),
        "no name": (400, "invalid_request"),
        "long name": (400, "invalid_request"),
        "container": (400, "invalid_request"),
        "no token": (401, "missing_token"),
    }
    fields = {
        k: [p["field"] for p in a["error"].get("problems", [])] for k, (_, a) in refused.items()
    }
    assert fields["empty"] == ["body"]
    assert fields["path"] == fields["no name"] == fields["long name"] == ["name"]
    assert fields["container"] == ["Content-Type"]
    assert nothing_stored == []
    assert (erased.status, erased_answer["error"]["code"]) == (410, "citizen_erased")
    assert recorded == []


async def test_nothing_is_sent_for_a_blocked_citizen_403(
    start: Start, read_model: str, pg: Any
) -> None:
    # Blocking suspends processing (docs/privacy.md): agents see none of the citizen's
    # cases, and the gateway takes no reply, transfer, file or typing for them.
    await pg.execute(
        f'INSERT INTO "{read_model}".blocked_citizens'
        " (citizen_id, blocked, changed_at, event_id, basis, reference)"
        " VALUES ($1, true, now(), 'block-1', 'data_subject_request', 'PROT-1')",
        CITIZEN_ID,
    )
    async with start() as gw:
        reply, a = await gw.send("POST", f"/v1/cases/{CASE_ID}/reply", {**CASE, "text": REPLY})
        transfer, b = await gw.send(
            "POST", f"/v1/cases/{CASE_ID}/transfer", {**CASE, "to_queue_id": "familia-capital"}
        )
        typing, c = await gw.send("POST", f"/v1/cases/{CASE_ID}/typing", {"active": True})
        upload = await gw.client.post(
            f"/v1/cases/{CASE_ID}/files",
            params={"name": "procuração.pdf"},
            data=PDF,
            headers=file_headers(),
        )
        d = await upload.json()
        recorded = await gw.recorded()
        stored = stored_files(gw)

    for response, answer in ((reply, a), (transfer, b), (typing, c), (upload, d)):
        assert (response.status, answer["error"]["code"]) == (403, "citizen_blocked")
    assert "is blocked (LGPD)" in a["error"]["reason"]
    assert recorded == []
    assert stored == []
