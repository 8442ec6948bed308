"""Accepted WhatsApp webhooks per second per connector process, and their latency, against
a bare aiohttp handler that does nothing, measured in the same run (and a do-nothing
handler on the connector's own HTTP server, `connectors.common.lean_http`, to show what
the HTTP layer costs).

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_webhooks [--rate 3000] [--seconds 10] [--connections 64]
        [--contacts 2000]
    .venv/bin/python -m bench.bench_webhooks --compare-loops [--rounds 6] [--burst-seconds 2]
    .venv/bin/python -m bench.bench_webhooks --against ../other-checkout [--python PY] [--rounds 6]
        [--paced [--rate 3000]]
    .venv/bin/python -m bench.bench_webhooks --broker-stand-in 2 [--rate 3000]  (a diagnostic)

Accepted means durable in Kafka: the connector answers 200 only after the broker
acknowledged the events (acks=all). Each server runs alone in its own process (spawned),
on the event loop `acolhe run whatsapp` uses (`streams.shared.loop`: uvloop's); this
process is the load generator, a small HTTP/1.1 keep-alive client on asyncio's own loop: a
protocol per connection, no task or stream per request, the requests prebuilt and signed,
so that it takes as little as it can of the 2 cores the server shares with it (16-19% of
a core at 3,000/s, against 22-30% for the asyncio-streams client before it). Not on
uvloop: its timers have whole-millisecond resolution, and the schedule's sub-millisecond
sleeps made it spin at 99% of a core.

For each server, in order:
1. warm-up: one message from each of `--contacts` citizens (their data keys made), not
   measured;
2. capacity: `--connections` connections send back to back for `--seconds`; the rate of
   200s is the server's capacity;
3. latency at a fixed rate: requests are sent on a schedule of `--rate` a second (open
   loop, so a slow answer does not slow the schedule) for `--seconds`; latency is taken
   from each request's scheduled time (no coordinated omission): p50, p99, max. The
   client's garbage collector is off meanwhile, so that its own pauses are not counted, and
   its longest stall (a pause beyond a 1 ms sleep) is printed: a figure from a run whose
   client stalled for long is suspect.
Afterwards the topic is counted: it must hold every accepted message, each event id once
per acceptance (nothing lost).

Every message is unique (its own wamid); citizens are drawn round-robin from `--contacts`.
`--compare-loops` and `--against` compare two connectors side by side on alternating
bursts, so that whatever else the machine does disturbs both alike (single runs on this
machine swing by a fifth): asyncio's loop against uvloop's, or this checkout's code against
another checkout's (`git worktree add ../base <rev>`: a change's gain, measured in one run).
The other checkout's connector runs as `python -m bench.bench_webhooks --serve-connector`
from its own directory, so its bench module must have that mode too.

The connector's outbound loop reads its own topic, as it reads acolhe.outbound in
production (MessageSent only: none during the run).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import hashlib
import hmac
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web

from streams.shared import loop as event_loop
from streams.shared.events import TopicRoute
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics, make_producer
from streams.shared.postgres import connect
from streams.shared.settings import Settings

APP_SECRET: Final = "bench-app-secret-0123456789abcdef"  # noqa: S105 - a benchmark's own
PHONE_NUMBER_ID: Final = "106540352242922"
HOST: Final = "127.0.0.1"


# -- the servers, each in its own process ----------------------------------------------------


def _bare(port: int, ready: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/webhook", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port).start()
        ready.set()
        await asyncio.Event().wait()

    event_loop.run(main())  # the same loop as the connector's


def _bare_lean(port: int, ready: Any) -> None:
    from connectors.common.lean_http import Answer, LeanServer, Request

    async def handler(request: Request) -> Answer:
        return Answer(200, b"ok", "text/plain")

    async def main() -> None:
        server = LeanServer({"/webhook": {"POST": handler}}, connector="bench")
        await server.start(HOST, port)
        ready.set()
        await asyncio.Event().wait()

    event_loop.run(main())


class _BrokerStandIn:
    """`--broker-stand-in MS` (a diagnostic, not the measure): the connector's producer
    acknowledges each record of the webhook topic MS milliseconds after `send`, from a timer,
    without Kafka; what else it sends (the outbound loop's records) goes to the real producer.
    What the connector costs and how fast it answers without the broker's round trip."""

    def __init__(self, producer: Any, topic: str, delay_s: float) -> None:
        self._producer, self._topic, self._delay_s = producer, topic, delay_s

    async def send(self, topic: str, **kwargs: Any) -> asyncio.Future[None]:
        if topic != self._topic:
            return await self._producer.send(topic, **kwargs)  # type: ignore[no-any-return]
        loop = asyncio.get_running_loop()
        acknowledged: asyncio.Future[None] = loop.create_future()
        loop.call_later(self._delay_s, acknowledged.set_result, None)
        return acknowledged

    def __getattr__(self, name: str) -> Any:
        return getattr(self._producer, name)


def _connector(env: dict[str, str], topic: str, ledger_schema: str, ready: Any) -> None:
    from connectors.whatsapp import service
    from schemas.catalog import BY_NAME
    from streams.shared.contract import Contract

    if env.get("BENCH_BROKER_STAND_IN_MS"):
        delay_s = float(env["BENCH_BROKER_STAND_IN_MS"]) / 1000

        def stand_in(kafka: Any, **options: object) -> Any:
            return _BrokerStandIn(make_producer(kafka, **options), topic, delay_s)

        service.make_producer = stand_in  # type: ignore[attr-defined]

    async def main() -> None:
        settings = Settings.from_env(env)
        contract = await Contract.open(settings)
        routes = {name: TopicRoute(topic, spec.key_field) for name, spec in BY_NAME.items()}
        stop = asyncio.Event()
        task = asyncio.create_task(
            service.serve(
                settings,
                contract,
                stop,
                routes=routes,
                topic=f"{topic}.outbound",  # acolhe.outbound: MessageSent only, none here
                ledger_schema=ledger_schema,
                processor=f"bench.whatsapp.{ledger_schema}",
            )
        )
        await _until_listening(int(env["ACOLHE_WHATSAPP_PORT"]))
        ready.set()
        await task

    if env.get("BENCH_LOOP") == "asyncio":  # --compare-loops: the standard library's loop
        asyncio.run(main())
    else:
        event_loop.run(main())  # the loop `acolhe run whatsapp` runs on


async def _until_listening(port: int) -> None:
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on {port}")


# -- requests ---------------------------------------------------------------------------------


def requests(count: int, contacts: int, *, port: int, offset: int = 0) -> list[bytes]:
    """`count` signed webhooks, each one text message with its own wamid."""
    out = []
    for n in range(offset, offset + count):
        sender = f"55119{n % contacts:08d}"
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": PHONE_NUMBER_ID,
                                },
                                "contacts": [{"profile": {"name": "Cidadã"}, "wa_id": sender}],
                                "messages": [
                                    {
                                        "from": sender,
                                        "id": f"wamid.bench{n:012d}",
                                        "timestamp": str(1_795_000_000 + n // 1000),
                                        "type": "text",
                                        "text": {"body": f"preciso de ajuda com a pensão ({n})"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        body = orjson.dumps(payload)
        signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        head = (
            f"POST /webhook HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Content-Type: application/json\r\n"
            f"X-Hub-Signature-256: sha256={signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


class _Answers(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection of the load generator: a prebuilt request goes
    out, `answered(conn, status)` is called when its answer is in. No task, no stream and
    no future per request: a Python client costs the machine as much as a lean server, and
    on 2 cores its CPU is taken from the server it measures (the earlier client, asyncio
    streams and a task per request, used 22-30% of a core at 3,000/s)."""

    def __init__(self, answered: Any) -> None:
        self._answered = answered
        self._buffer = bytearray()
        self.transport: Any = None
        self.alive = True
        self.busy = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, request: bytes) -> None:
        self.busy = True
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            length = 0
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else end])
            if len(buffer) < end + 4 + length:
                return
            status = int(head[9:12])
            del buffer[: end + 4 + length]
            self.busy = False
            self._answered(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self.busy:
            self.busy = False
            self._answered(self, 0)


async def _open(port: int, connections: int, answered: Any) -> list[_Answers]:
    loop = asyncio.get_running_loop()
    opened = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Answers(answered), HOST, port)
        opened.append(conn)
    return opened


@dataclass
class Result:
    sent: int
    ok: int
    seconds: float
    latencies_ms: list[float]
    client_stall_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


async def capacity(port: int, reqs: Sequence[bytes], connections: int, seconds: float) -> Result:
    """Back to back on `connections` connections until `seconds` pass or requests run out."""
    it = iter(reqs)
    ok = sent = 0
    latencies: list[float] = []
    began_at: dict[_Answers, float] = {}
    done = asyncio.get_running_loop().create_future()
    active = connections

    def send_next(conn: _Answers) -> None:
        nonlocal sent, active
        request = next(it, None) if conn.alive and time.perf_counter() < deadline else None
        if request is None:
            active -= 1
            if not active and not done.done():
                done.set_result(None)
            return
        sent += 1
        began_at[conn] = time.perf_counter()
        conn.send(request)

    def answered(conn: _Answers, status: int) -> None:
        nonlocal ok
        if status == 200:
            ok += 1
            latencies.append((time.perf_counter() - began_at[conn]) * 1000)
        send_next(conn)

    conns = await _open(port, connections, answered)
    began = time.perf_counter()
    deadline = began + seconds
    for conn in conns:
        send_next(conn)
    await done
    elapsed = time.perf_counter() - began
    for conn in conns:
        conn.transport.close()
    return Result(sent, ok, elapsed, latencies)


class _OpenLoop:
    """The fixed-rate schedule's state: a request goes out on a free connection when due,
    or waits, in order, for the next connection to answer."""

    def __init__(self, count: int) -> None:
        self.latencies: list[float] = []
        self.ok = 0
        self.remaining = count
        self.waiting: collections.deque[tuple[float, bytes]] = collections.deque()
        self.due_of: dict[_Answers, float] = {}
        self.free: list[_Answers] = []
        self.conns: list[_Answers] = []
        self.finished = asyncio.Event()

    def due(self, due: float, request: bytes) -> None:
        if self.free:
            self.send(self.free.pop(), due, request)
        else:
            self.waiting.append((due, request))

    def send(self, conn: _Answers, due: float, request: bytes) -> None:
        self.due_of[conn] = due
        conn.send(request)

    def answered(self, conn: _Answers, status: int) -> None:
        self.ok += status == 200
        self.latencies.append((time.perf_counter() - self.due_of.pop(conn)) * 1000)
        self.remaining -= 1
        if not conn.alive:
            if not any(c.alive for c in self.conns):  # nothing left to send on: fail the rest
                self.remaining -= len(self.waiting)
                self.waiting.clear()
        elif self.waiting:
            self.send(conn, *self.waiting.popleft())
        else:
            self.free.append(conn)
        if self.remaining <= 0:
            self.finished.set()


async def at_rate(port: int, reqs: Sequence[bytes], rate: float, connections: int) -> Result:
    """Open loop: request i is due at i / rate; latency counts from when it was due (also
    while it waits for one of the `connections` to be free)."""
    state = _OpenLoop(len(reqs))
    state.conns = await _open(port, connections, state.answered)
    state.free.extend(state.conns)
    # The client's own collector is off while it keeps time: a full collection could pause
    # it, and an open-loop client counts its own pause as the server's latency.
    stalled = [0.0]
    stall = asyncio.create_task(_longest_stall(stalled))
    start = time.perf_counter() + 0.05
    gc.collect()
    gc.disable()
    try:
        i = 0
        while i < len(reqs):
            now = time.perf_counter()
            while i < len(reqs) and start + i / rate <= now:
                state.due(start + i / rate, reqs[i])
                i += 1
            if i < len(reqs):  # asyncio's loop sleeps in whole milliseconds, never spinning
                await asyncio.sleep(start + i / rate - time.perf_counter())
        if reqs:
            await state.finished.wait()
    finally:
        gc.enable()
    elapsed = time.perf_counter() - start
    stall.cancel()
    for conn in state.conns:
        conn.transport.close()
    return Result(len(reqs), state.ok, elapsed, state.latencies, stalled[0])


async def _longest_stall(stalled: list[float]) -> None:
    """This client's longest pause (ms) beyond a 1 ms sleep while it keeps time: a pause
    delays sending and reading, and the latencies would count it as the server's."""
    while True:
        began = time.perf_counter()
        await asyncio.sleep(0.001)
        stalled[0] = max(stalled[0], (time.perf_counter() - began - 0.001) * 1000)


# -- the run ----------------------------------------------------------------------------------


def _start(target: Any, *args: Any) -> Any:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    process = ctx.Process(target=target, args=(*args, ready), daemon=True)
    process.start()
    if not ready.wait(120):
        process.kill()
        raise RuntimeError(f"{target.__name__} did not start")
    return process


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    capacity: Result
    fixed: Result
    cpu_capacity_s: float
    cpu_fixed_s: float
    client_cpu_fixed_s: float


async def measure(pid: int, port: int, args: argparse.Namespace) -> Measured:
    """Capacity, then latency at `--rate`, with the CPU the server (and this client) used."""
    total = int(args.rate * args.seconds)
    cap_reqs = requests(total * 4, args.contacts, port=port, offset=10**7)
    cpu = cpu_seconds(pid)
    cap = await capacity(port, cap_reqs, args.connections, args.seconds)
    cpu_cap = cpu_seconds(pid) - cpu
    fixed_reqs = requests(total, args.contacts, port=port, offset=2 * 10**7)
    cpu, client = cpu_seconds(pid), cpu_seconds(os.getpid())
    fixed = await at_rate(port, fixed_reqs, args.rate, args.connections)
    cpu_fixed, client = cpu_seconds(pid) - cpu, cpu_seconds(os.getpid()) - client
    return Measured(cap, fixed, cpu_cap, cpu_fixed, client)


def _show(name: str, m: Measured, rate: float) -> None:
    cap, fixed = m.capacity, m.fixed
    print(
        f"{name:9} capacity {cap.rate:8,.0f} accepted/s ({cap.ok:,} of {cap.sent:,} in "
        f"{cap.seconds:.1f} s; p50 {cap.percentile(50):.1f} ms); server CPU "
        f"{m.cpu_capacity_s / max(cap.ok, 1) * 1e6:,.0f} us a request"
    )
    print(
        f"{'':9} at {rate:,.0f}/s: achieved {fixed.rate:8,.0f}/s, {fixed.ok:,} of {fixed.sent:,} "
        f"accepted; latency p50 {fixed.percentile(50):.1f} ms, p99 {fixed.percentile(99):.1f} ms,"
        f" max {max(fixed.latencies_ms, default=0):.1f} ms; server CPU "
        f"{m.cpu_fixed_s / max(fixed.ok, 1) * 1e6:,.0f} us a request "
        f"({m.cpu_fixed_s / fixed.seconds:.0%} of a core; the client "
        f"{m.client_cpu_fixed_s / fixed.seconds:.0%}, its longest stall "
        f"{fixed.client_stall_ms:.1f} ms)"
    )


async def _count(settings: Settings, topic: str) -> tuple[int, int]:
    from streams.shared.contract import Contract
    from streams.shared.events import read_topic

    contract = await Contract.open(settings)
    try:
        got = await read_topic(settings.kafka, contract.decode, topic, timeout_s=120)
    finally:
        await contract.close()
    ids = [g.event.record["event_id"] for g in got if hasattr(g, "event")]
    return len(ids), len(set(ids))


def _connector_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ACOLHE_WHATSAPP_APP_SECRET=APP_SECRET,
        ACOLHE_WHATSAPP_VERIFY_TOKEN="bench-verify-token",  # noqa: S106
        ACOLHE_WHATSAPP_ACCESS_TOKEN="bench-access-token",  # noqa: S106
        ACOLHE_WHATSAPP_PHONE_NUMBER_IDS=PHONE_NUMBER_ID,
        ACOLHE_WHATSAPP_PORT=str(port),
        ACOLHE_LOG_FORMAT="text",
    )
    return env


class Served:
    """A connector in a process of its own, from another checkout's code."""

    def __init__(self, source: str, port: int, topic: str, ledger_schema: str, python: str) -> None:
        env = _connector_env(port) | {"PYTHONPATH": source}
        self.process = subprocess.Popen(
            [
                python,
                "-m",
                "bench.bench_webhooks",
                "--serve-connector",
                f"{port},{topic},{ledger_schema}",
            ],
            cwd=source,
            env=env,
        )
        self.pid = self.process.pid

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def serve_connector(spec: str) -> None:
    """`--serve-connector PORT,TOPIC,SCHEMA`: run this checkout's connector in the
    foreground (for `--against` run from another checkout)."""
    port, topic, ledger_schema = spec.split(",")
    env = dict(os.environ) | {"ACOLHE_WHATSAPP_PORT": port}

    class Ready:
        def set(self) -> None:
            print(f"connector listening on {port}", flush=True)

    _connector(env, topic, ledger_schema, Ready())


async def _one_round(port: int, reqs: Sequence[bytes], args: argparse.Namespace) -> Result:
    if not args.paced:
        return await capacity(port, reqs, args.connections, args.burst_seconds)
    return await at_rate(port, reqs, args.rate, args.connections)


async def compare(args: argparse.Namespace) -> None:
    """Two connectors side by side, fed alternating bursts (`--rounds` of
    `--burst-seconds` each): asyncio's loop against uvloop's (`--compare-loops`), or
    another checkout's code against this one's (`--against`). Prints the CPU each spends
    a request, per round and in all. With `--paced`, each round sends at `--rate` (open
    loop) instead of back to back: the cost of requests that arrive alone, which is
    higher than in a burst and what the fixed-rate target pays."""
    settings = Settings.from_env()
    run = uuid.uuid4().hex[:6]
    topic = f"bench.webhooks.{run}"
    await ensure_topics(settings.kafka, [TopicSpec(topic, 12), TopicSpec(f"{topic}.outbound", 12)])
    servers: dict[str, tuple[Any, int]] = {}
    if args.against:
        plan = [("other", 18402, args.against), ("this", 18403, None)]
    else:
        plan = [("asyncio", 18402, None), ("uvloop", 18403, None)]
    try:
        for label, port, source in plan:
            schema = f"bench_webhooks_{run}_{label}"
            if source is not None:
                process: Any = Served(source, port, topic, schema, args.python or sys.executable)
                await _until_listening(port)
            else:
                env = _connector_env(port) | {"BENCH_LOOP": label}
                process = _start(_connector, env, topic, schema)
            servers[label] = (process, port)
            await capacity(port, requests(args.contacts, args.contacts, port=port), 64, 120)
        totals = {label: [0.0, 0] for label in servers}
        offset = 10**7
        for n in range(args.rounds):
            for label, (process, port) in servers.items():
                per_second = args.rate if args.paced else 4000
                reqs = requests(
                    int(per_second * args.burst_seconds), args.contacts, port=port, offset=offset
                )
                offset += len(reqs)
                cpu = cpu_seconds(process.pid)
                got = await _one_round(port, reqs, args)
                cpu = cpu_seconds(process.pid) - cpu
                totals[label][0] += cpu
                totals[label][1] += got.ok
                print(
                    f"round {n + 1} {label:8} {got.rate:7,.0f} accepted/s, "
                    f"{cpu / max(got.ok, 1) * 1e6:5,.0f} us CPU a request"
                    + (f", p99 {got.percentile(99):.1f} ms" if args.paced else "")
                )
        per = {label: cpu / max(ok, 1) * 1e6 for label, (cpu, ok) in totals.items()}
        for label, (_, ok) in totals.items():
            print(f"{label:8} {per[label]:5,.0f} us CPU a request over {ok:,} requests")
        first, second = per.values()
        print(f"{plan[1][0]} vs {plan[0][0]}: {second / first:.2f}x the CPU a request")
    finally:
        for process, _ in servers.values():
            process.kill()
        await delete_topics(settings.kafka, [topic, f"{topic}.outbound"])
        conn = await connect(settings.postgres)
        for label in servers:
            await conn.execute(f'DROP SCHEMA IF EXISTS "bench_webhooks_{run}_{label}" CASCADE')
        await conn.close()


async def _baseline(name: str, target: Any, port: int, args: argparse.Namespace) -> Measured:
    server = _start(target, port)
    await capacity(port, requests(args.contacts, args.contacts, port=port), args.connections, 60)
    measured = await measure(server.pid, port, args)
    server.kill()
    _show(name, measured, args.rate)
    return measured


async def main(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    run = uuid.uuid4().hex[:6]
    topic = f"bench.webhooks.{run}"
    ledger_schema = f"bench_webhooks_{run}"
    await ensure_topics(settings.kafka, [TopicSpec(topic, 12), TopicSpec(f"{topic}.outbound", 12)])
    print(
        f"# {os.cpu_count()} cores; {args.contacts:,} citizens; capacity with "
        f"{args.connections} connections for {args.seconds:.0f} s; fixed rate {args.rate:,.0f}/s"
        f" for {args.seconds:.0f} s"
    )
    try:
        # the bare aiohttp handler, then the do-nothing handler on the connector's server
        bare_m = await _baseline("bare", _bare, 18400, args)
        await _baseline("bare lean", _bare_lean, 18402, args)

        # the connector
        port = 18401
        env = _connector_env(port)
        if args.broker_stand_in is not None:
            env["BENCH_BROKER_STAND_IN_MS"] = str(args.broker_stand_in)
        connector = _start(_connector, env, topic, ledger_schema)
        warm = requests(args.contacts, args.contacts, port=port)
        w = await capacity(port, warm, args.connections, 120)
        m = await measure(connector.pid, port, args)
        connector.terminate()
        connector.join(30)
        _show("connector", m, args.rate)
        print(
            f"connector vs bare handler (capacity): {m.capacity.rate / bare_m.capacity.rate:.2f}x"
        )
        if args.broker_stand_in is not None:
            print(
                f"broker stand-in: each record acknowledged {args.broker_stand_in:g} ms after "
                "it was handed over, without Kafka (a diagnostic); the topic is not checked"
            )
            return
        accepted = w.ok + m.capacity.ok + m.fixed.ok
        records, distinct = await _count(settings, topic)
        print(
            f"topic: {records:,} MessageReceived records, {distinct:,} event ids; "
            f"accepted {accepted:,} (nothing lost: {distinct >= accepted})"
        )
    finally:
        await delete_topics(settings.kafka, [topic, f"{topic}.outbound"])
        conn = await connect(settings.postgres)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{ledger_schema}" CASCADE')
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=3000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument(
        "--compare-loops",
        action="store_true",
        help="instead: the connector on asyncio's loop against uvloop's, side by side",
    )
    parser.add_argument(
        "--against",
        metavar="CHECKOUT",
        help="instead: another checkout's connector against this one's, side by side",
    )
    parser.add_argument(
        "--python",
        metavar="INTERPRETER",
        help="with --against: run the other checkout's connector on this interpreter "
        "(another Python version's venv, say); default this one",
    )
    parser.add_argument("--serve-connector", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--paced",
        action="store_true",
        help="with --against or --compare-loops: rounds at --rate instead of bursts",
    )
    parser.add_argument("--burst-seconds", type=float, default=2.0)
    parser.add_argument(
        "--broker-stand-in",
        type=float,
        metavar="MS",
        help="a diagnostic, not the measure: the connector's webhook records are acknowledged "
        "MS ms after they are handed over, by a timer, without Kafka (its own cost and "
        "latency without the broker's round trip); the topic is not checked",
    )
    options = parser.parse_args()
    if options.broker_stand_in is not None and (options.against or options.compare_loops):
        parser.error("--broker-stand-in measures one connector: not with --against/--compare-loops")
    if options.broker_stand_in is not None and options.broker_stand_in < 0:
        parser.error("--broker-stand-in must be 0 ms or more")
    if options.against:
        options.against = os.path.abspath(options.against)
    if options.serve_connector:
        serve_connector(options.serve_connector)
    else:
        asyncio.run(compare(options) if options.compare_loops or options.against else main(options))
