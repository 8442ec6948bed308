"""`acolhe run webchat`: the web chat connector as one service.

Steps of `serve`, in order:
1. read the web chat's settings (ConfigurationError names what is missing);
2. open PostgreSQL (the session tables, the connectors' ledger), the media store (visitors'
   and agents' files, sealed) and the idempotent producer;
3. run together until `stop` is set: the HTTP/WebSocket API, the Outbound loop that
   delivers the office's web chat messages to the sessions, the listener that hears of
   every message recorded by any replica and pushes it to the sockets held here
   (connectors.webchat.listener: so the service runs on as many replicas as wanted), and
   the hourly deletion of sessions idle longer than the retention;
4. on stop: the API stops taking connections and closes the open sockets with 1001 (the
   widgets reconnect and resume), the Outbound loop finishes its batch, the listener's
   connection closes, then the producer flushes and the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from connectors.common.http import serve as serve_http
from connectors.common.identity import ContactIds
from connectors.common.inbound import Inbound
from connectors.common.ledger import Ledger
from connectors.common.media import FileMediaStore
from connectors.common.outbound import TOPIC, Outbound
from connectors.webchat.app import create_app
from connectors.webchat.chat import WebChat
from connectors.webchat.config import WebChatSettings
from connectors.webchat.deliver import WebChatDeliverer
from connectors.webchat.indicators import AgentTyping
from connectors.webchat.listener import NoticeListener
from connectors.webchat.live import Hub
from connectors.webchat.mapping import CHANNEL
from connectors.webchat.sessions import SessionStore
from connectors.webchat.uploads import VisitorFiles
from streams.shared.contract import Contract
from streams.shared.events import EventRoute
from streams.shared.kafka import make_producer
from streams.shared.postgres import connect, create_pool
from streams.shared.settings import Settings

log = logging.getLogger(__name__)
PROCESSOR: Final = "acolhe.connectors.webchat"
PURGE_EVERY_S: Final = 3600.0


async def serve(
    settings: Settings,
    contract: Contract,
    stop: asyncio.Event,
    *,
    topic: str = TOPIC,
    routes: Mapping[str, EventRoute] | None = None,
) -> None:
    """Steps 1-4 of the module's docstring. `topic` and `routes` (the catalog's by default)
    move what the service reads and writes elsewhere (tests: a fresh topic each)."""
    web_settings = WebChatSettings.from_env(settings.env, state_dir=settings.stack.state_dir)
    pool = await create_pool(settings.postgres, max_size=8)
    producer = make_producer(settings.kafka)
    try:
        store = SessionStore(pool, contract.keys, schema=web_settings.schema)
        await store.create_tables()
        ledger = Ledger(pool, CHANNEL)
        await ledger.create_tables()
        await producer.start()
        hub = Hub()
        listener = NoticeListener(store, hub, lambda: connect(settings.postgres))
        chat = WebChat(
            settings=web_settings,
            inbound=Inbound(contract, producer, processor=PROCESSOR, ledger=ledger, routes=routes),
            store=store,
            contact_ids=ContactIds(settings.contact_id_key()),
            typing=AgentTyping(pool, read_model_schema=web_settings.read_model_schema),
            files=VisitorFiles(
                contract.keys,
                FileMediaStore(web_settings.media_dir, max_bytes=web_settings.max_file_bytes),
                accepted=web_settings.file_types,
                max_bytes=web_settings.max_file_bytes,
            ),
        )
        outbound = Outbound(
            settings,
            contract,
            producer,
            WebChatDeliverer(store, hub),
            ledger,
            processor=PROCESSOR,
            topic=topic,
            routes=routes,
        )
        await outbound.start()
        log.info(
            "web chat started",
            extra={"site_id": web_settings.site_id, "port": web_settings.port},
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                app = create_app(chat, hub)
                tasks.create_task(serve_http(app, web_settings.host, web_settings.port, stop))
                tasks.create_task(outbound.run(stop))
                tasks.create_task(listener.run(stop))
                tasks.create_task(_purge(store, web_settings, stop))
        finally:
            await outbound.stop()
    finally:
        await producer.stop()
        await pool.close()


async def _purge(store: SessionStore, settings: WebChatSettings, stop: asyncio.Event) -> None:
    """Delete sessions idle longer than the retention, now and every hour."""
    while not stop.is_set():
        try:
            gone = await store.forget_idle(datetime.now(UTC) - settings.retention)
        except Exception:  # the next round tries again; the chat works meanwhile
            log.warning("could not delete idle web chat sessions", exc_info=True)
        else:
            if gone:
                log.info("idle web chat sessions deleted", extra={"sessions": gone})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_EVERY_S)
