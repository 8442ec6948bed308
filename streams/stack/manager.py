"""The local stack as one unit: `up`, `down`, `status` over the Kafka broker and Postgres."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from streams.shared.settings import Settings
from streams.stack.kafka import LocalKafka
from streams.stack.postgres import LocalPostgres


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    healthy: bool
    running: bool
    version: str | None
    address: str
    data_dir: str
    pid: int | None
    detail: str
    external: bool


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kafka = LocalKafka(settings.stack)
        self.postgres = LocalPostgres(settings.stack)

    def up(self) -> None:
        """Start what is not running (both servers boot side by side) and wait until they answer."""
        self.settings.stack.state_dir.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="stack-up") as pool:
            futures = [pool.submit(self.kafka.start), pool.submit(self.postgres.start)]
            errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error

    def down(self, *, purge: bool = False) -> None:
        """Stop both servers; with `purge`, delete their data and logs too."""
        self.kafka.stop()
        self.postgres.stop()
        if purge and self.settings.stack.state_dir.exists():
            shutil.rmtree(self.settings.stack.state_dir)

    def status(self) -> list[ComponentStatus]:
        s = self.settings
        kafka_external = s.uses_external_kafka
        pg_external = s.uses_external_postgres
        k = self.kafka.health(s.kafka if kafka_external else None)
        p = self.postgres.health(s.postgres.dsn.reveal() if pg_external else None)
        return [
            ComponentStatus(
                "kafka",
                k.healthy,
                k.running,
                k.version,
                k.address,
                str(k.data_dir) if not kafka_external else "(external)",
                k.pid,
                k.detail + (f"; cluster {k.cluster_id}" if k.cluster_id else ""),
                kafka_external,
            ),
            ComponentStatus(
                "postgres",
                p.healthy,
                p.running,
                p.version,
                p.address,
                str(p.data_dir) if not pg_external else "(external)",
                p.pid,
                p.detail,
                pg_external,
            ),
        ]
