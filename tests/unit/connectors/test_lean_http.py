"""The lean HTTP/1.1 server (`connectors.common.lean_http`) over loopback TCP: each promise of
its docstring, seen from the bytes a client sends and the bytes it reads back (and through
aiohttp, a realistic client, for HEAD and a chunked upload)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
import uvloop
from prometheus_client import REGISTRY

from connectors.common.lean_http import Answer, Handler, LeanServer, Limits, Request

LIMITS = Limits(max_body_bytes=1000, max_target_bytes=100, max_head_bytes=1024, max_headers=8)
QUICK_S = 0.2  # a timeout under test (the others are 10 s and more); checked once a second
Routes = dict[str, dict[str, Handler]]
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def echo(request: Request) -> Answer:
    return Answer(200, orjson.dumps({"n": request.query.get("n"), "body": request.body.decode()}))


ROUTES: Routes = {"/echo": {"GET": echo, "POST": echo}}


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error(self) -> str:
        """The refusal's code, once its shape is checked: {"error": {"code", "reason"}}."""
        error = orjson.loads(self.body)["error"]
        assert set(error) == {"code", "reason"}
        assert self.headers["content-type"] == "application/json; charset=utf-8"
        return str(error["code"])


async def read_reply(reader: asyncio.StreamReader, *, head_only: bool = False) -> Reply:
    async with asyncio.timeout(5):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *lines = head.removesuffix("\r\n\r\n").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {
            name.lower(): value.strip() for name, _, value in (x.partition(":") for x in lines)
        }
        size = 0 if head_only else int(headers["content-length"])
        return Reply(int(status), headers, await reader.readexactly(size))


async def replies_until_closed(reader: asyncio.StreamReader) -> list[Reply]:
    replies = []
    while True:
        try:
            reply = await read_reply(reader)
        except asyncio.IncompleteReadError as exc:
            partial = exc.partial
            break
        replies.append(reply)
    assert partial == b"", "the connection closed inside an answer"
    return replies


def message(method: str, target: str = "/echo", *headers: str, body: bytes = b"") -> bytes:
    length = [f"Content-Length: {len(body)}"] if body else []
    lines = [f"{method} {target} HTTP/1.1", "Host: test", *headers, *length]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the server signals none of these states
            await asyncio.sleep(0.01)


def refusals(status: int) -> float:
    labels = {"connector": "test", "route": "http", "status": str(status)}
    return REGISTRY.get_sample_value("acolhe_connector_requests_total", labels) or 0.0


@contextlib.asynccontextmanager
async def serving(
    routes: Routes = ROUTES, *, grace_s: float = 5.0, **limits: Any
) -> AsyncIterator[LeanServer]:
    server = LeanServer(
        routes, connector="test", limits=dataclasses.replace(LIMITS, **limits), grace_s=grace_s
    )
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def connected(server: LeanServer, *, buffers: int | None = None) -> AsyncIterator[Streams]:
    """A client connection; `buffers` fixes its socket's kernel buffers (no autotuning), so
    that what the kernel can hold on its side is known."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if buffers is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffers)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffers)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        yield reader, writer
    finally:
        writer.close()


def run_on(loop: str, main: Callable[[], Any]) -> Any:
    return (uvloop.run if loop == "uvloop" else asyncio.run)(main())


# -- connections and routes ------------------------------------------------------------------


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_requests_on_one_connection_are_answered_and_it_stays_open(loop: str) -> None:
    async def two_requests() -> list[Reply]:
        async with serving() as server, connected(server) as (reader, writer):
            writer.write(message("POST", "/echo?n=1", body=b"hello"))
            first = await read_reply(reader)
            writer.write(message("GET", "/echo?n=2"))
            return [first, await read_reply(reader)]

    first, second = run_on(loop, two_requests)

    assert (first.status, orjson.loads(first.body)) == (200, {"n": "1", "body": "hello"})
    assert (second.status, orjson.loads(second.body)) == (200, {"n": "2", "body": ""})
    assert "connection" not in first.headers
    assert first.headers["date"].endswith(" GMT")


async def test_pipelined_requests_are_answered_in_order_one_handler_at_a_time() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def first_is_slow(request: Request) -> Answer:
        if request.query["n"] == "1":
            started.set()
            await release.wait()
        return Answer(200, request.query["n"].encode())

    routes: Routes = {"/echo": {"GET": first_is_slow, "POST": first_is_slow}}
    async with serving(routes) as server, connected(server) as (reader, writer):
        heads = [("GET", "/echo?n=1"), ("GET", "/nowhere"), ("HEAD", "/echo?n=3")]
        writer.write(b"".join(message(*h) for h in heads) + message("POST", "/echo?n=4", body=b"x"))
        await started.wait()
        release.set()
        replies = [await read_reply(reader), await read_reply(reader)]
        replies += [await read_reply(reader, head_only=True), await read_reply(reader)]

    assert [r.status for r in replies] == [200, 404, 200, 200]
    assert (replies[0].body, replies[1].error, replies[3].body) == (b"1", "not_found", b"4")
    assert replies[2].headers["content-length"] == "1"  # what GET would have answered


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(b"GET /echo?n=1 HTTP/1.0\r\n\r\n", id="http-1.0"),
        pytest.param(b"GET /echo?n=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", id="1.0-keep"),
        pytest.param(message("GET", "/echo?n=1", "Connection: close"), id="connection-close"),
    ],
)
async def test_a_request_that_does_not_keep_alive_is_answered_then_closed(first: bytes) -> None:
    async with serving() as server, connected(server) as (reader, writer):
        writer.write(first + message("GET", "/echo?n=2"))
        replies = await replies_until_closed(reader)

    assert [(r.status, r.headers["connection"]) for r in replies] == [(200, "close")]
    assert orjson.loads(replies[0].body)["n"] == "1"


@pytest.mark.parametrize(
    ("method", "target", "status", "allow"),
    [
        ("GET", "/nowhere", 404, None),
        ("HEAD", "/nowhere", 404, None),
        ("DELETE", "/echo", 405, "GET, HEAD, POST"),
        ("HEAD", "/submit", 405, "POST"),
    ],
)
async def test_a_routing_miss_is_refused_and_the_connection_stays_open(
    method: str, target: str, status: int, allow: str | None
) -> None:
    routes: Routes = {**ROUTES, "/submit": {"POST": echo}}
    async with serving(routes) as server, connected(server) as (reader, writer):
        writer.write(message(method, target) + message("GET", "/echo?n=2"))
        miss = await read_reply(reader, head_only=method == "HEAD")
        after = await read_reply(reader)  # parses only if a HEAD's answer had no body

    assert (miss.status, miss.headers.get("allow")) == (status, allow)
    assert "connection" not in miss.headers
    if method != "HEAD":
        assert miss.error == ("not_found" if status == 404 else "method_not_allowed")
    assert (after.status, orjson.loads(after.body)["n"]) == (200, "2")


async def test_a_realistic_client_gets_head_without_a_body_and_uploads_in_chunks() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b"ola, ", b"defensoria"):
            yield piece

    async with serving() as server, aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as c:
        async with c.get("/echo?n=1") as got:
            body = await got.read()
        async with c.head("/echo?n=1") as head:
            head_length, head_body = head.headers["Content-Length"], await head.read()
        async with c.post("/echo?n=2", data=pieces()) as posted:
            assert posted.request_info.headers["Transfer-Encoding"] == "chunked"
            uploaded = await posted.json()

    assert (head.status, head_length, head_body) == (200, str(len(body)), b"")
    assert uploaded == {"n": "2", "body": "ola, defensoria"}


# -- refusals ----------------------------------------------------------------------------------

SMUGGLED = (
    b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
)
NINE_FIELDS = [f"X-{i}: {i}" for i in range(8)]  # and Host
CHUNK = b"258\r\n" + b"a" * 600 + b"\r\n"  # 600 bytes: one fits, two do not
CHUNKED = message("POST", "/echo", "Transfer-Encoding: chunked") + CHUNK * 2  # no last chunk
REFUSALS = {
    "target": (message("GET", "/" + "a" * 101), 414, "target_too_long"),
    "header-count": (message("GET", "/echo", *NINE_FIELDS), 431, "too_many_headers"),
    "head": (message("GET", "/echo", "X-Big: " + "a" * 2000), 431, "head_too_large"),
    "body": (message("POST", "/echo", "Content-Length: 1001"), 413, "too_large"),  # no body sent
    "chunked": (CHUNKED, 413, "too_large"),  # as soon as it passes the limit
    "smuggling": (SMUGGLED, 400, "bad_http"),
    "line-folding": (b"GET /echo HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400, "bad_http"),
    "bare-lf": (b"GET /echo HTTP/1.1\nHost: test\n\n", 400, "bad_http"),
    "upgrade": (message("GET", "/echo", "Connection: Upgrade", "Upgrade: h2c"), 400, "bad_http"),
    "connect": (b"CONNECT example.com:443 HTTP/1.1\r\n\r\n", 400, "bad_http"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_request_outside_the_rules_is_refused_after_those_before_it(case: str) -> None:
    sent, status, code = REFUSALS[case]
    async with serving() as server, connected(server) as (reader, writer):
        writer.write(message("GET", "/echo?n=1") + sent)
        replies = await replies_until_closed(reader)

    statuses = [(r.status, r.headers.get("connection")) for r in replies]
    assert statuses == [(200, None), (status, "close")]
    assert replies[1].error == code


async def test_expect_100_continue_is_answered_only_for_a_body_that_fits() -> None:
    expect = "Expect: 100-continue"
    async with serving() as server, connected(server) as (reader, writer):
        writer.write(message("POST", "/echo?n=1", expect, "Content-Length: 5"))
        async with asyncio.timeout(5):
            interim = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"hello")
        accepted = await read_reply(reader)
        writer.write(message("POST", "/echo?n=2", expect, "Content-Length: 1001"))
        refused = await replies_until_closed(reader)  # no 100, no wait for the body

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert (accepted.status, orjson.loads(accepted.body)["body"]) == (200, "hello")
    assert [(r.status, r.error) for r in refused] == [(413, "too_large")]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_client_still_sending_a_refused_body_reads_the_refusal_and_is_let_go_once(
    loop: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Like curl without `Expect`: the body follows the head at once, 4 MB of it."""
    timeouts_before = refusals(408)

    async def upload_too_much() -> list[Reply]:
        async with serving(body_timeout_s=QUICK_S) as server, connected(server) as (reader, writer):
            writer.write(message("POST", "/echo", "Content-Length: 4000000"))

            async def send_body() -> None:
                for _ in range(250):
                    writer.write(b"a" * 16_000)
                    await writer.drain()

            sending = asyncio.create_task(send_body())
            refused = await replies_until_closed(reader)
            await sending  # the server read and dropped the rest: no reset
            await until(lambda: not server.connections)  # past the linger and the body's time
            return refused

    refused = run_on(loop, upload_too_much)

    assert [(r.status, r.error) for r in refused] == [(413, "too_large")]
    assert refusals(408) == timeouts_before  # no second answer to a connection answered
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_connection_above_the_limit_gets_503_and_a_freed_place_is_served() -> None:
    async with serving(max_connections=2) as server:
        async with connected(server) as (r1, w1), connected(server) as (r2, w2):
            for reader, writer in ((r1, w1), (r2, w2)):
                writer.write(message("GET", "/echo?n=1"))
                assert (await read_reply(reader)).status == 200
            async with connected(server) as (reader, writer):
                writer.write(message("GET", "/echo?n=3"))
                refused = await replies_until_closed(reader)
        await until(lambda: not server.connections)
        async with connected(server) as (reader, writer):
            writer.write(message("GET", "/echo?n=4"))
            served = await read_reply(reader)

    assert [(r.status, r.error) for r in refused] == [(503, "busy")]
    assert served.status == 200


# -- time ----------------------------------------------------------------------------------------

SLOW = {
    "head": (b"GET /echo HTTP/1.1\r\nHost: test\r\n", "head_timeout_s", [408]),
    "body": (message("POST", "/echo", "Content-Length: 10") + b"abc", "body_timeout_s", [408]),
    "idle": (message("GET", "/echo?n=1"), "keepalive_timeout_s", [200]),
}


@pytest.mark.parametrize("case", list(SLOW))
async def test_a_client_too_slow_is_answered_408_and_an_idle_one_is_closed(case: str) -> None:
    sent, timeout, statuses = SLOW[case]
    quick: dict[str, Any] = {timeout: QUICK_S}
    async with serving(**quick) as server, connected(server) as (reader, writer):
        writer.write(sent)
        async with asyncio.timeout(3):  # not the other timeouts
            replies = await replies_until_closed(reader)

    assert [r.status for r in replies] == statuses
    assert all(r.error == "timeout" for r in replies if r.status == 408)


# -- backpressure ------------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["waits-on-a-handler", "does-not-read"])
async def test_a_client_that_sends_faster_than_it_is_answered_is_held_back(client: str) -> None:
    count, answer_bytes = 2000, 32_000 if client == "does-not-read" else 1
    release = asyncio.Event()
    if client == "does-not-read":
        release.set()

    async def answer(request: Request) -> Answer:
        await release.wait()
        return Answer(200, request.query["n"].encode().ljust(answer_bytes))

    routes: Routes = {"/echo": {"POST": answer}}
    async with (
        serving(routes, max_body_bytes=8000) as server,
        # The client's buffers fixed small: autotuned, the two sockets' buffers grew to
        # 8 MB under load and the bound below measured the kernel, not the server.
        connected(server, buffers=64 * 1024) as (reader, w),
    ):
        sent = 0

        async def send_16_mb() -> None:
            nonlocal sent
            for n in range(count):
                w.write(message("POST", f"/echo?n={n}", body=b"a" * 8000))
                sent += 1
                await w.drain()

        sending = asyncio.create_task(send_16_mb())
        last = -1
        while sent != last and not sending.done():  # until the client is blocked
            last = sent
            await asyncio.sleep(0.2)
        held_at = sent
        release.set()
        replies = [await read_reply(reader) for _ in range(count)]
        await sending

    assert held_at < count / 2  # a few MB in the kernel's buffers, not 16
    assert [int(r.body) for r in replies] == list(range(count))


# -- handlers ----------------------------------------------------------------------------------


async def test_a_handler_that_raises_is_answered_500_and_the_connection_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(request: Request) -> Answer:
        raise RuntimeError("a bug")

    routes: Routes = {**ROUTES, "/broken": {"GET": broken}}
    async with serving(routes) as server, connected(server) as (reader, writer):
        writer.write(message("GET", "/broken") + message("GET", "/echo?n=2"))
        replies = await replies_until_closed(reader)

    answered = [(r.status, r.error, r.headers["connection"]) for r in replies]
    assert answered == [(500, "internal", "close")]
    assert "a bug" not in replies[0].body.decode()
    assert "http handler failed" in caplog.text


@pytest.mark.parametrize("then", ["serve-on", "stop"])
async def test_a_client_that_goes_away_does_not_cancel_its_handler(then: str) -> None:
    started, published = asyncio.Event(), asyncio.Event()

    async def publish(request: Request) -> Answer:
        started.set()
        await asyncio.sleep(0.3)  # the work: a publish to Kafka that takes a while
        published.set()
        return Answer(200)

    async with serving({"/publish": {"POST": publish}}) as server:
        async with connected(server) as (_, writer):
            writer.write(message("POST", "/publish", body=b"x"))
            await started.wait()
        await until(lambda: not server.connections)
        if then == "stop":
            await server.close()
            assert published.is_set()
        async with asyncio.timeout(3):
            await published.wait()


async def test_stopping_closes_the_idle_answers_those_in_flight_and_cuts_the_late() -> None:
    slow, stuck, release, unstick = (asyncio.Event() for _ in range(4))

    async def wait(started: asyncio.Event, until_set: asyncio.Event) -> Answer:
        started.set()
        await until_set.wait()
        return Answer(200, b"done")

    routes: Routes = {
        **ROUTES,
        "/slow": {"GET": lambda _: wait(slow, release)},
        "/stuck": {"GET": lambda _: wait(stuck, unstick)},
    }
    async with (
        serving(routes, grace_s=0.5) as server,
        connected(server) as (idle, idle_w),
        connected(server) as (busy, busy_w),
        connected(server) as (late, late_w),
    ):
        idle_w.write(message("GET", "/echo?n=1"))
        await read_reply(idle)
        busy_w.write(message("GET", "/slow"))
        late_w.write(message("GET", "/stuck"))
        await slow.wait()
        await stuck.wait()
        port = server.port
        closing = asyncio.create_task(server.close())
        idle_after = await replies_until_closed(idle)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        release.set()
        in_flight = await replies_until_closed(busy)
        cut = await replies_until_closed(late)  # after grace_s
        await closing
        unstick.set()
        await until(lambda: not server.handlers)

    assert (idle_after, cut) == ([], [])
    answered = [(r.status, r.body, r.headers["connection"]) for r in in_flight]
    assert answered == [(200, b"done", "close")]


async def test_a_head_of_exactly_the_limit_sent_in_pieces_is_served_with_the_next() -> None:
    first = message("GET", "/echo?n=1", "X-Pad: " + "p" * 400)
    pad = LIMITS.max_head_bytes - len(first)
    first = message("GET", "/echo?n=1", "X-Pad: " + "p" * (400 + pad))
    assert len(first) == LIMITS.max_head_bytes
    async with serving() as server, connected(server) as (reader, writer):
        writer.write(first[:100])
        await writer.drain()
        await asyncio.sleep(0.05)  # a second read: the head's rest, then the next request
        writer.write(first[100:] + message("GET", "/echo?n=2"))
        replies = [await read_reply(reader), await read_reply(reader)]

    assert [(r.status, orjson.loads(r.body)["n"]) for r in replies] == [(200, "1"), (200, "2")]


async def test_a_pipelined_head_begun_in_the_same_read_and_left_unfinished_gets_408() -> None:
    async with (
        serving(head_timeout_s=QUICK_S) as server,
        connected(server) as (reader, writer),
    ):
        writer.write(message("GET", "/echo?n=1") + b"GET /echo?n=2 HTTP/1.1\r\nHost: te")
        first = await read_reply(reader)
        late = await replies_until_closed(reader)

    assert first.status == 200
    assert [(r.status, r.error) for r in late] == [(408, "timeout")]
