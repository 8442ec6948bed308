"""The web chat on two replicas, against the real Kafka and PostgreSQL: what one replica
records in a session (an agent's reply it delivered, a visitor's message it took) reaches
the sockets of that session held by the other, live, once, in order; and what was recorded
while a replica's listener was cut off reaches its sockets when it listens again.

Each replica is a whole connector (app, hub, session store, listener, Outbound loop) on the
test's topic and schema, sharing the signing and contact keys as real replicas do. Replies
go through one replica's deliverer only: the two rigs' Outbound loops read the topic in
consumer groups of their own, and both would deliver a reply published there."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from connectors.common.outbound import Sent
from schemas.events import MessageSent
from streams.shared.contract import Contract
from streams.shared.postgres import connect
from streams.shared.settings import Settings
from tests.integration.connectors.webchat_rig import (
    WAIT_S,
    Keys,
    WebChatRig,
    agent_reply,
    message,
    next_frame,
    running_webchat,
    send,
)

pytestmark = pytest.mark.timeout(120)


@contextlib.asynccontextmanager
async def _replicas(
    settings: Settings,
    contract: Contract,
    topic: str,
    schema: str,
    *,
    connect_a: Callable[[], Awaitable[Any]] | None = None,
) -> AsyncIterator[tuple[WebChatRig, WebChatRig]]:
    """Replicas A and B of one connector: the same topic, schema and keys."""
    keys = Keys()
    async with (
        running_webchat(
            settings, contract, topic, schema, keys=keys, connect_listener=connect_a
        ) as a,
        running_webchat(settings, contract, topic, schema, keys=keys) as b,
    ):
        yield a, b


async def _tab(rig: WebChatRig, token: str) -> Any:
    """A widget's socket on this replica, once the replica holds it (its answer to a frame
    comes after the socket is in the replica's hub)."""
    ws = await rig.connect(token)
    await send(ws, {"type": "resume", "last_seen_seq": 0})
    await send(ws, {"type": "nope"})
    assert (await next_frame(ws))["code"] == "unknown_type"
    return ws


async def _nothing_more(ws: Any) -> str:
    """The code of the answer to an unknown frame: `unknown_type` when no other frame was
    waiting before it."""
    await send(ws, {"type": "nope"})
    return str((await next_frame(ws)).get("code"))


def _reply(rig: WebChatRig, token: str, text: str) -> MessageSent:
    claims = rig.claims(token)
    contact = rig.chat.contact_ids.contact("web_chat", claims.visitor_id)
    return agent_reply(
        contact.contact_id, contact.subject_id, claims.visitor_id, claims.session_id, text
    )


async def test_a_reply_delivered_by_one_replica_reaches_the_visitor_on_the_other_live_once(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with _replicas(settings, contract, topic, pg_schema) as (a, b):
        token = await a.new_token()
        ws = await _tab(a, token)
        await send(ws, message("c-1", "Fui despejada hoje"))
        ack = await next_frame(ws)

        reply = _reply(a, token, "Olá, sou a defensora. Pode me contar mais?")
        delivered = await b.deliverer.deliver(reply)
        redelivered = await b.deliverer.deliver(reply)  # Kafka may hand it over twice
        pushed = await next_frame(ws)
        after = await _nothing_more(ws)
        await ws.close()

    assert ack["seq"] == 1
    assert delivered == redelivered == Sent(provider_message_id=reply.message_id)
    assert (pushed["type"], pushed["seq"], pushed["message_id"], pushed["sender"]) == (
        "message",
        2,
        reply.message_id,
        "agent",
    )
    assert pushed["text"] == "Olá, sou a defensora. Pode me contar mais?"
    assert after == "unknown_type"  # the reply came once, and the visitor's message not back


async def test_a_visitor_with_a_tab_on_each_replica_sees_each_message_on_both(
    settings: Settings, contract: Contract, topic: str, pg_schema: str
) -> None:
    async with _replicas(settings, contract, topic, pg_schema) as (a, b):
        token = await a.new_token()
        tab_a, tab_b = await _tab(a, token), await _tab(b, token)

        await send(tab_a, message("c-1", "Estou no celular e no computador"))
        ack = await next_frame(tab_a)
        echoed = await next_frame(tab_b)
        async with b.http.post(
            f"{b.url}/webchat/messages",
            data=b'{"type":"message","client_message_id":"h-1","text":"Pelo navegador antigo"}',
            headers={"Origin": b.origin, "Authorization": f"Bearer {token}"},
        ) as response:
            fallback_status = response.status
        on_a = await next_frame(tab_a)
        on_b = await next_frame(tab_b)
        tails = [await _nothing_more(tab_a), await _nothing_more(tab_b)]
        await tab_a.close()
        await tab_b.close()

    assert (ack["type"], ack["client_message_id"], ack["seq"]) == ("ack", "c-1", 1)
    assert (echoed["type"], echoed["seq"], echoed["sender"]) == ("message", 1, "visitor")
    assert (echoed["message_id"], echoed["client_message_id"]) == (ack["message_id"], "c-1")
    assert echoed["text"] == "Estou no celular e no computador"
    assert fallback_status == 200
    for pushed in (on_a, on_b):
        assert (pushed["seq"], pushed["client_message_id"]) == (2, "h-1")
        assert pushed["text"] == "Pelo navegador antigo"
    assert tails == ["unknown_type", "unknown_type"]  # each tab got each message once


class _Gate:
    """The database as the listener of replica A reaches it: `closed()` keeps A's next
    connection attempt waiting (and says it came) until `opened()`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._open = asyncio.Event()
        self._open.set()
        self.knocked = asyncio.Event()

    async def connect(self) -> Any:
        self.knocked.set()
        await self._open.wait()
        return await connect(self._settings.postgres)

    def closed(self) -> None:
        self._open.clear()
        self.knocked.clear()

    def opened(self) -> None:
        self._open.set()


async def test_a_reply_recorded_while_a_replica_listened_to_nothing_reaches_it_after(
    settings: Settings, contract: Contract, topic: str, pg_schema: str, pg: Any
) -> None:
    gate = _Gate(settings)
    async with _replicas(settings, contract, topic, pg_schema, connect_a=gate.connect) as (a, b):
        token = await a.new_token()
        ws = await _tab(a, token)
        await send(ws, message("c-1", "Meu pai precisa de um remédio"))
        assert (await next_frame(ws))["seq"] == 1

        gate.closed()
        try:
            await pg.execute("SELECT pg_terminate_backend($1)", a.notices.pid)
            async with asyncio.timeout(WAIT_S):
                await gate.knocked.wait()  # A lost its listener and is trying again
            listening_meanwhile = a.notices.listening.is_set()
            reply = _reply(a, token, "Qual remédio?")
            delivered = await b.deliverer.deliver(reply)
            recorded = await a.store.latest_seq(a.claims(token).session_id)
        finally:
            gate.opened()
        pushed = await next_frame(ws)  # the same socket: the widget did not reconnect
        after = await _nothing_more(ws)
        await ws.close()

    assert listening_meanwhile is False
    assert delivered == Sent(provider_message_id=reply.message_id)
    assert recorded == 2
    assert (pushed["seq"], pushed["message_id"], pushed["text"]) == (
        2,
        reply.message_id,
        "Qual remédio?",
    )
    assert after == "unknown_type"
