"""A lean HTTP/1.1 server for one connector's few fixed routes, on asyncio and httptools
(llhttp, Node.js's parser): the WhatsApp webhook's face, where a process must take
thousands of small POSTs a second.

Why not aiohttp here: its request machinery (router, middlewares, StreamReader, the
Request and Response objects, a task and a writer per request) costs 140-160 µs of CPU
for a request that arrives alone, against 36 µs for this server on the same loop, with
the same do-nothing handler (`bench/bench_webhooks.py`: its "bare" and "bare lean" lines). At 3,000
webhooks/s that is a third of the core. The email connector's HTTP face (/healthz and
/metrics alone) is served by it too; the web chat (WebSockets) and the gateway stay on
aiohttp.

What it does, and refuses (each refusal is the connectors' JSON shape, then the
connection is closed):
- HTTP/1.1 with keep-alive and pipelining: requests on one connection are answered in
  order, one handler at a time; HTTP/1.0 is answered and closed.
- Routes are exact paths, each with its methods (HEAD answers a GET route without its
  body); another path is 404, another method 405 with Allow.
- Limits, all checked before the part they bound is kept: the request target (414), the
  head (431: at most `max_head_bytes` held for one head, plus one read), the number of
  header fields (431), the body (413: a declared Content-Length above the limit before a
  byte of the body is read; a chunked body as soon as it passes it), `Expect:
  100-continue` answered only for a body that fits.
- Time: a head must arrive within `head_timeout_s` of its first byte and a body within
  `body_timeout_s` after its head (else 408); an idle connection is closed after
  `keepalive_timeout_s`. A handler is not timed out here: it bounds its own calls.
- Malformed HTTP (llhttp is strict: no request smuggling through both Content-Length and
  Transfer-Encoding, no obsolete line folding, no bare LF) is 400; protocol upgrades and
  CONNECT are 400: nothing here speaks another protocol.
- At most `max_connections` at once: the next one gets 503 and is closed.
- Backpressure: a client that pipelines more than `max_pipelined` requests, or does not
  read its answers, is not read from until it catches up.
- A handler that raises is answered 500 (and logged); a client that goes away does not
  cancel its handler, whose work (a publish to Kafka) completes.
- Stopping: the listener closes, idle connections close, requests in flight are answered
  (with Connection: close) within `grace_s`, then what is left is cut.

Must not depend on any connector: handlers receive a `Request` and return an `Answer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Final, cast
from urllib.parse import parse_qsl

import httptools
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.common.http import requests_counter

log = logging.getLogger(__name__)

_REASONS: Final = {s.value: s.phrase.encode() for s in HTTPStatus}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_LINGER_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class Answer:
    """What a handler answers: status, body, its Content-Type, and any other headers."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name, value in self.headers:  # no header injection through a value we echo
            if any(c in text for text in (name, value) for c in "\r\n"):
                raise ValueError(f"header {name!r} holds a line break")
            f"{name}{value}".encode("latin-1")  # UnicodeEncodeError here, not when written


def refusal(
    status: int, code: str, reason: str, *, headers: tuple[tuple[str, str], ...] = ()
) -> Answer:
    """A refusal in the connectors' JSON shape (as `connectors.common.http.refusal`)."""
    body = orjson.dumps({"error": {"code": code, "reason": reason}})
    return Answer(status, body, "application/json; charset=utf-8", headers)


class Request:
    """One complete request: method, target, headers (names lowercased; the first of a
    repeated name wins; `raw_headers` keeps them all as sent) and the whole body."""

    __slots__ = ("body", "headers", "keep_alive", "method", "raw_headers", "target")

    def __init__(
        self,
        method: str,
        target: bytes,
        *,
        headers: dict[str, str],
        raw_headers: list[tuple[str, str]],
        body: bytes,
        keep_alive: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.raw_headers = raw_headers
        self.body = body
        self.keep_alive = keep_alive

    @property
    def path(self) -> str:
        return self._split()[0]

    @property
    def query(self) -> dict[str, str]:
        """The query string's parameters; the first of a repeated name wins."""
        found: dict[str, str] = {}
        for name, value in parse_qsl(self._split()[1], keep_blank_values=True):
            found.setdefault(name, value)
        return found

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def _split(self) -> tuple[str, str]:
        if self.target.startswith(b"/"):
            path, _, query = self.target.partition(b"?")
            return path.decode("latin-1"), query.decode("latin-1")
        url = httptools.parse_url(self.target)  # absolute-form: http://host/path?query
        return (url.path or b"/").decode("latin-1"), (url.query or b"").decode("latin-1")


Handler = Callable[[Request], Awaitable[Answer]]


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1024 * 1024
    max_target_bytes: int = 8 * 1024
    max_head_bytes: int = 32 * 1024
    max_headers: int = 100
    max_pipelined: int = 16
    max_connections: int = 1024
    head_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keepalive_timeout_s: float = 75.0


async def _health(request: Request) -> Answer:
    return Answer(200, b'{"status":"ok"}')


async def _metrics(request: Request) -> Answer:
    return Answer(200, generate_latest(), CONTENT_TYPE_LATEST)


def with_health(routes: Mapping[str, Mapping[str, Handler]]) -> dict[str, dict[str, Handler]]:
    """`routes` and /healthz and /metrics, as every connector serves them."""
    return {
        "/healthz": {"GET": _health},
        "/metrics": {"GET": _metrics},
        **{path: dict(methods) for path, methods in routes.items()},
    }


class _Refused(Exception):
    """Raised in a parser callback: answer this, then close."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


class LeanServer:
    """Serves `routes` ({path: {method: handler}}) with `limits`; `connector` names the
    refusals this layer makes itself in acolhe_connector_requests_total (route "http")."""

    def __init__(
        self,
        routes: Mapping[str, Mapping[str, Handler]],
        *,
        connector: str,
        limits: Limits = Limits(),
        grace_s: float = 20.0,  # inside Kubernetes' 30 s, with the producer's flush after it
    ) -> None:
        self.routes = {path: dict(methods) for path, methods in routes.items()}
        self.limits = limits
        self.connector = connector
        self.grace_s = grace_s
        self.connections: set[_Connection] = set()
        self.is_closing = False
        self.date = b""
        self.handlers: set[asyncio.Task[None]] = set()  # running, their client there or not
        self._server: asyncio.Server | None = None
        self._emptied = asyncio.Event()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._tick(loop.time())
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        self._sweeper = loop.create_task(self._sweep())

    async def close(self) -> None:
        """Stop listening; close idle connections; let requests in flight be answered
        within `grace_s` (and handlers whose client went away finish); then cut what is left."""
        deadline = asyncio.get_running_loop().time() + self.grace_s
        self.is_closing = True
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close_if_idle()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._emptied.wait(), self.grace_s)
        if self.handlers:
            left = deadline - asyncio.get_running_loop().time()
            await asyncio.wait(self.handlers, timeout=max(left, 0.0))
        for connection in list(self.connections):
            connection.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None:
            await self._server.wait_closed()

    def forget(self, connection: _Connection) -> None:
        self.connections.discard(connection)
        if self.is_closing and not self.connections:
            self._emptied.set()

    def refused(self, status: int) -> None:
        requests_counter(self.connector, "http", status).inc()

    def _tick(self, now: float) -> None:
        self.date = b"Date: " + formatdate(usegmt=True).encode() + b"\r\n"
        for connection in list(self.connections):
            connection.check_time(now)

    async def _sweep(self) -> None:
        """Once a second: the Date header, and the connections past their deadline."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            try:
                self._tick(loop.time())
            except Exception:  # the sweeper must outlive any one connection's trouble
                log.exception("http sweeper")


class _Connection(asyncio.Protocol):
    """One client connection: parse, queue, answer in order."""

    def __init__(self, server: LeanServer) -> None:
        self._server = server
        self._limits = server.limits
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._queue: deque[Request | Answer] = deque()
        self._is_busy = False
        self._is_done = False  # a final answer is queued or written: parse nothing more
        self._is_lingering = False  # answered and shut: what still comes is dropped
        self._in_head = True
        self._in_message = False  # from a request's first byte to its end
        self._head_seen = 0
        self._turns = 0  # heads begun and messages completed: has the parser moved on?
        self._write_paused = False
        self._read_paused = False
        self._deadline = self._loop.time() + self._limits.keepalive_timeout_s
        self._target = b""
        self._headers: dict[str, str] = {}
        self._raw: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio's classes: no isinstance here
        self._transport = cast(asyncio.Transport, transport)
        if len(self._server.connections) >= self._limits.max_connections or (
            self._server.is_closing
        ):
            self._finish(refusal(503, "busy", "too many connections; retry later"))
            return
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.forget(self)
        self._transport = None
        self._is_done = True
        self._queue.clear()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self._is_done:
            return
        try:
            self._feed_bounded(data)
        except _Refused as exc:  # the head bound, checked outside the parser
            self._finish(exc.answer)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refused):
                self._finish(cause.answer)
            else:  # our own callback failed: a bug, not the client's fault
                log.error("http parser callback failed", exc_info=cause)
                self._finish(refusal(500, "internal", "the request could not be read"))
        except httptools.HttpParserUpgrade:
            self._finish(_no_upgrade())
        except httptools.HttpParserError as exc:
            self._finish(refusal(400, "bad_http", f"malformed HTTP request: {exc}"))

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_message = True
        self._turns += 1
        self._target = b""
        self._headers = {}
        self._raw = []
        self._body = []
        self._size = 0
        self._deadline = self._loop.time() + self._limits.head_timeout_s

    def on_url(self, url: bytes) -> None:
        self._target += url
        if len(self._target) > self._limits.max_target_bytes:
            raise _Refused(
                refusal(
                    414,
                    "target_too_long",
                    f"request target above {self._limits.max_target_bytes} bytes",
                )
            )

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self._raw) >= self._limits.max_headers:
            raise _Refused(
                refusal(
                    431, "too_many_headers", f"more than {self._limits.max_headers} header fields"
                )
            )
        field = name.decode("latin-1")
        text = value.decode("latin-1")
        self._raw.append((field, text))
        self._headers.setdefault(field.lower(), text)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._deadline = self._loop.time() + self._limits.body_timeout_s
        if self._parser.should_upgrade():
            raise _Refused(_no_upgrade())
        declared = self._headers.get("content-length")
        limit = self._limits.max_body_bytes
        if declared is not None and int(declared) > limit:  # llhttp checked the digits
            raise _Refused(
                refusal(
                    413, "too_large", f"body of {declared} bytes is above the {limit}-byte limit"
                )
            )
        expect = self._headers.get("expect")
        if (
            expect is not None
            and expect.lower() == "100-continue"
            and not self._is_busy
            and not self._queue
            and self._transport is not None
        ):
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._limits.max_body_bytes:
            raise _Refused(
                refusal(
                    413, "too_large", f"body is above the {self._limits.max_body_bytes}-byte limit"
                )
            )
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._turns += 1
        self._in_message = False
        method = self._parser.get_method().decode("ascii")
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        keep_alive = self._parser.should_keep_alive() and self._parser.get_http_version() == "1.1"
        self._queue.append(
            Request(
                method,
                self._target,
                headers=self._headers,
                raw_headers=self._raw,
                body=body,
                keep_alive=keep_alive,
            )
        )
        self._in_head = True
        self._head_seen = 0
        self._body = []
        self._deadline = self._loop.time() + self._limits.keepalive_timeout_s
        if not self._is_busy:
            self._next()
        if len(self._queue) >= self._limits.max_pipelined:
            self._update_reading()

    # -- the rest --------------------------------------------------------------------------

    def _feed_bounded(self, data: bytes) -> None:
        """Feed the parser, never more than `max_head_bytes` into one unfinished head
        (httptools joins a header's pieces before it calls on_header)."""
        while data:
            if not self._in_head:
                self._parser.feed_data(data)
                return
            room = self._limits.max_head_bytes - self._head_seen
            if room <= 0:
                raise _Refused(_head_too_large(self._limits.max_head_bytes))
            step, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
            begun = self._turns
            self._head_seen += len(step)
            self._parser.feed_data(step)
            if data and self._in_head and self._turns == begun:
                raise _Refused(_head_too_large(self._limits.max_head_bytes))

    def _next(self) -> None:
        """Answer the queued requests in order: routing misses at once, a handler in a task."""
        while self._queue and not self._is_busy and self._transport is not None:
            item = self._queue.popleft()
            if isinstance(item, Answer):
                self._write(item, head_only=False, close=True)
                return
            methods = self._server.routes.get(item.path)
            handler = None
            if methods is not None:
                handler = methods.get("GET" if item.method == "HEAD" else item.method)
            if handler is None:
                answer = _missing(item, methods)
                self._server.refused(answer.status)
                self._write(answer, head_only=item.method == "HEAD", close=not item.keep_alive)
                continue
            self._is_busy = True
            self._deadline = math.inf
            task = self._loop.create_task(self._answer(handler, item))
            self._server.handlers.add(task)
            task.add_done_callback(self._server.handlers.discard)
        self._update_reading()

    async def _answer(self, handler: Handler, request: Request) -> None:
        try:
            answer = await handler(request)
        except Exception:
            log.exception("http handler failed", extra={"path": request.path})
            answer = refusal(500, "internal", "the request could not be handled")
            request.keep_alive = False
        self._is_busy = False
        close = not request.keep_alive or self._server.is_closing
        self._write(answer, head_only=request.method == "HEAD", close=close)
        if self._transport is not None and not self._transport.is_closing():
            partial = self._queue or self._in_message
            self._deadline = self._loop.time() + (
                self._limits.head_timeout_s if partial else self._limits.keepalive_timeout_s
            )
            self._next()

    def _write(self, answer: Answer, *, head_only: bool, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        head = [
            b"HTTP/1.1 %d %s\r\n" % (answer.status, _REASONS.get(answer.status, b"Unknown")),
            b"Content-Type: %s\r\nContent-Length: %d\r\n"
            % (answer.content_type.encode("latin-1"), len(answer.body)),
            self._server.date,
        ]
        for name, value in answer.headers:
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        if close:
            head.append(b"Connection: close\r\n")
        head.append(b"\r\n")
        if not head_only:
            head.append(answer.body)
        transport.write(b"".join(head))
        if close:
            self._is_done = True
            self._queue.clear()
            self._close_after_answer(transport)

    def _close_after_answer(self, transport: asyncio.Transport) -> None:
        """Close; but when the client may still be sending (a refused body), shut our side
        first and read and drop what comes for `_LINGER_S`: closing a socket with unread
        bytes resets it, and the reset can destroy the answer before the client reads it."""
        if not self._in_message or not transport.can_write_eof():
            transport.close()
            return
        self._is_lingering = True
        transport.write_eof()
        self._update_reading()
        self._loop.call_later(_LINGER_S, transport.close)

    def _finish(self, answer: Answer) -> None:
        """A final answer (a refusal): after the answers due before it; then close."""
        self._server.refused(answer.status)
        self._is_done = True
        self._queue.append(answer)
        if not self._is_busy:
            self._next()
        self._update_reading()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._is_lingering:
            pause = False
        else:
            pause = (
                self._is_done
                or self._write_paused
                or len(self._queue) >= self._limits.max_pipelined
            )
        if pause != self._read_paused:
            self._read_paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def check_time(self, now: float) -> None:
        """Past the deadline: 408 if a request was partly sent, else just close."""
        if now < self._deadline or self._is_busy or self._is_done or self._transport is None:
            return  # done: its final answer is written (it may be lingering)
        if not self._in_message and not self._queue:
            self.abort()  # idle: nothing to answer
            return
        self._deadline = math.inf
        self._finish(refusal(408, "timeout", "the request was not sent in time"))

    def close_if_idle(self) -> None:
        if not self._is_busy and not self._queue and not self._in_message:
            self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _missing(request: Request, methods: Mapping[str, Handler] | None) -> Answer:
    if methods is None:
        return refusal(404, "not_found", f"no route for {request.path}")
    allowed = sorted({*methods, *(["HEAD"] if "GET" in methods else [])})
    return refusal(
        405,
        "method_not_allowed",
        f"{request.method} is not allowed on {request.path}",
        headers=(("Allow", ", ".join(allowed)),),
    )


def _no_upgrade() -> Answer:
    return refusal(400, "bad_http", "protocol upgrades and CONNECT are not supported")


def _head_too_large(limit: int) -> Answer:
    return refusal(431, "head_too_large", f"request head above {limit} bytes")


async def serve(server: LeanServer, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve until `stop` is set; then close as `LeanServer.close` does."""
    await server.start(host, port)
    log.info("listening", extra={"host": host, "port": port})
    try:
        await stop.wait()
    finally:
        await server.close()
