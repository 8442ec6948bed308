"""What every connector's HTTP face shares (aiohttp): answers that say what was wrong, in one
JSON shape; a body size limit checked before the body is read; liveness and Prometheus
metrics; and serving an application until the connector is told to stop.

Every refusal is `{"error": {"code": ..., "reason": ...}}` with the HTTP status that fits
(400 malformed, 401/403 authentication, 404, 413 too large, 415, 429 with Retry-After,
503 while Kafka is unreachable): a client, or an operator reading logs, learns why.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

log = logging.getLogger(__name__)
MAX_BODY_BYTES: Final = 1024 * 1024

REQUESTS = Counter(
    "acolhe_connector_requests_total",
    "HTTP requests a connector answered, by connector, route and status.",
    ["connector", "route", "status"],
)
ACCEPT_SECONDS = Histogram(
    "acolhe_connector_accept_seconds",
    "From a request's arrival to its answer, accepted inputs only (durable in Kafka).",
    ["connector"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


@functools.lru_cache(maxsize=256)
def requests_counter(connector: str, route: str, status: int) -> Any:
    """REQUESTS of one connector, route and status (prometheus's `labels` looks the child
    up under a lock on every call: a busy connector asks once)."""
    return REQUESTS.labels(connector, route, str(status))


def refusal(
    status: int, code: str, reason: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A refusal in the connectors' JSON shape."""
    return web.json_response(
        {"error": {"code": code, "reason": reason}}, status=status, headers=headers
    )


def too_many(reason: str, retry_after_s: float) -> web.Response:
    seconds = max(1, math.ceil(retry_after_s))
    return refusal(429, "rate_limited", reason, headers={"Retry-After": str(seconds)})


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes | web.Response:
    """The raw body, or a 413 refusal: a declared length above `limit` is refused before a
    byte is read; an undeclared (chunked) one is read up to `limit` and no further."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return refusal(
            413, "too_large", f"body of {declared} bytes is above the {limit}-byte limit"
        )
    if declared is not None:
        # aiohttp reads exactly the declared length (the app's client_max_size is the
        # limit too), in one call.
        return await request.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return refusal(413, "too_large", f"body is above the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def base_app(*, client_max_size: int = MAX_BODY_BYTES) -> web.Application:
    """An application with /healthz and /metrics, and aiohttp's own body cap set to ours."""
    app = web.Application(client_max_size=client_max_size)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(app: web.Application, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve `app` until `stop` is set; then stop taking connections and finish the
    requests in flight (aiohttp's graceful shutdown)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening", extra={"host": host, "port": port})
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
