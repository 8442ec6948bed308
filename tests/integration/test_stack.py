"""The local stack as a user drives it: up, status, down, data kept, purge."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streams.shared.errors import StackError
from streams.shared.kafka import TopicSpec, ensure_topics
from streams.shared.postgres import connect
from streams.shared.settings import Settings
from streams.stack import tools
from streams.stack.kafka import LocalKafka
from streams.stack.manager import Stack


def _pinned_kafka_version() -> str:
    pom = (tools.DEPLOY_DIR / "kafka" / "pom.xml").read_text()
    return pom.split("<kafka.version>")[1].split("<")[0]


def test_status_reports_broker_and_database_healthy_with_versions(
    stack: Stack, settings: Settings
) -> None:
    by_name = {c.name: c for c in stack.status()}

    assert by_name["kafka"].healthy
    assert by_name["postgres"].healthy
    assert by_name["kafka"].address == settings.kafka.bootstrap_servers
    if not settings.uses_external_kafka:
        assert by_name["kafka"].version == _pinned_kafka_version()
    assert by_name["postgres"].version
    assert by_name["postgres"].version[0].isdigit()


def test_status_command_prints_json_and_exits_zero_when_healthy(stack: Stack) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "stack", "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    components = {c["name"]: c for c in json.loads(done.stdout)}
    assert components["kafka"]["healthy"] is True
    assert components["postgres"]["healthy"] is True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def fresh_settings(tmp_path: Path) -> Settings:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACOLHE_")}
    env.update(
        {
            "ACOLHE_STATE_DIR": str(tmp_path / "state"),
            "ACOLHE_STACK_KAFKA_PORT": str(_free_port()),
            "ACOLHE_STACK_CONTROLLER_PORT": str(_free_port()),
            "ACOLHE_STACK_POSTGRES_PORT": str(_free_port()),
        }
    )
    return Settings.from_env(env)


def test_a_second_stack_in_a_fresh_state_dir_keeps_its_data_across_down_and_up(
    fresh_settings: Settings,
) -> None:
    stack = Stack(fresh_settings)
    try:
        stack.up()
        assert all(c.healthy for c in stack.status())

        async def write() -> None:
            await ensure_topics(fresh_settings.kafka, [TopicSpec("kept", partitions=2)])
            conn = await connect(fresh_settings.postgres)
            await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
            await conn.close()

        asyncio.run(write())
        stack.down()
        assert not any(c.running for c in stack.status())

        stack.up()

        async def read() -> tuple[list[str], int]:
            from aiokafka.admin import AIOKafkaAdminClient

            admin = AIOKafkaAdminClient(**fresh_settings.kafka.client_options())
            await admin.start()
            topics = await admin.list_topics()
            await admin.close()
            conn = await connect(fresh_settings.postgres)
            n = await conn.fetchval("SELECT n FROM kept")
            await conn.close()
            return topics, int(n)

        topics, n = asyncio.run(read())
        assert "kept" in topics
        assert n == 42
    finally:
        stack.down(purge=True)
    assert not fresh_settings.stack.state_dir.exists()


def test_starting_kafka_on_a_taken_port_fails_with_what_to_do(fresh_settings: Settings) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {
            "ACOLHE_STATE_DIR": str(fresh_settings.stack.state_dir),
            "ACOLHE_STACK_KAFKA_PORT": str(port),
        }
        kafka = LocalKafka(Settings.from_env(env).stack)

        with pytest.raises(StackError, match="ACOLHE_STACK_KAFKA_PORT"):
            kafka.start()
