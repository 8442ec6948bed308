"""What an operator scrapes from a processor, a projector and the timer on the real broker
and database: the records consumed, the events emitted by type, the SLA clocks breached by
priority, the lag of each partition falling to 0 once caught up, a record that is no event
counted as dead-lettered, and the ticks the broker acknowledged and when the last was; the
metrics are served over HTTP on the port given, and the series that only a running worker
can tell (its lag, its checkpoint's age) go when it stops."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.workloads import office_day
from schemas.codec import Codec, SchemaSet
from schemas.events import EVENT_TYPES
from streams.conversation.processor import ConversationCore
from streams.projections.folds import CaseProjection
from streams.projections.projector import Projector
from streams.shared.contract import Contract
from streams.shared.errors import BadInput
from streams.shared.events import Received, TopicRoute, read_topic
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics, make_producer
from streams.shared.metrics import served
from streams.shared.runtime import Processor
from streams.shared.settings import Settings
from streams.sla.processor import SlaCore
from streams.timer.service import Timer
from tests.integration.projecting import ends, project, publish
from tests.integration.test_conversation_processor import URGENT, message
from tests.integration.test_conversation_processor import publish as publish_messages
from tests.integration.test_sla_processor import OUTPUTS, PARTITIONS
from tests.integration.test_sla_processor import publish as publish_sla_timeline
from tests.unit.sla import builders as b

TIMEOUT_S = 60
GARBAGE = b"\xc3\x01 not an event at all"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def metrics_url() -> AsyncIterator[str]:
    """The metrics served on a free port of this machine, as `acolhe run` serves them."""
    port = free_port()
    async with served(port):
        yield f"http://127.0.0.1:{port}"


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 when the series is not there (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return {ls: v for (n, ls), v in samples.items() if n == name and wanted <= ls}


async def step_until(
    step: Callable[[], Awaitable[Any]], done: Callable[[], Awaitable[bool]]
) -> None:
    async def loop() -> None:
        while not await done():
            await step()

    await asyncio.wait_for(loop(), TIMEOUT_S)


async def send_garbage(settings: Settings, topic: str) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, GARBAGE, key=b"contact-1", partition=0)
    finally:
        await producer.stop()


@pytest.fixture
async def out_topic(settings: Settings) -> AsyncIterator[str]:
    name = f"test.metrics.out.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, partitions=3)])
    yield name
    await delete_topics(settings.kafka, [name])


async def test_a_processor_serves_what_it_consumed_emitted_and_dead_lettered_and_its_lag(
    settings: Settings, topic: str, out_topic: str, contract: Contract, metrics_url: str
) -> None:
    name = f"conversation-{uuid.uuid4().hex[:6]}"
    contacts = range(20)
    burst = [
        message(c, n, URGENT if c % 5 == 0 else text)
        for c in contacts
        for n, text in enumerate(("oi", "bom dia", "preciso de ajuda"))
    ]
    await publish_messages(settings, contract, topic, burst)
    routes = {
        n: TopicRoute(out_topic, "contact_id")
        for n in ("CaseOpened", "MessageSent", "CaseTriaged", "CaseClosed")
    }
    proc: Processor[Any] = Processor(
        ConversationCore(),
        contract,
        settings.kafka,
        input_topic=topic,
        routes=routes,
        group_id=f"test.metrics.{name}",
        changelog_topic=f"test.metrics.{name}.changelog",
        max_records=10,
        name=name,
    )

    async def lags() -> dict[frozenset[tuple[str, str]], float]:
        return series(await scrape(metrics_url), "acolhe_processor_consumer_lag", processor=name)

    await proc.start()
    try:
        # Behind at first: the records not yet consumed show as lag.
        await step_until(proc.step, lambda: _true(proc.stats.events > 0))
        await proc.metrics.lag.refresh(proc._consumer, force=True)
        assert sum((await lags()).values()) > 0

        async def caught_up() -> bool:
            found = await lags()
            return (
                proc.stats.events >= len(burst)
                and len(found) == 6  # every partition of the topic
                and not any(found.values())
            )

        await step_until(proc.step, caught_up)
        await proc.checkpoint()
        samples = await scrape(metrics_url)
        consumed = value(
            samples, "acolhe_processor_records_consumed_total", processor=name, topic=topic
        )
        assert consumed == len(burst)
        emitted = [
            r.event
            for r in await read_topic(settings.kafka, contract.decode, out_topic)
            if isinstance(r, Received)
        ]
        for event_type in ("CaseOpened", "CaseTriaged"):
            assert value(
                samples,
                "acolhe_processor_events_emitted_total",
                processor=name,
                event_type=event_type,
            ) == len([e for e in emitted if e.name == event_type])
        opened = "acolhe_processor_events_emitted_total"
        assert value(samples, opened, processor=name, event_type="CaseOpened") == len(contacts)
        assert value(samples, "acolhe_processor_checkpoint_age_seconds", processor=name) == 0
        assert value(samples, "acolhe_processor_batch_seconds_count", processor=name) >= 6

        # A record that is no event: dead-lettered, counted by the error's type.
        await send_garbage(settings, topic)
        await step_until(proc.step, lambda: _true(proc.stats.dead_lettered == 1))
        dead = series(
            await scrape(metrics_url), "acolhe_processor_dead_lettered_total", processor=name
        )
        assert list(dead.values()) == [1.0]
        (error_type,) = [v for k, v in next(iter(dead)) if k == "error_type"]
        assert error_type in bad_input_types()  # a bounded label: the code's own errors
    finally:
        await proc.stop()
    # Another worker now reports these partitions: this one's lag and age are gone.
    samples = await scrape(metrics_url)
    assert not series(samples, "acolhe_processor_consumer_lag", processor=name)
    assert not series(samples, "acolhe_processor_checkpoint_age_seconds", processor=name)


def bad_input_types() -> set[str]:
    found, todo = set(), [BadInput]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub.__name__)
            todo.append(sub)
    return found


async def _true(condition: bool) -> bool:
    return condition


@pytest.fixture
async def sla_topics(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    run = uuid.uuid4().hex[:8]
    source, out = f"test.metrics.sla.in.{run}", f"test.metrics.sla.out.{run}"
    await ensure_topics(settings.kafka, [TopicSpec(source, PARTITIONS), TopicSpec(out, 3)])
    yield source, out
    await delete_topics(settings.kafka, [source, out])


async def test_sla_clocks_breached_are_counted_by_priority_and_queue(
    settings: Settings,
    contract: Contract,
    sla_topics: tuple[str, str],
    metrics_url: str,
) -> None:
    source, out = sla_topics
    before = await scrape(metrics_url)
    records = await publish_sla_timeline(settings, contract, source)
    proc: Processor[Any] = Processor(
        SlaCore(b.POLICY),
        contract,
        settings.kafka,
        input_topic=source,
        routes={n: TopicRoute(out, "case_id") for n in OUTPUTS},
        group_id=f"test.metrics.sla.{uuid.uuid4().hex[:8]}",
        max_records=200,
    )
    await proc.start()
    try:
        await step_until(proc.step, lambda: _true(proc.stats.events >= records))
        await proc.checkpoint()
    finally:
        await proc.stop()
    after = await scrape(metrics_url)
    outcomes = [
        r.event.record
        for r in await read_topic(settings.kafka, contract.decode, out)
        if isinstance(r, Received) and r.event.name == "SlaBreached"
    ]
    assert outcomes, "the timeline leaves some clocks to breach"
    expected: dict[tuple[str, str, str], int] = {}
    for r in outcomes:
        key = (r["queue_id"], r["metric"], r["priority"])
        expected[key] = expected.get(key, 0) + 1
    for (queue, metric, priority), n in expected.items():
        labels = {
            "event_type": "SlaBreached",
            "queue": queue,
            "metric": metric,
            "priority": priority,
        }
        grew = value(after, "acolhe_sla_events_total", **labels) - value(
            before, "acolhe_sla_events_total", **labels
        )
        assert grew == n, labels


@pytest.fixture
async def conversations(settings: Settings) -> AsyncIterator[str]:
    name = f"test.metrics.proj.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings.kafka, [TopicSpec(name, 3)])
    yield name
    await delete_topics(settings.kafka, [name])


async def test_a_projector_serves_what_it_applied_and_wrote_its_lag_and_its_dead_letters(
    settings: Settings, contract: Contract, conversations: str, pg: Any, metrics_url: str
) -> None:
    events = [EVENT_TYPES[n].from_record(r) for n, r in office_day(6, with_openings=True)]
    await publish(settings, contract, conversations, events)
    end = await ends(settings, conversations)
    schema = f"t_metrics_{uuid.uuid4().hex[:8]}"
    before = await scrape(metrics_url)
    proj = Projector(
        settings,
        contract,
        CaseProjection(),
        schema=schema,
        topic=conversations,
        group_id=f"test.metrics.{schema}",
        max_records=20,
    )

    async def lags() -> dict[frozenset[tuple[str, str]], float]:
        return series(
            await scrape(metrics_url), "acolhe_projector_consumer_lag", topic=conversations
        )

    await proj.start()
    try:
        await step_until(proj.step, lambda: _true(proj.stats.records > 0))
        await proj.metrics.lag.refresh(proj._consumer, force=True)
        assert sum((await lags()).values()) > 0

        await project(proj, end)

        async def caught_up() -> bool:
            found = await lags()
            return len(found) == 3 and not any(found.values())

        await step_until(lambda: proj.step(timeout_ms=200), caught_up)
        after = await scrape(metrics_url)
        applied = value(
            after, "acolhe_projector_records_applied_total", projector="cases", topic=conversations
        )
        assert applied == sum(end.values()) == len(events)

        def grew(samples: Samples, name: str, **labels: str) -> float:
            return value(samples, name, **labels) - value(before, name, **labels)

        cases = await pg.fetchval(f'SELECT count(*) FROM "{schema}".cases')
        rows = grew(after, "acolhe_projector_rows_written_total", projector="cases", table="cases")
        assert cases == 6
        assert rows >= cases  # each case's row written at least once, and again as it changes

        await send_garbage(settings, conversations)
        await step_until(proj.step, lambda: _true(proj.stats.rejected == 1))
        now = await scrape(metrics_url)
        dead = series(now, "acolhe_projector_dead_lettered_total", projector="cases")
        assert (
            sum(
                v - value(before, "acolhe_projector_dead_lettered_total", **dict(k))
                for k, v in dead.items()
            )
            == 1
        )
        assert value(now, "acolhe_projector_commit_age_seconds", projector="cases") == 0
    finally:
        await proj.stop()
        await pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert not await lags()


async def test_health_is_answered_where_the_metrics_are(metrics_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{metrics_url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_the_timer_serves_the_ticks_the_broker_acknowledged_and_when_the_last_was(
    settings: Settings, topic: str, out_topic: str, metrics_url: str
) -> None:
    # As `acolhe run timer` ticks: every partition of one topic, one partition of another
    # (acolhe.routing's 0), here every 100 ms.
    partitions = {topic: range(6), out_topic: [0]}
    ticks = "acolhe_timer_ticks_total"
    last = "acolhe_timer_last_tick_timestamp_seconds"
    before = await scrape(metrics_url)
    assert not series(before, last, topic=topic)  # no tick yet: no time of one either
    started = time.time()
    producer = make_producer(settings.kafka)
    await producer.start()
    stop = asyncio.Event()
    try:
        timer = Timer(
            producer,
            Codec(SchemaSet.from_dirs()),
            partitions,
            interval=timedelta(milliseconds=100),
        )
        running = asyncio.create_task(timer.run(stop))

        async def ticked_thrice() -> bool:
            return (await ends(settings, out_topic))[(out_topic, 0)] >= 3

        await step_until(lambda: asyncio.sleep(0.05), ticked_thrice)
        stop.set()
        await asyncio.wait_for(running, TIMEOUT_S)
    finally:
        stop.set()
        await producer.stop()
    samples = await scrape(metrics_url)
    scraped = time.time()

    # One per record the topics now hold, each broadcast in every partition it was sent to.
    written = {**await ends(settings, topic), **await ends(settings, out_topic)}
    broadcasts = written[(out_topic, 0)]
    assert broadcasts >= 3
    assert {tp: n for tp, n in written.items() if n} == {
        **{(topic, p): broadcasts for p in range(6)},
        (out_topic, 0): broadcasts,
    }
    assert value(samples, ticks, topic=topic) == 6 * broadcasts
    assert value(samples, ticks, topic=out_topic) == broadcasts
    # The wall-clock time of the last acknowledgement: during this test, for both topics.
    for name in (topic, out_topic):
        assert started <= value(samples, last, topic=name) <= scraped
