"""`acolhe run email`: the email connector as one asyncio service.

Steps of `serve`, in order:
1. read the email settings (a missing or invalid variable stops here, naming it);
2. open Postgres (the connectors' ledger and the IMAP positions, tables created if
   missing) and start the idempotent producer;
3. run side by side until `stop` is set or one of them fails: the SMTP listener
   (`smtp_in`), the IMAP poller when ACOLHE_EMAIL_IMAP_HOST is set (`imap_poll`), the
   outbound loop (`Outbound` with the `EmailDeliverer`: MessageSent of the channel out
   through the relay), and the HTTP face (`lean_http`: /healthz and Prometheus /metrics,
   no other route), started last so that /healthz answers only once the listener and
   the outbound loop are up;
4. on the way out, in reverse: the HTTP face finishes the requests in flight, the poller
   finishes its mail in hand, the listener stops taking connections (a session cut in the
   middle of DATA got no 250, so its sender retries), the outbound loop stops consuming
   (its last batch committed only when delivered), the producer flushes and the pool
   closes.

`routes`, `topic`, `ledger_schema` and `email_schema` point the service elsewhere than
the catalog's topics and the shared schemas (tests, demos).
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
from connectors.email.config import EmailSettings
from connectors.email.deliver import EmailDeliverer
from connectors.email.imap_poll import SCHEMA as EMAIL_SCHEMA
from connectors.email.imap_poll import ImapPoller, Positions
from connectors.email.intake import MailIntake
from connectors.email.mapping import CHANNEL
from connectors.email.smtp_in import MailHandler, listen
from connectors.email.smtp_out import SmtpRelay
from schemas.catalog import EMAIL
from streams.shared.contract import Contract
from streams.shared.events import EventRoute
from streams.shared.kafka import make_producer
from streams.shared.postgres import create_pool
from streams.shared.settings import Settings

log = logging.getLogger(__name__)
PROCESSOR = EMAIL
DEFAULT_BACKOFF = Backoff()


async def serve(
    settings: Settings,
    contract: Contract,
    stop: asyncio.Event,
    *,
    routes: Mapping[str, EventRoute] | None = None,
    topic: str = TOPIC,
    ledger_schema: str = SCHEMA,
    email_schema: str = EMAIL_SCHEMA,
    processor: str = PROCESSOR,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> None:
    """Steps 1-4 of the module docstring; returns once stopped."""
    config = EmailSettings.from_env(settings.env, state_dir=settings.stack.state_dir)
    pool = await create_pool(settings.postgres)
    producer = make_producer(settings.kafka)
    outbound: Outbound | None = None
    server: asyncio.Server | None = None
    try:
        ledger = Ledger(pool, CHANNEL, schema=ledger_schema)
        await ledger.create_tables()
        positions = Positions(pool, schema=email_schema)
        await positions.create_tables()
        await producer.start()
        media = FileMediaStore(config.media_dir, max_bytes=config.limits.max_attachment_bytes)
        # No ledger: only WhatsApp has a reply window that needs the contacts' last messages.
        inbound = Inbound(contract, producer, processor=processor, routes=routes)
        intake = MailIntake(
            inbound=inbound,
            keys=contract.keys,
            contacts=ContactIds(settings.contact_id_key()),
            media=media,
            limits=config.limits,
            max_concurrent=config.max_concurrent_mails,
        )
        relay = SmtpRelay(config.relay, local_hostname=config.domain)
        deliverer = EmailDeliverer(config, relay, ledger, keys=contract.keys, media=media)
        outbound = Outbound(
            settings,
            contract,
            producer,
            deliverer,
            ledger,
            processor=processor,
            topic=topic,
            routes=routes,
            backoff=backoff,
        )
        await outbound.start()
        server = await listen(config, MailHandler(config, intake))
        log.info(
            "started",
            extra={
                "service": "email",
                "host": config.smtp_host,
                "port": config.smtp_port,
                "http_port": config.http_port,
                "mailboxes": len(config.mailboxes),
                "imap": config.imap is not None,
            },
        )
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(stop_all_on_failure(outbound.run(stop), stop))
            if config.imap is not None:
                poller = ImapPoller(
                    config.imap, intake, positions, max_message_bytes=config.max_message_bytes
                )
                tasks.create_task(stop_all_on_failure(poller.run(stop), stop))
            face = LeanServer(with_health({}), connector=CHANNEL)
            http = serve_http(face, config.http_host, config.http_port, stop)
            tasks.create_task(stop_all_on_failure(http, stop))
            await stop.wait()
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()
        if outbound is not None:
            await outbound.stop()
        await producer.stop()
        await pool.close()
