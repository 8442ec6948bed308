"""`acolhe run whatsapp`: the WhatsApp Cloud API connector as one asyncio service.

Steps of `serve`, in order:
1. read the WhatsApp settings (a missing variable stops here, naming it);
2. open the connectors' ledger in Postgres (tables created if missing), start the
   idempotent producer and the Graph API client;
3. serve the webhook (`webhook.Webhook`: handshake, messages and statuses in) and run the
   outbound loop (`Outbound` with the `WhatsAppDeliverer`: MessageSent of the channel
   out), side by side, until `stop` is set or either fails;
4. on the way out, in reverse: the HTTP server finishes the requests in flight, the loop
   stops consuming (its last batch committed only when it was delivered), the Graph API
   client, the producer (flushing what it holds), the ledger's pending notes of the
   contacts' last messages, and its pool close.

`routes`, `topic` and `ledger_schema` point the service elsewhere than the catalog's
topics and the shared ledger schema (tests, demos).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from connectors.common.identity import ContactIds
from connectors.common.inbound import Inbound
from connectors.common.lean_http import LeanServer, with_health
from connectors.common.lean_http import serve as serve_http
from connectors.common.ledger import SCHEMA, Ledger
from connectors.common.lifecycle import stop_all_on_failure
from connectors.common.media import FileMediaStore
from connectors.common.outbound import TOPIC, Backoff, Outbound
from connectors.whatsapp.config import WhatsAppSettings
from connectors.whatsapp.deliver import WhatsAppDeliverer
from connectors.whatsapp.graph_client import GraphClient
from connectors.whatsapp.mapping import CHANNEL
from connectors.whatsapp.webhook import Webhook
from schemas.catalog import WHATSAPP
from streams.shared.contract import Contract
from streams.shared.events import EventRoute
from streams.shared.kafka import make_producer
from streams.shared.postgres import create_pool
from streams.shared.settings import Settings

log = logging.getLogger(__name__)
PROCESSOR = WHATSAPP
DEFAULT_BACKOFF = Backoff()


async def serve(
    settings: Settings,
    contract: Contract,
    stop: asyncio.Event,
    *,
    routes: Mapping[str, EventRoute] | None = None,
    topic: str = TOPIC,
    ledger_schema: str = SCHEMA,
    processor: str = PROCESSOR,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> None:
    """Steps 1-4 of the module docstring; returns once stopped."""
    config = WhatsAppSettings.from_env(settings.env, state_dir=settings.stack.state_dir)
    pool = await create_pool(settings.postgres)
    producer = make_producer(settings.kafka)
    graph = GraphClient(
        config.graph_url,
        config.api_version,
        config.access_token,
        timeout_s=config.graph_timeout_s,
    )
    outbound: Outbound | None = None
    ledger = Ledger(pool, CHANNEL, schema=ledger_schema)
    try:
        await ledger.create_tables()
        await producer.start()
        await graph.start()
        inbound = Inbound(contract, producer, processor=processor, ledger=ledger, routes=routes)
        media = FileMediaStore(config.media_dir, max_bytes=config.max_media_bytes)
        webhook = Webhook(
            config,
            inbound=inbound,
            graph=graph,
            media=media,
            keys=contract.keys,
            contacts=ContactIds(settings.contact_id_key()),
            ledger=ledger,
        )
        outbound = Outbound(
            settings,
            contract,
            producer,
            WhatsAppDeliverer(
                graph, ledger, config.phone_number_ids, keys=contract.keys, media=media
            ),
            ledger,
            processor=processor,
            topic=topic,
            routes=routes,
            backoff=backoff,
        )
        await outbound.start()
        log.info(
            "started",
            extra={
                "service": "whatsapp",
                "host": config.host,
                "port": config.port,
                "accounts": len(config.phone_number_ids),
            },
        )
        async with asyncio.TaskGroup() as tasks:
            server = LeanServer(
                with_health(webhook.routes()), connector=CHANNEL, limits=webhook.limits()
            )
            tasks.create_task(serve_http(server, config.host, config.port, stop))
            tasks.create_task(stop_all_on_failure(outbound.run(stop), stop))
    finally:
        if outbound is not None:
            await outbound.stop()
        await graph.close()
        await producer.stop()
        try:
            await ledger.flush()
        except Exception:  # best effort: the contacts' last messages are in the log
            log.warning("could not write the contacts' last messages", exc_info=True)
        await pool.close()
