"""A simulated day through the real broker: citizens write in, the bot triages, the router
assigns, the timer's ticks drive inactivity and escalation. Every case ends assigned,
waiting with a reason, or closed by a rule; none is lost or silently dropped."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka.structs import TopicPartition

from schemas.events import AgentPresenceChanged, MessageReceived
from streams.conversation.processor import ConversationCore
from streams.routing.processor import ROUTER_SNAPSHOT_BYTES, RoutingCore
from streams.shared.contract import Contract
from streams.shared.events import Received
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_consumer,
    make_producer,
)
from streams.shared.keystore import PostgresKeyStore
from streams.shared.runtime import Processor
from streams.shared.settings import Settings
from streams.timer.service import Timer
from tests.unit.triage.conversation import GOOD_ANSWERS, T0, Citizen

CITIZENS = 2000
URGENT = (
    "socorro, meu companheiro me bateu e ameaçou me matar",
    "meu filho foi preso em flagrante agora",
    "minha mãe está sem o remédio e corre risco de vida",
    "vou ser despejada amanhã com meus filhos",
)
PROBLEMS = (
    "meu ex marido não paga a pensão das crianças",
    "meu filho está cumprindo pena e quer progressão de regime",
    "meu irmão responde a um processo criminal",
    "preciso de um medicamento que o sus não fornece",
    "o inss negou minha aposentadoria",
    "preciso de vaga em creche para minha filha",
    "estou com problema no aluguel, o dono quer aumentar",
    "minha mãe é idosa e foi deixada num asilo",
    "recebi uma cobrança indevida do banco",
    "tenho uma dúvida sobre um documento",
)


@dataclass(frozen=True)
class Route:
    topic: str
    key_field: str


@pytest.fixture
async def contract(settings: Settings, pg_schema: str) -> AsyncIterator[Contract]:
    pool = await asyncpg.create_pool(settings.postgres.dsn.reveal(), min_size=1, max_size=2)
    store = PostgresKeyStore(pool, os.urandom(32), schema=pg_schema)
    await store.create_tables()
    contract = await Contract.open(settings, keys=store)
    yield contract
    await contract.close()
    await pool.close()


@pytest.fixture
async def topics(settings: Settings) -> AsyncIterator[dict[str, str]]:
    run = uuid.uuid4().hex[:8]
    names = {"conv": f"day.conv.{run}", "routing": f"day.routing.{run}", "out": f"day.out.{run}"}
    await ensure_topics(
        settings.kafka,
        [
            TopicSpec(names["conv"], partitions=6),
            TopicSpec(names["routing"], partitions=1),
            TopicSpec(names["out"], partitions=6),
        ],
    )
    yield names
    await delete_topics(settings.kafka, list(names.values()))


def citizen_messages(n: int) -> list[MessageReceived]:
    """Contact n's day: urgent ones say so at once, most answer the bot about a problem of
    any area, from the capital or the interior; a fifth go silent after saying hello."""
    citizen = Citizen()
    if n % 10 == 0:
        texts = [URGENT[(n // 10) % len(URGENT)]]
    elif n % 5 == 1:
        texts = ["oi, preciso de ajuda"]
    else:
        answers = dict(
            GOOD_ANSWERS,
            problema=PROBLEMS[(n // 10 + n) % len(PROBLEMS)],
            regiao="1" if n % 3 else "3",
        )
        texts = ["oi", *answers.values()]
    out = []
    for i, text in enumerate(texts):
        base = citizen.says(text)
        out.append(
            MessageReceived.from_record(
                {
                    **base.to_record(),
                    "event_id": f"day-{n}-{i}",
                    "correlation_id": f"day-{n}-0",
                    "contact_id": f"contact-{n}",
                    "subject_id": f"citizen-{n}",
                    "provider_message_id": f"wamid-{n}-{i}",
                    "occurred_at": T0 + timedelta(seconds=n * 30 + i * 5),
                    "received_at": T0 + timedelta(seconds=n * 30 + i * 5),
                }
            )
        )
    return out


def agents_online(config_agents: list[str]) -> list[AgentPresenceChanged]:
    return [
        AgentPresenceChanged(
            event_id=f"presence-{a}",
            occurred_at=T0 - timedelta(minutes=5),
            correlation_id=f"presence-{a}",
            agent_id=a,
            presence="available",
            previous_presence="offline",
            changed_at=T0 - timedelta(minutes=5),
        )
        for i, a in enumerate(sorted(config_agents))
        if i % 4 != 3  # a quarter of the office is not in today
    ]


async def run_until_idle(*procs: Processor[Any]) -> None:
    async def loop() -> None:
        idle = 0
        while idle < 3:
            consumed = 0
            for p in procs:
                consumed += await p.step(timeout_ms=300)
            idle = idle + 1 if consumed == 0 else 0

    await asyncio.wait_for(loop(), timeout=240)


async def read(settings: Settings, contract: Contract, topic: str, partitions: int) -> list[Any]:
    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)
        messages: list[Any] = []
        while len(messages) < sum(ends.values()):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                messages.extend(records)
    finally:
        await consumer.stop()
    return [r.event for r in await contract.decode(messages) if isinstance(r, Received)]


async def test_every_case_of_the_day_ends_assigned_waiting_with_a_reason_or_closed_by_a_rule(
    settings: Settings, contract: Contract, topics: dict[str, str]
) -> None:
    routing_core = RoutingCore()
    conv_routes = {
        n: Route(topics["out"], "event_id")
        for n in ("CaseOpened", "CaseReopened", "CaseResumed", "CasePutOnHold", "MessageSent")
    }
    conv_routes |= {n: Route(topics["routing"], "case_id") for n in ("CaseTriaged", "CaseClosed")}
    router_routes = {
        n: Route(topics["out"], "case_id") for n in ("CaseQueued", "RoutingDecided", "CaseAssigned")
    }
    group = uuid.uuid4().hex[:8]
    conversation = Processor(
        ConversationCore(),
        contract,
        settings.kafka,
        input_topic=topics["conv"],
        routes=conv_routes,
        group_id=f"day.conv.{group}",
    )
    router = Processor(
        routing_core,
        contract,
        settings.kafka,
        input_topic=topics["routing"],
        routes=router_routes,
        group_id=f"day.router.{group}",
        max_snapshot_bytes=ROUTER_SNAPSHOT_BYTES,
    )

    producer = make_producer(settings.kafka)
    await producer.start()
    await conversation.start()
    await router.start()
    try:
        publisher = contract.publisher(
            producer,
            source="/test/day",
            routes={
                "MessageReceived": Route(topics["conv"], "contact_id"),
                "AgentPresenceChanged": Route(topics["routing"], "agent_id"),
            },
        )
        await publisher.publish_many(
            [(e.NAME, e.to_record()) for e in agents_online(list(routing_core.config.agents))]
        )
        for n in range(CITIZENS):
            await publisher.publish_many([(m.NAME, m.to_record()) for m in citizen_messages(n)])
        await run_until_idle(conversation, router)

        # Three days later: silent citizens are reminded then closed; waiting cases escalate.
        later = [T0 + timedelta(days=3)]
        timer = Timer(
            producer,
            contract.codec,
            {topics["conv"]: range(6), topics["routing"]: [0]},
            clock=lambda: later[0],
        )
        await timer.beat()
        await run_until_idle(conversation, router)
    finally:
        await router.stop()
        await conversation.stop()
        await producer.stop()

    events = await read(settings, contract, topics["out"], 6) + await read(
        settings, contract, topics["routing"], 1
    )
    opened = {e.record["case_id"] for e in events if e.name == "CaseOpened"}
    assigned = {e.record["case_id"] for e in events if e.name == "CaseAssigned"}
    closed = {e.record["case_id"]: e.record["reason"] for e in events if e.name == "CaseClosed"}
    last_decision: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.name == "RoutingDecided":
            last_decision[e.record["case_id"]] = e.record
    waiting = {c for c, d in last_decision.items() if d["chosen_agent_id"] is None and d["reason"]}

    assert len(opened) == CITIZENS
    unaccounted = opened - assigned - waiting - set(closed)
    assert not unaccounted, f"{len(unaccounted)} cases neither assigned, waiting nor closed"
    silent = {
        e.record["case_id"]
        for e in events
        if e.name == "CaseOpened" and int(e.record["contact_id"].split("-")[1]) % 5 == 1
    }
    assert all(closed.get(c) == "auto_closed_inactivity" for c in silent)
    urgent_cases = {
        e.record["case_id"]
        for e in events
        if e.name == "CaseTriaged" and e.record["priority"] == "urgent"
    }
    assert len(urgent_cases) == CITIZENS // 10
    assert urgent_cases <= assigned | waiting
    per_case = [e.record["case_id"] for e in events if e.name == "CaseAssigned"]
    assert len(per_case) == len(set(per_case)), "a case was assigned twice"
    areas = {e.record["area"] for e in events if e.name == "CaseTriaged"}
    assert {
        "familia",
        "criminal",
        "saude",
        "moradia",
        "previdencia",
        "consumidor",
        "violencia_domestica",
        "infancia_juventude",
        "idoso",
        "execucao_penal",
    } <= areas
    load: dict[str, int] = {}
    for e in events:
        if e.name == "CaseAssigned":
            load[e.record["agent_id"]] = load.get(e.record["agent_id"], 0) + 1
    capacity = {a: p.capacity for a, p in routing_core.config.agents.items()}
    assert all(n <= capacity[a] for a, n in load.items()), "an agent went above capacity"
    assert len(load) > len(capacity) // 2  # the work is spread over the office
