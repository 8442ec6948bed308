"""The WhatsApp connector wired for one integration test: the real broker (a fresh topic for
every event the connector writes or reads), the real Postgres (a fresh ledger schema), an
in-process Graph API stand-in, and the webhook app behind aiohttp's test client."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
from aiohttp import ClientResponse, ClientSession
from aiohttp.test_utils import TestServer

from connectors.common.identity import ContactIds, ContactRef
from connectors.common.inbound import Inbound
from connectors.common.lean_http import LeanServer, with_health
from connectors.common.ledger import Ledger
from connectors.common.media import FileMediaStore
from connectors.common.outbound import Backoff, Outbound
from connectors.whatsapp.config import WhatsAppSettings
from connectors.whatsapp.deliver import WhatsAppDeliverer
from connectors.whatsapp.graph_client import GraphClient
from connectors.whatsapp.webhook import PATH, Webhook
from schemas.events import MessageSent
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import make_producer
from streams.shared.settings import Secret, Settings
from tests.standins.graph_api import PHONE_NUMBER_ID, TOKEN, StandInGraph, create_app, signed

APP_SECRET: Final = b"test-app-secret-0123456789"
VERIFY_TOKEN: Final = "verify-token-of-the-office"
CITIZEN: Final = "5511987654321"
VERSION: Final = "v21.0"
WAIT_S: Final = 60.0
EVENTS: Final = ("MessageReceived", "MessageSent", "DeliveryStatusChanged", "InputDeadLettered")


def routes(topic: str) -> dict[str, TopicRoute]:
    """Every event the connector writes or reads, on the test's own topic."""
    keys = {"InputDeadLettered": "processor"}
    return {name: TopicRoute(topic, keys.get(name, "contact_id")) for name in EVENTS}


@dataclass
class Rig:
    settings: Settings
    contract: Contract
    topic: str
    config: WhatsAppSettings
    graph: StandInGraph
    graph_client: GraphClient
    ledger: Ledger
    media: FileMediaStore
    contacts: ContactIds
    producer: Any
    inbound: Inbound
    webhook: Webhook
    client: ClientSession  # the webhook's server, as its base URL
    server: LeanServer
    processor: str
    slept: list[float] = field(default_factory=list)

    @property
    def citizen(self) -> ContactRef:
        return self.contacts.contact("whatsapp", CITIZEN)

    async def post(self, payload: Any) -> ClientResponse:
        """A webhook POST signed as Meta signs it."""
        body, headers = signed(payload, APP_SECRET)
        return await self.client.post(PATH, data=body, headers=headers)

    async def post_raw(self, body: bytes, headers: dict[str, str]) -> ClientResponse:
        return await self.client.post(PATH, data=body, headers=headers)

    async def events(self) -> list[tuple[str, dict[str, Any]]]:
        """(type, record) of every event now in the topic, in no particular order."""
        got = await read_topic(self.settings.kafka, self.contract.decode, self.topic)
        assert all(isinstance(g, Received) for g in got), (
            "the topic holds a record that is no event"
        )
        return [(g.event.name, g.event.record) for g in got if isinstance(g, Received)]

    async def of(self, name: str) -> list[dict[str, Any]]:
        return [record for kind, record in await self.events() if kind == name]

    def outbound(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_attempts: int = 8,
    ) -> Outbound:
        """An outbound loop on the test's topic; its backoff waits are recorded in
        `slept`, not slept."""

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        deliverer = WhatsAppDeliverer(
            self.graph_client,
            self.ledger,
            self.config.phone_number_ids,
            keys=self.contract.keys,
            media=self.media,
            clock=clock,
        )
        return Outbound(
            self.settings,
            self.contract,
            self.producer,
            deliverer,
            self.ledger,
            processor=self.processor,
            topic=self.topic,
            routes=routes(self.topic),
            backoff=Backoff(max_attempts=max_attempts),
            clock=clock,
            sleep=sleep,
        )

    def reply(self, message_id: str, **overrides: Any) -> MessageSent:
        """An agent's free-form reply to the citizen, unless overridden."""
        now = datetime.now(UTC)
        fields: dict[str, Any] = {
            "event_id": f"evt-{message_id}",
            "occurred_at": now,
            "correlation_id": f"flow-{message_id}",
            "subject_id": self.citizen.subject_id,
            "channel": "whatsapp",
            "contact_id": self.citizen.contact_id,
            "contact_address": "+" + CITIZEN,
            "channel_account_id": PHONE_NUMBER_ID,
            "message_id": message_id,
            "sender_kind": "agent",
            "agent_id": "agent-7",
            "text": "Bom dia! Recebemos seus documentos.",
            "sent_at": now,
        }
        return MessageSent(**(fields | overrides))

    async def publish(self, *messages: MessageSent) -> None:
        publisher = self.contract.publisher(
            self.producer, source="/acolhe/test", routes=routes(self.topic)
        )
        await publisher.publish_many([(m.NAME, m.to_record()) for m in messages])


async def deliver_until(outbound: Outbound, done: Callable[[], bool]) -> None:
    """Run the loop's batches until `done()` holds (or the test's wait runs out)."""
    async with asyncio.timeout(WAIT_S):
        while not done():
            await outbound.step(timeout_ms=200)


def settings_for(graph_url: str, media_dir: Path, **overrides: Any) -> WhatsAppSettings:
    fields: dict[str, Any] = {
        "app_secret": Secret(APP_SECRET.decode()),
        "verify_token": Secret(VERIFY_TOKEN),
        "access_token": Secret(TOKEN),
        "phone_number_ids": (PHONE_NUMBER_ID,),
        "graph_url": graph_url,
        "api_version": VERSION,
        "media_dir": media_dir,
        "max_media_bytes": 64 * 1024,
        "max_body_bytes": 256 * 1024,
        "graph_timeout_s": 10,
    }
    return WhatsAppSettings(**(fields | overrides))


@asynccontextmanager
async def standin_graph() -> AsyncIterator[tuple[StandInGraph, str]]:
    """The Graph API stand-in on a free local port, and its base URL."""
    state = StandInGraph()
    server = TestServer(create_app(state), host="127.0.0.1")
    await server.start_server()
    try:
        yield state, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@asynccontextmanager
async def open_rig(
    settings: Settings, contract: Contract, topic: str, schema: str, media_dir: Path
) -> AsyncIterator[Rig]:
    async with (
        standin_graph() as (graph, url),
        asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=4) as pool,
    ):
        config = settings_for(url, media_dir)
        ledger = Ledger(pool, "whatsapp", schema=schema)
        await ledger.create_tables()
        graph_client = GraphClient(url, VERSION, config.access_token, timeout_s=10)
        await graph_client.start()
        producer = make_producer(settings.kafka)
        await producer.start()
        processor = f"connectors.whatsapp.test-{uuid.uuid4().hex[:8]}"
        inbound = Inbound(
            contract, producer, processor=processor, ledger=ledger, routes=routes(topic)
        )
        media = FileMediaStore(media_dir, max_bytes=config.max_media_bytes)
        contacts = ContactIds(os.urandom(32))
        webhook = Webhook(
            config,
            inbound=inbound,
            graph=graph_client,
            media=media,
            keys=contract.keys,
            contacts=contacts,
            ledger=ledger,
        )
        server = LeanServer(
            with_health(webhook.routes()), connector="whatsapp", limits=webhook.limits()
        )
        await server.start("127.0.0.1", 0)
        client = ClientSession(base_url=f"http://127.0.0.1:{server.port}")
        try:
            yield Rig(
                settings,
                contract,
                topic,
                config,
                graph,
                graph_client,
                ledger,
                media,
                contacts,
                producer,
                inbound,
                webhook,
                client,
                server,
                processor,
            )
        finally:
            await client.close()
            await server.close()
            await producer.stop()
            await graph_client.close()
