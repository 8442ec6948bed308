"""The processors', projectors' and timer's metrics, where they are served, and the alerts on
them: counted once per batch (the timer's once per acknowledged broadcast) with bounded
labels, served on the port the settings give (none by default), declared where the
deployments scrape them, and the alerting rules name only metrics and labels the code
defines, so the rules cannot drift from the code."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, get_args

import aiohttp
import pytest
import yaml
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import connectors.common.http
import connectors.common.outbound
from schemas.codec import Codec, SchemaSet
from schemas.events import EVENT_TYPES, Priority, SlaMetric
from streams.cli import projections as projections_cmd
from streams.cli import run as run_cmd
from streams.shared import metrics
from streams.shared.errors import ConfigurationError
from streams.shared.settings import Settings
from streams.timer.service import Timer
from tests.unit.test_deploy_files import APP_FILE, DEPLOY, REPO

RULES = DEPLOY / "prometheus" / "acolhe-rules.yml"
_NAME = re.compile(r"\bacolhe_[a-z0-9_]+")
_SELECTOR = re.compile(r"\b(acolhe_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


@cache
def defined() -> dict[str, frozenset[str]]:
    """Every series name the registry exposes (suffixes included), with the labels of the
    metrics the code declares (acolhe's, in the modules that define them)."""
    labels: dict[str, frozenset[str]] = {}
    for module in (metrics, connectors.common.http, connectors.common.outbound):
        for obj in vars(module).values():
            if isinstance(obj, MetricWrapperBase):
                labels[obj._name] = frozenset(obj._labelnames)
    found: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        for suffix in _SUFFIXES.get(family.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            found[family.name + suffix] = labels.get(family.name, frozenset()) | extra
    return found


def alerts() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


# -- the alerting rules -----------------------------------------------------------------------


def test_every_alert_says_what_happened_and_what_to_do() -> None:
    rules = alerts()
    assert len({r["alert"] for r in rules}) == len(rules) >= 8
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert len(rule["annotations"]["description"]) > 80, rule["alert"]


def test_every_alert_names_only_metrics_and_labels_the_code_defines() -> None:
    known = defined()
    named: set[str] = set()
    for rule in alerts():
        expr = rule["expr"]
        names = set(_NAME.findall(expr))
        assert names, f"{rule['alert']} names no acolhe metric"
        unknown = names - set(known)
        assert not unknown, f"{rule['alert']}: no metric {sorted(unknown)} in the code"
        named |= names
        for name, matchers in _SELECTOR.findall(expr):
            for label, _, wanted in _MATCHER.findall(matchers):
                assert label in known[name], f"{rule['alert']}: {name} has no label {label}"
                assert_real(label, wanted, rule["alert"])
    # What the brief of these alerts promises: lag, checkpoints, dead letters, SLA, 5xx,
    # the timer's ticks.
    for name in (
        "acolhe_processor_consumer_lag",
        "acolhe_processor_checkpoint_age_seconds",
        "acolhe_processor_dead_lettered_total",
        "acolhe_projector_consumer_lag",
        "acolhe_sla_events_total",
        "acolhe_connector_requests_total",
        "acolhe_timer_last_tick_timestamp_seconds",
    ):
        assert name in named


def assert_real(label: str, wanted: str, alert: str) -> None:
    """A label value an alert matches is one the code can write."""
    if label == "processor":
        assert wanted in run_cmd.PROCESSORS, f"{alert}: no processor {wanted}"
    elif label == "projector":
        assert wanted in projections_cmd.PROJECTIONS, f"{alert}: no projector {wanted}"
    elif label == "event_type":
        assert wanted in EVENT_TYPES, f"{alert}: no event {wanted}"
    elif label == "priority":
        assert wanted in get_args(Priority), f"{alert}: no priority {wanted}"
    elif label == "metric":
        assert wanted in get_args(SlaMetric), f"{alert}: no SLA metric {wanted}"


# -- counted once per batch, with bounded labels ----------------------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def breached(case: int, priority: str) -> tuple[str, dict[str, Any]]:
    return (
        "SlaBreached",
        {"case_id": f"case-{case}", "queue_id": "violencia", "metric": "first_response",
         "priority": priority},
    )  # fmt: skip


def test_a_batch_counts_its_records_its_events_by_type_and_its_dead_letters_by_error() -> None:
    name = f"unit-{uuid.uuid4().hex[:6]}"
    m = metrics.ProcessorMetrics(name, "acolhe.conversations")
    urgent = {"event_type": "SlaBreached", "queue": "violencia", "metric": "first_response"}
    before = sample("acolhe_sla_events_total", **urgent, priority="urgent")
    outputs = [("CaseOpened", {"case_id": "c-1"}), breached(1, "urgent"), breached(2, "urgent")]
    outputs += [breached(3, "normal")]
    dead = [("InputDeadLettered", {"error_type": "UnknownFingerprint"})]

    m.batch(40, outputs, dead, 0.003)
    m.batch(10, [], [], 0.001)

    consumed = {"processor": name, "topic": "acolhe.conversations"}
    assert sample("acolhe_processor_records_consumed_total", **consumed) == 50
    emitted = "acolhe_processor_events_emitted_total"
    assert sample(emitted, processor=name, event_type="SlaBreached") == 3
    assert sample(emitted, processor=name, event_type="CaseOpened") == 1
    assert sample("acolhe_sla_events_total", **urgent, priority="urgent") - before == 2
    dead_lettered = "acolhe_processor_dead_lettered_total"
    assert sample(dead_lettered, processor=name, error_type="UnknownFingerprint") == 1
    assert sample("acolhe_processor_batch_seconds_count", processor=name) == 2
    # No label holds a case's id: the outputs' ids appear nowhere in the registry.
    text = "".join(str(s.labels) for f in REGISTRY.collect() for s in f.samples)
    assert "case-1" not in text
    assert "c-1" not in text


def test_the_checkpoint_age_counts_only_while_consumed_inputs_wait() -> None:
    name = f"unit-{uuid.uuid4().hex[:6]}"
    m = metrics.ProcessorMetrics(name, "t")
    age = "acolhe_processor_checkpoint_age_seconds"
    assert sample(age, processor=name) == 0
    m.freshness.consumed()
    m.freshness.committed_at -= 120  # as if the last checkpoint were two minutes ago
    assert sample(age, processor=name) >= 120
    m.freshness.committed()
    assert sample(age, processor=name) == 0
    m.close()
    assert REGISTRY.get_sample_value(age, {"processor": name}) is None


class Broker:
    """Acknowledges every record sent to it but those of the partition `failing` names."""

    def __init__(self) -> None:
        self.failing: tuple[str, int] | None = None

    async def send(self, topic: str, *, partition: int, **record: Any) -> asyncio.Future[None]:
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if (topic, partition) == self.failing:
            ack.set_exception(KafkaTimeoutError())
        else:
            ack.set_result(None)
        return ack


async def test_the_timer_counts_a_broadcast_once_every_partition_of_it_is_acknowledged() -> None:
    run = uuid.uuid4().hex[:6]
    conversations, routing = f"unit.conversations.{run}", f"unit.routing.{run}"
    now = [datetime(2026, 11, 28, 12, 0, 0, 500_000, tzinfo=UTC)]
    broker = Broker()
    timer = Timer(
        broker,
        Codec(SchemaSet.from_dirs()),
        {conversations: range(12), routing: [0]},
        clock=lambda: now[0],
    )
    ticks, last = "acolhe_timer_ticks_total", "acolhe_timer_last_tick_timestamp_seconds"

    broker.failing = (conversations, 7)
    with pytest.raises(KafkaTimeoutError):
        await timer.beat()
    # Not acknowledged everywhere: not counted, and no time of a last tick, which an
    # unlabelled gauge would show (as 0) in every process, the processors' too.
    assert sample(ticks, topic=conversations) == sample(ticks, topic=routing) == 0
    assert REGISTRY.get_sample_value(last, {"topic": conversations}) is None

    broker.failing = None
    before = time.time()
    await timer.beat()  # the same tick again (downstream drops the copies by their id)
    now[0] += timedelta(seconds=1)
    await timer.beat()

    assert sample(ticks, topic=conversations) == 2 * 12
    assert sample(ticks, topic=routing) == 2
    for topic in (conversations, routing):
        assert before <= sample(last, topic=topic) <= time.time()


# -- served where the settings say ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_metrics_are_served_on_the_port_given_and_the_port_closes_after() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with metrics.served(port):
            async with http.get(f"{url}/metrics") as response:
                assert response.status == 200
                assert "acolhe_processor_records_consumed_total" in await response.text()
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
        with pytest.raises(aiohttp.ClientConnectionError):
            await asyncio.wait_for(http.get(f"{url}/healthz"), 5)


def test_the_metrics_port_is_off_unless_set_and_a_bad_one_is_named() -> None:
    assert Settings.from_env({}).metrics_port == 0
    assert Settings.from_env({"ACOLHE_METRICS_PORT": "9400"}).metrics_port == 9400
    assert Settings.from_env({"ACOLHE_METRICS_PORT": "9400"}).describe()["metrics.port"] == 9400
    for bad in ("http", "-1", "70000"):
        with pytest.raises(ConfigurationError, match="ACOLHE_METRICS_PORT"):
            Settings.from_env({"ACOLHE_METRICS_PORT": bad})


def test_docs_settings_list_every_variable_the_settings_read() -> None:
    code = (REPO / "streams" / "shared" / "settings.py").read_text()
    read = set(re.findall(r'"(ACOLHE_[A-Z0-9_]+)"', code))
    listed = (REPO / "docs" / "settings.md").read_text()
    # `ACOLHE_KAFKA_SSL_CAFILE`, `_CERTFILE`: a short name stands for the same prefix
    missing = {
        v for v in read if f"`{v}`" not in listed and f"`_{v.rsplit('_', 1)[1]}`" not in listed
    }
    assert not missing, f"docs/settings.md does not list {sorted(missing)}"


# -- declared where the deployments scrape ----------------------------------------------------


def _workers() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(Deployment, container) of every processor and projector in the Kubernetes base."""
    found = []
    for path in ("processors.yaml", "projectors.yaml"):
        for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / path).read_text()):
            if doc and doc["kind"] == "Deployment":
                (container,) = doc["spec"]["template"]["spec"]["containers"]
                found.append((doc, container))
    return found


def test_kubernetes_processors_and_projectors_serve_metrics_where_prometheus_scrapes() -> None:
    workers = _workers()
    commands = {tuple(c["args"]) for _, c in workers}
    assert commands == {("run", p) for p in run_cmd.PROCESSORS} | {
        ("projections", "run", p) for p in projections_cmd.PROJECTIONS
    }
    for workload, container in workers:
        name = workload["metadata"]["name"]
        env = {v["name"]: v["value"] for v in container["env"] if "value" in v}
        port = Settings.from_env(env).metrics_port
        assert port, f"{name} serves no metrics"
        assert [p["containerPort"] for p in container["ports"]] == [port], name
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(port), name
        assert annotations["prometheus.io/path"] == "/metrics", name


def test_compose_processors_and_projectors_serve_metrics_on_loopback() -> None:
    services = yaml.safe_load(APP_FILE.read_text())["services"]
    workers = {
        n: s
        for n, s in services.items()
        if (s["command"][0] == "run" and s["command"][1] in run_cmd.PROCESSORS)
        or s["command"][:2] == ["projections", "run"]
    }
    assert len(workers) == len(run_cmd.PROCESSORS) + len(projections_cmd.PROJECTIONS)
    hosts = set()
    for name, service in workers.items():
        env = {"ACOLHE_METRICS_PORT": service["environment"].get("ACOLHE_METRICS_PORT", "")}
        port = Settings.from_env(env).metrics_port
        assert port, name
        (published,) = service["ports"]
        host, _, inner = published.rpartition(":")
        assert int(inner) == port, name
        hosts.add(host)
        assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"]), name
    assert len(hosts) == len(workers), "each on its own port of the host"


def test_kubernetes_http_connectors_are_scraped_on_the_port_that_serves_metrics() -> None:
    # The connectors serve /metrics beside their routes (the email connector on an HTTP
    # face of its own); the 5xx and delivery alerts need them scraped.
    for path in ("whatsapp.yaml", "email.yaml", "webchat.yaml", "gateway.yaml"):
        for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / path).read_text()):
            if not doc or doc["kind"] != "Deployment":
                continue
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            (http,) = [p for p in container["ports"] if p["name"] == "http"]
            annotations = doc["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true", path
            assert annotations["prometheus.io/port"] == str(http["containerPort"]), path
            assert annotations["prometheus.io/path"] == "/metrics", path
