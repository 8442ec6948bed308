"""`acolhe run conversation | router | sla | timer | whatsapp | email | webchat | gateway`:
one processor or channel connector as a long-running service.

Topics come from the catalog (`acolhe.conversations`, `acolhe.routing`, `acolhe.sla`,
`acolhe.commands` where both processors write their refusals, `acolhe.outbound`, the copy
of each MessageSent the connectors deliver, and `acolhe.deadletter`, where a connector sets
aside what it refuses), declared if missing.
SIGTERM or SIGINT stops the service cleanly: the processor checkpoints its state and
offsets before it exits.

The processors and the timer serve Prometheus `/metrics` and `/healthz` on
ACOLHE_METRICS_PORT when it is set (streams.shared.metrics; docs/processing.md, "Metrics");
the connectors serve theirs on their own HTTP face.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
from datetime import timedelta
from typing import Any

from schemas.catalog import BY_NAME, TOPICS
from streams.shared import loop as event_loop
from streams.shared import metrics
from streams.shared.kafka import TopicSpec, ensure_topics, make_producer
from streams.shared.logs import configure_logging
from streams.shared.settings import Settings

CONVERSATIONS = "acolhe.conversations"
ROUTING = "acolhe.routing"
COMMANDS = "acolhe.commands"
SLA = "acolhe.sla"
OUTBOUND = "acolhe.outbound"
DEADLETTER = "acolhe.deadletter"
PROCESSORS = ("conversation", "router", "sla", "timer")
CONNECTORS = ("whatsapp", "email", "webchat", "gateway")
"""Each is `connectors.<name>.service.serve(settings, contract, stop)`."""
SERVICES = (*PROCESSORS, *CONNECTORS)
log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run", help="run one processor or connector until stopped (SIGTERM/SIGINT)"
    )
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument(
        "--tick-seconds", type=float, default=1.0, help="the timer's interval (1 s)"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    if args.tick_seconds <= 0:
        print("acolhe run: --tick-seconds must be positive")
        return 2
    event_loop.run(_serve(settings, args.service, timedelta(seconds=args.tick_seconds)))
    return 0


async def _serve(settings: Settings, service: str, tick: timedelta) -> None:
    from streams.shared.contract import Contract

    await ensure_topics(
        settings.kafka,
        [
            TopicSpec(t, partitions=TOPICS[t].partitions)
            for t in (CONVERSATIONS, ROUTING, COMMANDS, SLA, OUTBOUND, DEADLETTER)
        ],
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    contract = await Contract.open(settings)
    try:
        if service in CONNECTORS:
            module = importlib.import_module(f"connectors.{service}.service")
            await module.serve(settings, contract, stop)
        elif service == "timer":
            async with metrics.served(settings.metrics_port):
                await _timer(settings, contract, tick, stop)
        else:
            async with metrics.served(settings.metrics_port):
                await _processor(settings, contract, service, stop)
    finally:
        await contract.close()
    log.info("stopped", extra={"service": service})


async def _processor(settings: Settings, contract: Any, service: str, stop: asyncio.Event) -> None:
    from streams.shared.runtime import Processor

    if service == "conversation":
        from streams.conversation.processor import ConversationCore

        proc: Processor[Any] = Processor(
            ConversationCore(),
            contract,
            settings.kafka,
            input_topic=CONVERSATIONS,
            routes=BY_NAME,
            group_id="acolhe.conversation",
            name=service,
        )
    elif service == "sla":
        from streams.sla.processor import SlaCore

        # The clocks read the conversations (case facts, messages, ticks, and the changes
        # of SLA policy written into every partition) and write acolhe.sla.
        proc = Processor(
            SlaCore(),
            contract,
            settings.kafka,
            input_topic=CONVERSATIONS,
            routes=BY_NAME,
            group_id="acolhe.sla",
            name=service,
        )
    else:
        from streams.routing.processor import ROUTER_SNAPSHOT_BYTES, RoutingCore

        proc = Processor(
            RoutingCore(),
            contract,
            settings.kafka,
            input_topic=ROUTING,
            routes=BY_NAME,
            group_id="acolhe.router",
            max_snapshot_bytes=ROUTER_SNAPSHOT_BYTES,
            name=service,
        )
    await proc.start()
    log.info("started", extra={"service": service, "topic": proc.input_topic})
    try:
        await proc.run(stop)
    finally:
        await proc.stop()


async def _timer(settings: Settings, contract: Any, tick: timedelta, stop: asyncio.Event) -> None:
    from streams.timer.service import Timer

    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        partitions = {CONVERSATIONS: range(TOPICS[CONVERSATIONS].partitions), ROUTING: [0]}
        log.info("started", extra={"service": "timer", "interval_s": tick.total_seconds()})
        await Timer(producer, contract.codec, partitions, interval=tick).run(stop)
    finally:
        await producer.stop()
