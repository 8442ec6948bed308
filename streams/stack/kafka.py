"""The local Kafka broker: one KRaft node (broker + controller) run on the machine's JDK.

Steps of `start`, in order:
1. resolve the classpath of the pinned Kafka jars (deploy/kafka/pom.xml) with Maven, once;
   later runs reuse the cached classpath and the jars in ~/.m2, offline;
2. render deploy/kafka/server.properties into the state directory;
3. format the storage with a new cluster id, only if it was never formatted;
4. start `kafka.Kafka` detached, with a heap sized for a small machine;
5. wait until the broker answers a metadata request, or fail with the log's tail.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from streams.shared.errors import StackError
from streams.shared.settings import KafkaSettings, StackSettings
from streams.stack import process, tools

KAFKA_DEPLOY = tools.DEPLOY_DIR / "kafka"


@dataclass(frozen=True)
class KafkaHealth:
    running: bool
    healthy: bool
    pid: int | None
    address: str
    version: str | None
    cluster_id: str | None
    data_dir: Path
    detail: str


class LocalKafka:
    def __init__(self, stack: StackSettings) -> None:
        self.stack = stack
        self.home = stack.kafka_dir
        self.data_dir = self.home / "data"
        self.pid_file = self.home / "kafka.pid"
        self.log_dir = stack.logs_dir / "kafka"
        self.address = f"127.0.0.1:{stack.kafka_port}"

    # -- classpath --------------------------------------------------------------------------

    def classpath(self) -> list[Path]:
        """The broker's jars, resolved by Maven once per version of the POM, then cached."""
        pom = KAFKA_DEPLOY / "pom.xml"
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
        cache = self.home / f"classpath-{digest}.txt"
        if cache.exists():
            jars = [Path(p) for p in cache.read_text().strip().split(os.pathsep) if p]
            if jars and all(j.exists() for j in jars):
                return jars
        mvn = tools.find_maven()
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [
            str(mvn.path),
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:build-classpath",
            "-Dmdep.includeScope=runtime",
            f"-Dmdep.outputFile={cache}",
        ]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
        except subprocess.TimeoutExpired as exc:
            raise StackError("Maven took over 15 minutes to resolve the Kafka jars") from exc
        if done.returncode != 0 or not cache.exists():
            raise StackError(
                "Maven could not resolve the Kafka jars from deploy/kafka/pom.xml; check that "
                f"Maven Central is reachable.\n{(done.stdout + done.stderr)[-2000:]}"
            )
        return [Path(p) for p in cache.read_text().strip().split(os.pathsep) if p]

    def version(self, jars: list[Path] | None = None) -> str:
        for jar in jars or self.classpath():
            if jar.name.startswith("kafka_2.13-") and jar.suffix == ".jar":
                return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
        raise StackError("kafka_2.13 jar missing from the resolved classpath")

    # -- lifecycle --------------------------------------------------------------------------

    def pid(self) -> int | None:
        return process.read_pid(self.pid_file)

    def start(self) -> None:
        if self.pid() is not None:
            return
        if process.port_open("127.0.0.1", self.stack.kafka_port):
            raise StackError(
                f"port {self.stack.kafka_port} is taken by another program; stop it or set "
                "ACOLHE_STACK_KAFKA_PORT to a free port"
            )
        java = tools.find_java(self.stack.java_home)
        jars = self.classpath()
        config = self._write_config()
        self._format(java.path, jars, config)
        argv = [
            str(java.path),
            *self._jvm_options(),
            "-cp",
            os.pathsep.join(map(str, jars)),
            "kafka.Kafka",
            str(config),
        ]
        process.spawn(
            argv, log_file=self.log_dir / "stdout.log", pid_file=self.pid_file, env=self._env()
        )
        self._wait_ready()

    def stop(self, timeout_s: float = 45.0) -> None:
        pid = self.pid()
        if pid is not None:
            # SIGTERM makes the broker shut down cleanly (flush, close segments).
            process.stop(pid, timeout_s=timeout_s, sig=signal.SIGTERM)
        self.pid_file.unlink(missing_ok=True)

    def health(self, kafka: KafkaSettings | None = None) -> KafkaHealth:
        pid = self.pid()
        address = kafka.bootstrap_servers if kafka else self.address
        version: str | None
        try:
            version = self.version()
        except StackError:
            version = None
        cluster_id = self._cluster_id()
        if pid is None and kafka is None:
            return KafkaHealth(
                False, False, None, address, version, cluster_id, self.data_dir, "not running"
            )
        try:
            info = asyncio.run(describe_cluster(kafka or self._client_settings()))
        except Exception as exc:
            return KafkaHealth(
                pid is not None,
                False,
                pid,
                address,
                version,
                cluster_id,
                self.data_dir,
                f"does not answer: {exc!r}",
            )
        brokers = info.get("brokers", [])
        return KafkaHealth(
            True,
            True,
            pid,
            address,
            version,
            info.get("cluster_id") or cluster_id,
            self.data_dir,
            f"{len(brokers)} broker(s), controller {info.get('controller_id')}",
        )

    # -- internals --------------------------------------------------------------------------

    def _client_settings(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.address, client_id="acolhe-stack")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "CLASSPATH"))}
        return env

    def _jvm_options(self) -> list[str]:
        heap = self.stack.kafka_heap
        return [
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            # Two cores: keep the JVM's own thread pools small.
            "-XX:ParallelGCThreads=2",
            "-XX:ConcGCThreads=1",
            "-XX:CICompilerCount=2",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={KAFKA_DEPLOY / 'log4j2.properties'}",
        ]

    def _write_config(self) -> Path:
        template = Template((KAFKA_DEPLOY / "server.properties").read_text())
        text = template.substitute(
            kafka_port=self.stack.kafka_port,
            controller_port=self.stack.controller_port,
            log_dirs=str(self.data_dir),
        )
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.write_text(text)
        return config

    def _cluster_id(self) -> str | None:
        meta = self.data_dir / "meta.properties"
        if not meta.exists():
            return None
        for line in meta.read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.split("=", 1)[1].strip()
        return None

    def _format(self, java: Path, jars: list[Path], config: Path) -> None:
        if self._cluster_id() is not None:
            return
        cluster_id = new_cluster_id()
        argv = [
            str(java),
            "-Xmx256m",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={KAFKA_DEPLOY / 'log4j2.properties'}",
            "-cp",
            os.pathsep.join(map(str, jars)),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(config),
        ]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, check=False, env=self._env()
        )
        if done.returncode != 0:
            raise StackError(
                f"formatting Kafka storage failed:\n{(done.stdout + done.stderr)[-2000:]}"
            )

    def _wait_ready(self) -> None:
        def ready() -> bool:
            pid = self.pid()
            if pid is None:
                raise StackError(
                    "the Kafka broker exited during start-up; last lines of its log:\n"
                    + process.tail(self.log_dir / "server.log")
                    + "\n"
                    + process.tail(self.log_dir / "stdout.log")
                )
            if not process.port_open("127.0.0.1", self.stack.kafka_port):
                return False
            try:
                asyncio.run(describe_cluster(self._client_settings()))
            except Exception:
                return False
            return True

        if not process.wait_until(ready, timeout_s=self.stack.start_timeout_s, every_s=0.25):
            raise StackError(
                f"the Kafka broker did not answer within {self.stack.start_timeout_s:.0f}s; "
                "last lines of its log:\n" + process.tail(self.log_dir / "server.log")
            )


async def describe_cluster(kafka: KafkaSettings, timeout_s: float = 5.0) -> dict[str, Any]:
    """Ask the broker for its cluster id, brokers and controller (a real Kafka request)."""
    from aiokafka.admin import AIOKafkaAdminClient

    options = kafka.client_options()
    options["request_timeout_ms"] = int(timeout_s * 1000)
    admin = AIOKafkaAdminClient(**options)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        info: dict[str, Any] = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return info
    finally:
        await admin.close()


def new_cluster_id() -> str:
    """A random cluster id as Kafka writes one (a UUID in URL-safe base64, unpadded), never
    starting with "-": the storage tool would read it as an option (`-t -x...` fails with
    "expected one argument"), so, as Kafka's own `Uuid.randomUuid`, draw again."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id
