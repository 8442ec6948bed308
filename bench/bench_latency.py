"""Message-to-assignment latency at a steady load, on the real broker.

    .venv/bin/acolhe stack up
    .venv/bin/python -m bench.bench_latency [--workload day|triage] [--rate 1000]
        [--seconds 40] [--one-process] [--conversation-workers N]

Workloads (bench/workloads.py):
- `day` (default): an office's traffic at `--rate` messages/s (citizens' and agents'
  messages together, with WhatsApp's statuses for every outbound message and the agents'
  closes besides): case lives start at a steady pace and move one step every 0.2 s, so
  once the first lives are under way the conversation stream carries a day's mix (about a
  seventh of the citizens' messages are triage answers).
- `triage`: every message is a triage answer: citizens write at `--rate` messages/s, each
  says hello, then answers the bot's five questions, one round of messages apart (the bot's
  worst case; the completions all come in the last sixth of the run).
In both, the message that completes triage (the fifth answer, or an urgent first message)
leads the router to assign the case (every agent online, with room for every case). A
case's latency runs from the moment its completing message was handed to the producer to
the moment an observer consumed its CaseAssigned. By default the processors (conversation
and router) run in a process of their own, as in production, and the load generator and
observer in another; `--one-process` puts everything on one event loop. Kafka and Postgres
share the same 2 cores. Figures: p50/p90/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition

from bench import workloads
from schemas.events import AgentCapacityChanged, AgentPresenceChanged
from streams.conversation.processor import ConversationCore
from streams.routing.processor import ROUTER_SNAPSHOT_BYTES, RoutingCore
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_consumer,
    make_producer,
)
from streams.shared.runtime import Processor
from streams.shared.settings import Settings

ANSWERS = ("oi", "meu ex marido não paga a pensão das crianças", "1", "2", "2", "1 e 2")
CONVERSATION_OUT = ("CaseOpened", "MessageSent", "CaseReopened", "CaseResumed", "CasePutOnHold")


def topics(run: str) -> tuple[str, str, str]:
    return f"lat.conv.{run}", f"lat.routing.{run}", f"lat.out.{run}"


def processors(
    settings: Settings, contract: Contract, run: str
) -> tuple[Processor[Any], Processor[Any]]:
    conv, routing, out = topics(run)
    conversation = Processor(
        ConversationCore(),
        contract,
        settings.kafka,
        input_topic=conv,
        group_id=f"lat.c.{run}",
        routes={n: TopicRoute(out, "event_id") for n in CONVERSATION_OUT}
        | {n: TopicRoute(routing, "case_id") for n in ("CaseTriaged", "CaseClosed")},
        max_records=500,
    )
    router = Processor(
        RoutingCore(),
        contract,
        settings.kafka,
        input_topic=routing,
        group_id=f"lat.r.{run}",
        max_snapshot_bytes=ROUTER_SNAPSHOT_BYTES,
        routes={
            n: TopicRoute(out, "case_id") for n in ("CaseQueued", "RoutingDecided", "CaseAssigned")
        },
        max_records=500,
    )
    return conversation, router


def message(contact: int, turn: int, at: datetime) -> dict[str, Any]:
    """The contact's `turn`-th triage answer (bench_cores uses it too)."""
    return workloads.citizen_message(contact, turn, ANSWERS[turn], at).to_record()


def staff(agents: list[str], at: datetime) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for a in agents:
        common = {"occurred_at": at, "causation_id": None, "agent_id": a, "changed_at": at}
        online = AgentPresenceChanged.from_record(
            {
                **common,
                "event_id": f"on-{a}",
                "correlation_id": f"on-{a}",
                "presence": "available",
                "previous_presence": None,
            }
        )
        roomy = AgentCapacityChanged.from_record(
            {
                **common,
                "event_id": f"cap-{a}",
                "correlation_id": f"cap-{a}",
                "capacity": 10_000,
                "previous_capacity": None,
                "changed_by_agent_id": None,
            }
        )
        out += [(online.NAME, online.to_record()), (roomy.NAME, roomy.to_record())]
    return out


async def step_forever(procs: tuple[Processor[Any], ...], stop: Any) -> None:
    for p in procs:
        await p.start()
    while not stop.is_set():
        for p in procs:
            await p.step(timeout_ms=5)
    for p in procs:
        await p.stop()
        st = p.stats
        print(
            f"# {p.core.name}: {st.events} events in {st.batches} batches, busy {st.busy_s:.1f}s,"
            f" outputs {st.outputs}",
            flush=True,
        )


def worker(run: str, stop: Any, role: str = "both") -> None:
    """Processors in a process of their own, as they run in production: `role` is
    "conversation", "router" or "both"."""

    async def go() -> None:
        settings = Settings.from_env()
        contract = await Contract.open(settings)
        conversation, router = processors(settings, contract, run)
        chosen = {"conversation": (conversation,), "router": (router,)}.get(
            role, (conversation, router)
        )
        await step_forever(chosen, stop)
        await contract.close()

    asyncio.run(go())


@dataclass
class Observed:
    completed_at: dict[str, float]
    latencies: list[float]
    case_contact: dict[str, str]


async def observe(
    settings: Settings, contract: Contract, out: str, seen: Observed, stop: asyncio.Event
) -> None:
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    parts = [TopicPartition(out, p) for p in range(6)]
    consumer.assign(parts)
    for tp in parts:
        await consumer.seek_to_beginning(tp)
    while not stop.is_set():
        batch = await consumer.getmany(timeout_ms=100)
        now = time.perf_counter()
        for messages in batch.values():
            for m in messages:
                name = contract.codec.peek(m.value).name
                if name not in ("CaseOpened", "CaseAssigned"):
                    continue
                record = contract.codec.decode(m.value).record
                if name == "CaseOpened":
                    seen.case_contact[record["case_id"]] = record["contact_id"]
                elif (contact := seen.case_contact.get(record["case_id"])) in seen.completed_at:
                    seen.latencies.append(now - seen.completed_at[contact])
    await consumer.stop()


def triage_schedule(rate: int, seconds: int, t0: datetime) -> list[workloads.Paced]:
    total, turns = rate * seconds, len(ANSWERS)
    contacts = max(total // turns, 1)
    out: list[workloads.Paced] = []
    for i in range(total):
        contact, turn = i % contacts, i // contacts  # one round of messages apart
        if turn < turns:
            record = message(contact, turn, t0 + timedelta(seconds=i / rate))
            done = f"contact-{contact}" if turn == turns - 1 else None
            out.append((i / rate, "MessageReceived", record, done))
    return out


async def load(
    workload: str, rate: int, seconds: int, run: str, *, one_process: bool, stop_workers: Any
) -> None:
    settings = Settings.from_env()
    conv, routing, out = topics(run)
    contract = await Contract.open(settings)
    producer = make_producer(settings.kafka, linger_ms=2)
    await producer.start()
    publisher = contract.publisher(
        producer,
        source="/bench",
        routes={
            "MessageReceived": TopicRoute(conv, "contact_id"),
            "MessageSent": TopicRoute(conv, "contact_id"),
            "DeliveryStatusChanged": TopicRoute(conv, "contact_id"),
            # the agent's close: a fact for both streams, as the catalog copies it
            "CaseClosed": TopicRoute(conv, "contact_id", copies=(routing,)),
            "AgentPresenceChanged": TopicRoute(routing, "agent_id"),
            "AgentCapacityChanged": TopicRoute(routing, "agent_id"),
        },
    )
    t0 = datetime.now(UTC)
    await publisher.publish_many(staff(sorted(RoutingCore().config.agents), t0))
    stop = asyncio.Event()
    seen = Observed({}, [], {})
    jobs = [asyncio.create_task(observe(settings, contract, out, seen, stop))]
    if one_process:
        procs = processors(settings, contract, run)
        jobs.append(asyncio.create_task(step_forever(procs, stop)))
    if workload == "day":
        schedule = workloads.paced_office_day(rate, seconds)
    else:
        schedule = triage_schedule(rate, seconds, t0)
    await asyncio.sleep(5)  # the processors join their groups before the load starts
    sent, messages, started = 0, 0, time.perf_counter()
    while sent < len(schedule):
        elapsed = time.perf_counter() - started
        batch = []
        while sent < len(schedule) and schedule[sent][0] <= elapsed:
            _, name, record, completes = schedule[sent]
            batch.append((name, record))
            messages += name in ("MessageReceived", "MessageSent")
            if completes is not None:
                seen.completed_at[completes] = time.perf_counter()
            sent += 1
        if batch:
            await publisher.publish_many(batch)
        await asyncio.sleep(0.005)
    achieved = messages / (time.perf_counter() - started)
    deadline = time.perf_counter() + 30
    while len(seen.latencies) < len(seen.completed_at) and time.perf_counter() < deadline:  # noqa: ASYNC110 - polls a count
        await asyncio.sleep(0.2)
    stop.set()
    stop_workers.set()
    await asyncio.gather(*jobs)
    await producer.stop()
    await contract.close()
    lat = seen.latencies
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    mode = "everything in one process" if one_process else "processors in their own processes"
    print(
        f"# workload {workload}, {mode}; offered {rate} msg/s for {seconds}s, achieved"
        f" {achieved:,.0f} msg/s on average ({sent:,} records in all);"
        f" {len(lat)} of {len(seen.completed_at)} cases assigned and observed"
    )
    print(
        f"message-to-assignment latency: p50 {q[49] * 1000:.0f} ms, p90 {q[89] * 1000:.0f} ms,"
        f" p99 {q[98] * 1000:.0f} ms, max {max(lat, default=0) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workload", choices=("day", "triage"), default="day")
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--one-process", action="store_true")
    parser.add_argument(
        "--conversation-workers",
        type=int,
        default=0,
        help="run the conversation processor in N processes and the router "
        "in one more (0: both in one process)",
    )
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    kafka = Settings.from_env().kafka
    conv, routing, out = topics(run)
    asyncio.run(
        ensure_topics(kafka, [TopicSpec(conv, 6), TopicSpec(routing, 1), TopicSpec(out, 6)])
    )
    context = multiprocessing.get_context("spawn")
    stop_workers = context.Event()
    children = []
    if args.conversation_workers > 0:
        roles = ["conversation"] * args.conversation_workers + ["router"]
    else:
        roles = [] if args.one_process else ["both"]
    for role in roles:
        child = context.Process(target=worker, args=(run, stop_workers, role))
        child.start()
        children.append(child)
    try:
        asyncio.run(
            load(
                args.workload,
                args.rate,
                args.seconds,
                run,
                one_process=args.one_process,
                stop_workers=stop_workers,
            )
        )
    finally:
        stop_workers.set()
        for child in children:
            child.join(timeout=60)
        asyncio.run(delete_topics(kafka, [conv, routing, out]))


if __name__ == "__main__":
    main()
