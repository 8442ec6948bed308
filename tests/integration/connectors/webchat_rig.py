"""A running web chat connector for tests: the aiohttp app on a real port, its Outbound
loop, its listener for the messages other replicas record, the real Kafka topic of the test
and the real PostgreSQL schema of the test; and a reader that follows the topic, so a test
waits on the events it expects (never on time). Two rigs on the same topic and schema are
two replicas of the connector."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiokafka.structs import TopicPartition

from connectors.common.identity import ContactIds
from connectors.common.inbound import Inbound
from connectors.common.ledger import Ledger
from connectors.common.media import FileMediaStore
from connectors.common.outbound import Backoff, Outbound
from connectors.webchat.app import SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX, create_app
from connectors.webchat.chat import WebChat
from connectors.webchat.config import WebChatSettings
from connectors.webchat.deliver import WebChatDeliverer
from connectors.webchat.indicators import AgentTyping
from connectors.webchat.listener import NoticeListener
from connectors.webchat.live import Hub
from connectors.webchat.origins import OriginPolicy
from connectors.webchat.sessions import SessionStore
from connectors.webchat.signing import SigningKey
from connectors.webchat.tokens import VisitorClaims, issue_visitor_token
from connectors.webchat.uploads import VisitorFiles
from schemas.events import Attachment, MessageSent
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute
from streams.shared.kafka import make_consumer, make_producer, topic_partitions
from streams.shared.postgres import connect, create_pool
from streams.shared.settings import Settings

WAIT_S = 30.0
"""The longest a test waits for anything (the Outbound consumer's first group join is the
slowest step)."""
SITE = "defensoria-test"


@dataclass
class Keys:
    """What must survive a restart of the connector: its signing and contact id keys."""

    signing: SigningKey = field(default_factory=lambda: SigningKey("k1", os.urandom(32)))
    contact: bytes = field(default_factory=lambda: os.urandom(32))


@dataclass
class WebChatRig:
    url: str
    origin: str
    chat: WebChat
    store: SessionStore
    keys: Keys
    topic: str
    publisher: Any
    http: aiohttp.ClientSession
    hub: Hub
    deliverer: WebChatDeliverer
    """This replica's way out, to deliver a reply here and nowhere else (the Outbound
    loops of two rigs read the topic in groups of their own: both would deliver it)."""
    notices: NoticeListener
    media_dir: Path
    """The media store's directory (a fresh one per rig)."""

    @property
    def settings(self) -> WebChatSettings:
        return self.chat.settings

    async def new_token(self, origin: str | None = None) -> str:
        async with self.http.post(
            f"{self.url}/webchat/session", headers={"Origin": origin or self.origin}
        ) as response:
            assert response.status == 201, await response.text()
            token: str = (await response.json())["token"]
            return token

    def old_token(self, *, issued_ago: timedelta, ttl: timedelta) -> tuple[str, str]:
        """A genuine token issued `issued_ago` (to test expiry without touching any clock),
        and its visitor id."""
        visitor_id = f"v-{uuid.uuid4().hex[:12]}"
        return issue_visitor_token(
            self.keys.signing,
            visitor_id=visitor_id,
            site_id=SITE,
            session_id=f"s-{uuid.uuid4().hex[:12]}",
            issued_at=datetime.now(UTC) - issued_ago,
            ttl=ttl,
        ), visitor_id

    def claims(self, token: str) -> VisitorClaims:
        claims = self.chat.verify(token)
        assert isinstance(claims, VisitorClaims), claims
        return claims

    def connect(self, token: str | None, *, origin: str | None = None, **options: Any) -> Any:
        protocols = [SUBPROTOCOL] + ([TOKEN_PROTOCOL_PREFIX + token] if token else [])
        return self.http.ws_connect(
            f"{self.url}/webchat/ws",
            protocols=protocols,
            origin=origin or self.origin,
            **options,
        )

    async def reply(self, token: str, text: str) -> MessageSent:
        """An agent's reply to the visitor of this token."""
        claims = self.claims(token)
        contact = self.chat.contact_ids.contact("web_chat", claims.visitor_id)
        return await self.reply_to(
            contact.contact_id, contact.subject_id, claims.visitor_id, claims.session_id, text
        )

    async def reply_to(
        self,
        contact_id: str,
        subject_id: str,
        visitor_id: str,
        session_id: str,
        text: str | None,
        attachments: tuple[Attachment, ...] = (),
    ) -> MessageSent:
        sent = agent_reply(contact_id, subject_id, visitor_id, session_id, text, attachments)
        await self.publisher.publish(sent.NAME, sent.to_record())
        return sent


def agent_reply(
    contact_id: str,
    subject_id: str,
    visitor_id: str,
    session_id: str,
    text: str | None,
    attachments: tuple[Attachment, ...] = (),
) -> MessageSent:
    """An agent's reply, as the conversation processor writes it (the session is the thread
    of the contact's last message)."""
    now = datetime.now(UTC)
    event_id = f"reply-{uuid.uuid4()}"
    return MessageSent(
        event_id=event_id,
        occurred_at=now,
        correlation_id=event_id,
        subject_id=subject_id,
        channel="web_chat",
        contact_id=contact_id,
        contact_address=visitor_id,
        case_id="case-1",
        message_id=str(uuid.uuid4()),
        sender_kind="agent",
        agent_id="vd-01",
        text=text,
        attachments=attachments,
        thread_id=session_id,
        sent_at=now,
    )


def topic_routes(topic: str) -> dict[str, TopicRoute]:
    return {
        name: TopicRoute(topic, "contact_id")
        for name in ("MessageReceived", "MessageSent", "DeliveryStatusChanged")
    }


@contextlib.asynccontextmanager
async def running_webchat(
    settings: Settings,
    contract: Contract,
    topic: str,
    schema: str,
    *,
    keys: Keys | None = None,
    media_dir: Path | None = None,
    tune: Callable[[WebChatSettings], WebChatSettings] = lambda s: s,
    connect_listener: Callable[[], Awaitable[Any]] | None = None,
) -> AsyncIterator[WebChatRig]:
    """The connector as `acolhe run webchat` wires it, on the test's topic and schema.
    `connect_listener` opens the listener's connection (a test may hold it back); the media
    store is `media_dir` (a fresh temporary directory by default)."""
    keys = keys or Keys()
    own_media = media_dir is None
    media_dir = media_dir or Path(tempfile.mkdtemp(prefix="acolhe-webchat-media-"))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    web_settings = tune(
        WebChatSettings(
            site_id=SITE,
            signing_keys=(keys.signing,),
            origins=OriginPolicy([origin]),
            schema=schema,
        )
    )
    routes = topic_routes(topic)
    pool = await create_pool(settings.postgres)
    producer = make_producer(settings.kafka)
    stop = asyncio.Event()
    await producer.start()
    try:
        store = SessionStore(pool, contract.keys, schema=schema)
        await store.create_tables()
        ledger = Ledger(pool, "web_chat", schema=schema)
        await ledger.create_tables()
        processor = "test.webchat"
        hub = Hub()
        notices = NoticeListener(
            store,
            hub,
            connect_listener or (lambda: connect(settings.postgres)),
            backoff=Backoff(first_s=0.05, max_s=0.5),
        )
        deliverer = WebChatDeliverer(store, hub)
        chat = WebChat(
            settings=web_settings,
            inbound=Inbound(contract, producer, processor=processor, ledger=ledger, routes=routes),
            store=store,
            contact_ids=ContactIds(keys.contact),
            typing=AgentTyping(pool, read_model_schema=web_settings.read_model_schema),
            files=VisitorFiles(
                contract.keys,
                FileMediaStore(media_dir, max_bytes=web_settings.max_file_bytes),
                accepted=web_settings.file_types,
                max_bytes=web_settings.max_file_bytes,
            ),
        )
        outbound = Outbound(
            settings,
            contract,
            producer,
            deliverer,
            ledger,
            processor=f"{processor}.{uuid.uuid4().hex[:8]}",
            topic=topic,
            routes=routes,
            backoff=Backoff(first_s=0.1, max_s=1.0, max_attempts=3),
        )
        runner = web.AppRunner(create_app(chat, hub), access_log=None)
        await runner.setup()
        await web.SockSite(runner, listener).start()
        await outbound.start()
        delivering = asyncio.create_task(outbound.run(stop))
        listening = asyncio.create_task(notices.run(stop))
        try:
            await asyncio.wait_for(notices.listening.wait(), WAIT_S)
            async with aiohttp.ClientSession() as http:
                yield WebChatRig(
                    url=origin,
                    origin=origin,
                    chat=chat,
                    store=store,
                    keys=keys,
                    topic=topic,
                    publisher=contract.publisher(producer, source="/test/agents", routes=routes),
                    http=http,
                    hub=hub,
                    deliverer=deliverer,
                    notices=notices,
                    media_dir=media_dir,
                )
        finally:
            stop.set()
            await delivering
            await asyncio.wait_for(listening, WAIT_S)
            await outbound.stop()
            await runner.cleanup()
    finally:
        await producer.stop()
        await pool.close()
        listener.close()
        if own_media:
            shutil.rmtree(media_dir, ignore_errors=True)


class TopicReader:
    """Follows the test's topic from its start and decodes what arrives."""

    def __init__(self, settings: Settings, contract: Contract, topic: str) -> None:
        self._settings = settings
        self._contract = contract
        self._topic = topic
        self._consumer: Any = None
        self.events: list[Any] = []

    async def __aenter__(self) -> TopicReader:
        self._consumer = make_consumer(self._settings.kafka, group_id=None)
        await self._consumer.start()
        parts = await topic_partitions(self._settings.kafka, self._topic)
        assigned = [TopicPartition(self._topic, p) for p in parts]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    def of(self, name: str, **fields: object) -> list[dict[str, Any]]:
        """The records of this type read so far whose fields have these values."""
        return [
            e.record
            for e in self.events
            if e.name == name and all(e.record.get(k) == v for k, v in fields.items())
        ]

    async def wait_for(self, name: str, count: int = 1, **fields: object) -> list[dict[str, Any]]:
        """Read until at least `count` such records arrived."""

        async def enough() -> list[dict[str, Any]]:
            while len(found := self.of(name, **fields)) < count:
                await self.poll()
            return found

        return await asyncio.wait_for(enough(), WAIT_S)

    async def settle(self) -> None:
        """Read everything now in the topic (up to its end offsets as of this call)."""
        ends = await self._consumer.end_offsets(list(self._consumer.assignment()))

        async def caught_up() -> None:
            while True:
                behind = [tp for tp, end in ends.items() if await self._consumer.position(tp) < end]
                if not behind:
                    return
                await self.poll()

        await asyncio.wait_for(caught_up(), WAIT_S)

    async def poll(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for item in await self._contract.decode(records):
                assert isinstance(item, Received), f"not an event: {item}"
                self.events.append(item.event)


async def next_frame(ws: Any) -> dict[str, Any]:
    """The next frame the server sends (a text frame of JSON)."""
    msg = await asyncio.wait_for(ws.receive(), WAIT_S)
    assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
    frame: dict[str, Any] = orjson.loads(msg.data)
    return frame


async def send(ws: Any, frame: dict[str, Any]) -> None:
    await ws.send_str(orjson.dumps(frame).decode())


def message(client_id: str, text: str) -> dict[str, Any]:
    return {"type": "message", "client_message_id": client_id, "text": text}


def with_limits(**changes: Any) -> Callable[[WebChatSettings], WebChatSettings]:
    return lambda s: replace(s, **changes)


def texts(frames: Sequence[dict[str, Any]]) -> list[str]:
    return [f["text"] for f in frames]
