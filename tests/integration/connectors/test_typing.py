"""Typing indicators both ways, against the real PostgreSQL (and the web chat's real Kafka
topic): given a visitor on the web chat and their case in the read model, when the case's
agent types through the gateway, then the visitor's widget shows it; when the visitor
types, then the agent's app hears a `typing` change on its live-updates channel. Nothing is
shown for a case of another channel, another agent's case, or a closed one.

"Nothing was sent" is checked without sleeping: notifications arrive in the order they
were sent, so once a later one arrives, an earlier one would have arrived before it."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from connectors.common.inbound import Inbound
from connectors.common.media import FileMediaStore
from connectors.gateway.app import Gateway, make_app
from connectors.gateway.commands import SOURCE
from connectors.gateway.config import GatewaySettings
from connectors.gateway.indicator import TypingIndicator
from connectors.gateway.store import CaseDirectory, IdempotencyKeys, WebChatSessions
from connectors.gateway.uploads import FileIntake
from connectors.webchat.limits import RateLimiter
from streams.projections.live import Change, Changes, listening
from streams.projections.migrations import migrate
from streams.shared.contract import Contract
from streams.shared.kafka import make_producer
from streams.shared.postgres import connect
from streams.shared.settings import Settings
from tests.integration.connectors.test_gateway import CURRENT, token
from tests.integration.connectors.webchat_rig import (
    WAIT_S,
    WebChatRig,
    next_frame,
    running_webchat,
    send,
    with_limits,
)

pytestmark = pytest.mark.timeout(120)
ANA, BIA = "ana.souza", "bia.lima"


@pytest.fixture
async def read_model(pg: Any, pg_schema: str) -> str:
    await asyncio.wait_for(migrate(pg, pg_schema), WAIT_S)
    return pg_schema


@pytest.fixture
async def webchat_schema(pg: Any, pg_schema: str) -> AsyncIterator[str]:
    """The web chat's session tables, beside the read model's schema."""
    name = f"{pg_schema}_wc"
    yield name
    await pg.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
async def webchat(
    settings: Settings, contract: Contract, topic: str, webchat_schema: str, read_model: str
) -> AsyncIterator[WebChatRig]:
    tune = with_limits(read_model_schema=read_model)
    async with running_webchat(settings, contract, topic, webchat_schema, tune=tune) as rig:
        yield rig


async def add_case(
    pg: Any,
    schema: str,
    case_id: str,
    contact_id: str,
    *,
    channel: str = "web_chat",
    agent: str | None = ANA,
    closed: bool = False,
) -> None:
    status = "closed" if closed else "assigned" if agent else "in_triage"
    await pg.execute(
        f'INSERT INTO "{schema}".cases (case_id, contact_id, citizen_id, channel, status,'
        " agent_id, opened_at, closed_at, close_reason, version)"
        " VALUES ($1, $2, 'citizen-1', $3, $4, $5, now(),"
        " CASE WHEN $6 THEN now() END, CASE WHEN $6 THEN 'resolved' END, 1)",
        case_id,
        contact_id,
        channel,
        status,
        agent,
        closed,
    )


@asynccontextmanager
async def gateway(
    settings: Settings,
    contract: Contract,
    read_model: str,
    webchat_schema: str,
) -> AsyncIterator[TestClient[Any, Any]]:
    """The agents' gateway as `acolhe run gateway` wires it, on this test's schemas."""
    config = GatewaySettings(
        token_keys=(CURRENT,),
        read_model_schema=read_model,
        schema=read_model,
        webchat_schema=webchat_schema,
    )
    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=2)
    producer = make_producer(settings.kafka)  # typing publishes nothing: never started
    media_dir = tempfile.mkdtemp(prefix="acolhe-typing-")
    try:
        cases = CaseDirectory(pool, schema=read_model)
        gw = Gateway(
            settings=config,
            inbound=Inbound(contract, producer, processor=SOURCE),
            keys=IdempotencyKeys(pool, schema=read_model, ttl=config.idempotency_ttl),
            cases=cases,
            limiter=RateLimiter(rate=1.0, burst=1000, max_keys=10),
            indicator=TypingIndicator(cases, WebChatSessions(pool, schema=webchat_schema)),
            files=FileIntake(  # typing stores no file
                cases, contract.keys, FileMediaStore(Path(media_dir)), config.max_file_bytes
            ),
        )
        async with TestClient(TestServer(make_app(gw))) as client:
            yield client
    finally:
        await pool.close()
        shutil.rmtree(media_dir, ignore_errors=True)


async def type_(
    client: TestClient[Any, Any], case_id: str, body: object, agent: str = ANA
) -> tuple[ClientResponse, dict[str, Any]]:
    response = await client.post(
        f"/v1/cases/{case_id}/typing",
        json=body,
        headers={"Authorization": f"Bearer {token(agent)}"},
    )
    return response, await response.json()


async def visitor(rig: WebChatRig) -> tuple[Any, str]:
    """A visitor's open widget socket, held by the hub (a frame was answered), and the
    visitor's contact id."""
    issued = await rig.new_token()
    ws = await rig.connect(issued)
    await send(ws, {"type": "hello"})
    assert (await next_frame(ws))["code"] == "unknown_type"
    visitor_id = rig.claims(issued).visitor_id
    return ws, rig.chat.contact_ids.contact("web_chat", visitor_id).contact_id


async def test_an_agent_typing_shows_on_the_visitors_widget_then_stops(
    pg: Any,
    settings: Settings,
    contract: Contract,
    read_model: str,
    webchat_schema: str,
    webchat: WebChatRig,
) -> None:
    ws, contact_id = await visitor(webchat)
    await add_case(pg, read_model, "case-web", contact_id)
    async with gateway(settings, contract, read_model, webchat_schema) as client:
        on, on_body = await type_(client, "case-web", {"active": True})
        first = await next_frame(ws)
        off, _ = await type_(client, "case-web", {"active": False})
        second = await next_frame(ws)
    await ws.close()

    assert (on.status, on_body) == (202, {"status": "sent", "active": True})
    assert off.status == 202
    assert first == {"type": "typing", "active": True}
    assert second == {"type": "typing", "active": False}


async def test_typing_for_another_channel_another_agent_or_no_case_is_refused_and_not_shown(
    pg: Any,
    settings: Settings,
    contract: Contract,
    read_model: str,
    webchat_schema: str,
    webchat: WebChatRig,
) -> None:
    ws, contact_id = await visitor(webchat)
    # the same contact as the visitor's: had any of these been sent, the widget would show it
    await add_case(pg, read_model, "case-wa", contact_id, channel="whatsapp")
    await add_case(pg, read_model, "case-bia", contact_id, agent=BIA)
    await add_case(pg, read_model, "case-web", contact_id)
    async with gateway(settings, contract, read_model, webchat_schema) as client:
        whatsapp, a = await type_(client, "case-wa", {"active": True})
        unknown, b = await type_(client, "case-nope", {"active": True})
        not_hers, c = await type_(client, "case-bia", {"active": True})
        bad, d = await type_(client, "case-web", {"active": "yes", "urgent": True})
        shown, _ = await type_(client, "case-web", {"active": False})
        frame = await next_frame(ws)
    await ws.close()

    assert (whatsapp.status, a["error"]["code"]) == (422, "typing_not_shown")
    assert "whatsapp" in a["error"]["reason"]
    assert (unknown.status, b["error"]["code"]) == (404, "unknown_case")
    assert (not_hers.status, c["error"]["code"]) == (403, "not_your_case")
    assert (bad.status, d["error"]["code"]) == (400, "invalid_request")
    assert {p["field"] for p in d["error"]["problems"]} == {"active", "urgent"}
    assert shown.status == 202
    assert frame == {"type": "typing", "active": False}  # the first and only one


async def test_typing_for_a_contact_without_a_web_chat_session_is_404(
    pg: Any,
    settings: Settings,
    contract: Contract,
    read_model: str,
    webchat_schema: str,
    webchat: WebChatRig,
) -> None:
    await add_case(pg, read_model, "case-gone", f"web_chat-{uuid.uuid4().hex[:8]}")
    async with gateway(settings, contract, read_model, webchat_schema) as client:
        response, answer = await type_(client, "case-gone", {"active": True})

    assert (response.status, answer["error"]["code"]) == (404, "no_web_chat_session")


async def heard_typing(changes: Changes) -> Change:
    """The next `typing` change (inserting a case tells its agent `assigned` too)."""

    async def typing() -> Change:
        async for change in changes:
            if change.change == "typing":
                return change
        raise AssertionError("the changes ended")

    return await asyncio.wait_for(typing(), WAIT_S)


async def test_a_visitor_typing_reaches_the_agent_holding_the_case_only_while_open(
    pg: Any, settings: Settings, read_model: str, webchat: WebChatRig
) -> None:
    ws, contact_id = await visitor(webchat)
    await add_case(pg, read_model, "case-old", contact_id, closed=True)
    listen = await asyncio.wait_for(connect(settings.postgres), WAIT_S)
    try:
        async with listening(listen, read_model, agent_id=ANA) as changes:
            await send(ws, {"type": "typing", "active": True})  # only a closed case: nobody
            await send(ws, {"type": "hello"})  # frames of a socket are handled in order
            assert (await next_frame(ws))["code"] == "unknown_type"
            await add_case(pg, read_model, "case-web", contact_id)
            await send(ws, {"type": "typing", "active": True})
            first = await heard_typing(changes)
            await send(ws, {"type": "typing", "active": False})
            second = await heard_typing(changes)
    finally:
        await listen.close()
    await ws.close()

    assert (first.change, first.case_id, first.active) == ("typing", "case-web", True)
    assert (first.kind, first.subject) == ("agent", ANA)
    assert (second.change, second.case_id, second.active) == ("typing", "case-web", False)


async def test_a_blocked_citizens_typing_reaches_no_agent(
    pg: Any, settings: Settings, read_model: str, webchat: WebChatRig
) -> None:
    # Blocking (docs/privacy.md): agents see nothing of the citizen's cases, so the
    # visitor's typing must not tell the agent holding one that it is live.
    ws, contact_id = await visitor(webchat)
    await add_case(pg, read_model, "case-web", contact_id)
    block = (
        f'INSERT INTO "{read_model}".blocked_citizens'
        " (citizen_id, blocked, changed_at, event_id, basis, reference)"
        " VALUES ('citizen-1', $1, now(), $2, 'data_subject_request', 'PROT-1')"
        " ON CONFLICT (citizen_id) DO UPDATE SET blocked = EXCLUDED.blocked,"
        " changed_at = EXCLUDED.changed_at, event_id = EXCLUDED.event_id"
    )
    await pg.execute(block, True, "block-1")
    listen = await asyncio.wait_for(connect(settings.postgres), WAIT_S)
    try:
        async with listening(listen, read_model, agent_id=ANA) as changes:
            await send(ws, {"type": "typing", "active": True})  # blocked: nobody is told
            await send(ws, {"type": "hello"})  # frames of a socket are handled in order
            assert (await next_frame(ws))["code"] == "unknown_type"
            await pg.execute(block, False, "unblock-1")
            await send(ws, {"type": "typing", "active": False})
            heard = await heard_typing(changes)
    finally:
        await listen.close()
    await ws.close()

    # The first typing the agent hears is the one sent after the unblock.
    assert (heard.case_id, heard.active) == ("case-web", False)
