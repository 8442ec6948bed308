"""`acolhe run gateway`: the agents' gateway as a long-running service.

Steps of `serve`, in order:
1. read the gateway's settings (ConfigurationError names a missing or bad variable);
2. start the idempotent producer (acks=all) and open a Postgres pool; create the gateway's
   table of Idempotency-Keys if missing;
3. serve the HTTP API (connectors.gateway.app) until `stop` is set, forgetting expired keys
   every hour meanwhile;
4. on stop: stop taking connections and finish the requests in flight (each waits for its
   Kafka acknowledgement), then stop the sweeper, close the pool, and stop the producer,
   which flushes what it still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Final

from connectors.common.http import serve as serve_http
from connectors.common.inbound import Inbound
from connectors.common.media import FileMediaStore
from connectors.gateway.app import Gateway, make_app
from connectors.gateway.commands import SOURCE
from connectors.gateway.config import GatewaySettings
from connectors.gateway.indicator import TypingIndicator
from connectors.gateway.store import CaseDirectory, IdempotencyKeys, WebChatSessions
from connectors.gateway.uploads import FileIntake
from connectors.webchat.limits import RateLimiter
from streams.shared.contract import Contract
from streams.shared.errors import RetriableInfrastructureError
from streams.shared.kafka import make_producer
from streams.shared.postgres import create_pool
from streams.shared.settings import Settings

log = logging.getLogger(__name__)
SWEEP_EVERY_S: Final = 3600.0


async def serve(settings: Settings, contract: Contract, stop: asyncio.Event) -> None:
    config = GatewaySettings.from_env(settings.env, state_dir=settings.stack.state_dir)
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        pool = await create_pool(settings.postgres, min_size=1, max_size=8)
        try:
            keys = IdempotencyKeys(pool, schema=config.schema, ttl=config.idempotency_ttl)
            await keys.create_table()
            cases = CaseDirectory(pool, schema=config.read_model_schema)
            gateway = Gateway(
                settings=config,
                inbound=Inbound(contract, producer, processor=SOURCE),
                keys=keys,
                cases=cases,
                limiter=RateLimiter(
                    rate=config.rate_per_s, burst=config.burst, max_keys=config.max_agents
                ),
                indicator=TypingIndicator(
                    cases, WebChatSessions(pool, schema=config.webchat_schema)
                ),
                files=FileIntake(
                    cases,
                    contract.keys,
                    FileMediaStore(config.media_dir, max_bytes=config.max_file_bytes),
                    config.max_file_bytes,
                ),
            )
            sweeper = asyncio.create_task(_sweep(keys, stop))
            try:
                await serve_http(make_app(gateway), config.host, config.port, stop)
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
        finally:
            await pool.close()
    finally:
        await producer.stop()


async def _sweep(keys: IdempotencyKeys, stop: asyncio.Event) -> None:
    """Forget expired Idempotency-Keys every SWEEP_EVERY_S until stopped."""
    while not stop.is_set():
        try:
            forgotten = await keys.forget_expired(datetime.now(UTC))
        except RetriableInfrastructureError:
            log.warning("could not forget expired Idempotency-Keys", exc_info=True)
        else:
            log.info("expired Idempotency-Keys forgotten", extra={"count": forgotten})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SWEEP_EVERY_S)
