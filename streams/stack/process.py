"""Detached server processes tracked by pid files, and waiting on TCP ports.

Must not depend on Kafka or Postgres client libraries.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from streams.shared.errors import StackError


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in `pid_file` if that process is still alive, else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if is_alive(pid) else None


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is one.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def spawn(argv: Sequence[str], *, log_file: Path, pid_file: Path, env: dict[str, str]) -> int:
    """Start `argv` in its own session, output appended to `log_file`; record its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise StackError(f"could not start {argv[0]}: {exc}") from exc
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def stop(pid: int, *, timeout_s: float, sig: int = signal.SIGTERM) -> bool:
    """Send `sig`, wait up to `timeout_s` for the exit, then SIGKILL. True if it exited cleanly."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    if wait_until(lambda: not is_alive(pid), timeout_s=timeout_s):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not is_alive(pid), timeout_s=10)
    return False


def wait_until(condition: Callable[[], bool], *, timeout_s: float, every_s: float = 0.1) -> bool:
    """Poll `condition` until it holds or `timeout_s` passes; True if it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every_s)


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])
