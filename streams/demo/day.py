"""A simulated day through the real processors on the real broker.

Steps, in order:
1. fresh topics for this run: the conversation stream (6 partitions, by contact), the
   routing stream (1 partition) and an output topic;
2. morning: three quarters of the office logs in; the first half of the citizens write;
3. midday: some agents leave, the rest arrive; the second half of the citizens write;
4. three days later, one tick: silent citizens are reminded and their cases closed;
   cases still waiting escalate;
5. read every event back and account for every case: assigned, waiting with a reason, or
   closed by a rule.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from streams.conversation.processor import ConversationCore
from streams.demo.people import T0, citizen_messages, midday, morning
from streams.routing.processor import ROUTER_SNAPSHOT_BYTES, RoutingCore
from streams.shared.contract import Contract
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import (
    TopicSpec,
    delete_topics,
    ensure_topics,
    make_producer,
)
from streams.shared.runtime import Processor
from streams.shared.settings import Settings
from streams.timer.service import Timer

CONVERSATION_OUT = ("CaseOpened", "CaseReopened", "CaseResumed", "CasePutOnHold", "MessageSent")
ROUTER_IN = ("CaseTriaged", "CaseClosed")
ROUTER_OUT = ("CaseQueued", "RoutingDecided", "CaseAssigned")


@dataclass
class DayOutcome:
    events: list[Any] = field(default_factory=list)
    opened: dict[str, str] = field(default_factory=dict)  # case -> contact
    assigned: dict[str, str] = field(default_factory=dict)  # case -> agent
    waiting: dict[str, str] = field(default_factory=dict)  # case -> the router's reason
    closed: dict[str, str] = field(default_factory=dict)  # case -> close reason
    triaged: dict[str, dict[str, Any]] = field(default_factory=dict)  # case -> CaseTriaged

    @property
    def unaccounted(self) -> set[str]:
        return set(self.opened) - set(self.assigned) - set(self.waiting) - set(self.closed)


async def run_day(settings: Settings, contract: Contract, citizens: int) -> DayOutcome:
    run = uuid.uuid4().hex[:8]
    conv, routing, out = f"demo.day.conv.{run}", f"demo.day.routing.{run}", f"demo.day.out.{run}"
    await ensure_topics(
        settings.kafka, [TopicSpec(conv, 6), TopicSpec(routing, 1), TopicSpec(out, 6)]
    )
    routing_core = RoutingCore()
    conversation = Processor(
        ConversationCore(),
        contract,
        settings.kafka,
        input_topic=conv,
        routes={n: TopicRoute(out, "event_id") for n in CONVERSATION_OUT}
        | {n: TopicRoute(routing, "case_id") for n in ROUTER_IN},
        group_id=f"demo.day.conv.{run}",
    )
    router = Processor(
        routing_core,
        contract,
        settings.kafka,
        input_topic=routing,
        routes={n: TopicRoute(out, "case_id") for n in ROUTER_OUT},
        group_id=f"demo.day.router.{run}",
        max_snapshot_bytes=ROUTER_SNAPSHOT_BYTES,
    )
    producer = make_producer(settings.kafka)
    await producer.start()
    await conversation.start()
    await router.start()
    try:
        publisher = contract.publisher(
            producer,
            source="/acolhe/demo",
            routes={
                "MessageReceived": TopicRoute(conv, "contact_id"),
                "AgentPresenceChanged": TopicRoute(routing, "agent_id"),
            },
        )
        agents = sorted(routing_core.config.agents)
        half = citizens // 2
        await publisher.publish_many([(e.NAME, e.to_record()) for e in morning(agents)])
        for n in range(half):
            await publisher.publish_many([(m.NAME, m.to_record()) for m in citizen_messages(n)])
        await _until_idle(conversation, router)
        noon = timedelta(seconds=half * 30)
        await publisher.publish_many([(e.NAME, e.to_record()) for e in midday(agents, noon)])
        for n in range(half, citizens):
            await publisher.publish_many([(m.NAME, m.to_record()) for m in citizen_messages(n)])
        await _until_idle(conversation, router)
        later = T0 + timedelta(days=3)
        timer = Timer(producer, contract.codec, {conv: range(6), routing: [0]}, clock=lambda: later)
        await timer.beat()
        await _until_idle(conversation, router)
    finally:
        await router.stop()
        await conversation.stop()
        await producer.stop()
    try:
        events = await _read(settings, contract, out, 6) + await _read(
            settings, contract, routing, 1
        )
    finally:
        await delete_topics(settings.kafka, [conv, routing, out])
    return _account(events)


def _account(events: list[Any]) -> DayOutcome:
    day = DayOutcome(events=events)
    for e in events:
        r = e.record
        if e.name == "CaseOpened":
            day.opened[r["case_id"]] = r["contact_id"]
        elif e.name == "CaseAssigned":
            day.assigned[r["case_id"]] = r["agent_id"]
            day.waiting.pop(r["case_id"], None)
        elif e.name == "RoutingDecided" and r["chosen_agent_id"] is None and r["reason"]:
            if r["case_id"] not in day.assigned:
                day.waiting[r["case_id"]] = r["reason"]
        elif e.name == "CaseClosed":
            day.closed[r["case_id"]] = r["reason"]
        elif e.name == "CaseTriaged":
            day.triaged[r["case_id"]] = r
    return day


async def _until_idle(
    *procs: Processor[Any], quiet_rounds: int = 3, timeout_s: float = 300
) -> None:
    async def loop() -> None:
        quiet = 0
        while quiet < quiet_rounds:
            consumed = 0
            for p in procs:
                consumed += await p.step(timeout_ms=300)
            quiet = quiet + 1 if consumed == 0 else 0

    await asyncio.wait_for(loop(), timeout=timeout_s)


async def _read(settings: Settings, contract: Contract, topic: str, partitions: int) -> list[Any]:
    return [
        r.event
        for r in await read_topic(settings.kafka, contract.decode, topic)
        if isinstance(r, Received)
    ]
