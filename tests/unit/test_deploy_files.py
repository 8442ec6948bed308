"""deploy/docker-compose.yml runs the same stack as `acolhe stack up`: same versions,
ports and broker settings. No Docker engine here, so the file is checked as data."""

from __future__ import annotations

from string import Template
from typing import Any

import yaml

from streams.shared.settings import (
    DEFAULT_CONTROLLER_PORT,
    DEFAULT_KAFKA_PORT,
    DEFAULT_POSTGRES_PORT,
)
from streams.stack import tools

DEPLOY = tools.DEPLOY_DIR


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _server_properties() -> dict[str, str]:
    text = Template((DEPLOY / "kafka" / "server.properties").read_text()).substitute(
        kafka_port=DEFAULT_KAFKA_PORT, controller_port=DEFAULT_CONTROLLER_PORT, log_dirs="/x"
    )
    props = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def test_compose_is_a_valid_two_service_file_with_healthchecks() -> None:
    compose = _compose()
    assert set(compose["services"]) == {"kafka", "postgres"}
    for name, service in compose["services"].items():
        assert ":" in service["image"], f"{name} image must be pinned"
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
        for port in service["ports"]:
            host, _, _ = str(port).rpartition(":")
            assert host.startswith("127.0.0.1:"), "publish on loopback only"
    declared = set(compose["volumes"])
    used = {v.split(":")[0] for s in compose["services"].values() for v in s["volumes"]}
    assert used == declared


def test_compose_runs_the_same_kafka_version_as_the_local_stack() -> None:
    pom = (DEPLOY / "kafka" / "pom.xml").read_text()
    pinned = pom.split("<kafka.version>")[1].split("<")[0]
    assert _compose()["services"]["kafka"]["image"] == f"apache/kafka:{pinned}"


def test_compose_publishes_the_local_stack_ports() -> None:
    services = _compose()["services"]
    assert f"127.0.0.1:{DEFAULT_KAFKA_PORT}:{DEFAULT_KAFKA_PORT}" in services["kafka"]["ports"]
    assert f"127.0.0.1:{DEFAULT_POSTGRES_PORT}:5432" in services["postgres"]["ports"]
    env = services["kafka"]["environment"]
    assert f"PLAINTEXT://127.0.0.1:{DEFAULT_KAFKA_PORT}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "acolhe"


def test_compose_broker_settings_match_server_properties() -> None:
    env = _compose()["services"]["kafka"]["environment"]
    props = _server_properties()
    # Listener wiring differs on purpose (container networking); everything else must agree.
    skip = {
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "inter.broker.listener.name",
        "controller.quorum.voters",
        "log.dirs",
        # thread counts and housekeeping intervals are left to the image's defaults
        "num.network.threads",
        "num.io.threads",
        "num.recovery.threads.per.data.dir",
        "background.threads",
        "log.retention.check.interval.ms",
    }
    compared = 0
    for key, value in props.items():
        if key in skip:
            continue
        env_key = "KAFKA_" + key.upper().replace(".", "_")
        assert env.get(env_key) == value, f"{env_key} differs from server.properties {key}"
        compared += 1
    assert compared >= 10
