"""One settings object, built from `ACOLHE_*` environment variables in one place.

Components receive the part they need (`settings.kafka`, `settings.postgres`,
`settings.stack`); nothing else reads the environment. Secrets are `Secret` values
that never print: `repr`, `str` and logs show `'***'`.

Must not depend on Kafka, Postgres or HTTP libraries.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args
from urllib.parse import quote, urlsplit, urlunsplit

from streams.shared.errors import ConfigurationError

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

DEFAULT_KAFKA_PORT = 19092
DEFAULT_CONTROLLER_PORT = 19093
DEFAULT_POSTGRES_PORT = 15432
DEFAULT_DATABASE = "acolhe"
METRICS_OFF = 0
"""ACOLHE_METRICS_PORT's default: several processes on one machine would clash on any one
port, so each is given its own (the deployments give every container 9400)."""


class Secret:
    """A value that must never be printed or logged."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    client_id: str = "acolhe"

    def client_options(self) -> dict[str, object]:
        """Keyword arguments shared by aiokafka producers, consumers and admin clients."""
        options: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "client_id": self.client_id,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
            )
        if self.security_protocol.startswith("SASL_"):
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.reveal() if self.sasl_password else None
            )
        return options


@dataclass(frozen=True)
class PostgresSettings:
    dsn: Secret

    @property
    def display_dsn(self) -> str:
        """The DSN with its password masked, safe to print."""
        return mask_dsn(self.dsn.reveal())


@dataclass(frozen=True)
class ContractSettings:
    """How events are framed on Kafka, and the key that wraps citizens' data keys."""

    framing: Literal["single-object", "confluent"] = "single-object"
    schema_registry_url: str | None = None
    schema_registry_username: str | None = None
    schema_registry_password: Secret | None = None
    master_key: Secret | None = None


@dataclass(frozen=True)
class ExportSettings:
    """How `acolhe export` protects personal data (docs/export.md).

    `pseudonym_key` keys the HMAC that replaces citizens' identifiers in exports; the same
    key gives the same pseudonyms, export after export. `authorized_key_sha256` lists the
    SHA-256 digests (hex) of the keys that may export personal fields in clear; none by
    default, so nobody can until an operator configures one.
    """

    pseudonym_key: Secret | None = None
    authorized_key_sha256: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackSettings:
    """Where and how the local stack runs (`acolhe stack ...`)."""

    state_dir: Path
    kafka_port: int = DEFAULT_KAFKA_PORT
    controller_port: int = DEFAULT_CONTROLLER_PORT
    postgres_port: int = DEFAULT_POSTGRES_PORT
    kafka_heap: str = "512m"
    java_home: Path | None = None
    start_timeout_s: float = 90.0

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def postgres_dir(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings
    postgres: PostgresSettings
    stack: StackSettings
    contract: ContractSettings = field(default_factory=ContractSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    log_format: Literal["json", "text"] = "json"
    metrics_port: int = METRICS_OFF
    """Where a processor or projector serves /metrics and /healthz; 0: nowhere."""
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from `environ` (the process environment by default).

        Raises `ConfigurationError` naming the variable when a value is invalid.
        """
        env = dict(os.environ if environ is None else environ)
        state_dir = Path(env.get("ACOLHE_STATE_DIR", "") or Path.cwd() / ".acolhe").resolve()
        stack = StackSettings(
            state_dir=state_dir,
            kafka_port=_port(env, "ACOLHE_STACK_KAFKA_PORT", DEFAULT_KAFKA_PORT),
            controller_port=_port(env, "ACOLHE_STACK_CONTROLLER_PORT", DEFAULT_CONTROLLER_PORT),
            postgres_port=_port(env, "ACOLHE_STACK_POSTGRES_PORT", DEFAULT_POSTGRES_PORT),
            kafka_heap=_heap(env.get("ACOLHE_STACK_KAFKA_HEAP", "512m")),
            java_home=Path(env["JAVA_HOME"]) if env.get("JAVA_HOME") else None,
            start_timeout_s=_positive_float(env, "ACOLHE_STACK_START_TIMEOUT", 90.0),
        )
        protocol = cast(
            SecurityProtocol,
            _choice(env, "ACOLHE_KAFKA_SECURITY_PROTOCOL", SecurityProtocol, "PLAINTEXT"),
        )
        mechanism: SaslMechanism | None = None
        if protocol.startswith("SASL_"):
            mechanism = cast(
                SaslMechanism,
                _choice(env, "ACOLHE_KAFKA_SASL_MECHANISM", SaslMechanism, "SCRAM-SHA-512"),
            )
            for name in ("ACOLHE_KAFKA_SASL_USERNAME", "ACOLHE_KAFKA_SASL_PASSWORD"):
                if not env.get(name):
                    raise ConfigurationError(
                        f"{name} is required when ACOLHE_KAFKA_SECURITY_PROTOCOL={protocol}"
                    )
        kafka = KafkaSettings(
            bootstrap_servers=env.get("ACOLHE_KAFKA_BOOTSTRAP_SERVERS")
            or f"127.0.0.1:{stack.kafka_port}",
            security_protocol=protocol,
            sasl_mechanism=mechanism,
            sasl_username=env.get("ACOLHE_KAFKA_SASL_USERNAME") or None,
            sasl_password=Secret(env["ACOLHE_KAFKA_SASL_PASSWORD"])
            if env.get("ACOLHE_KAFKA_SASL_PASSWORD")
            else None,
            ssl_cafile=_path(env, "ACOLHE_KAFKA_SSL_CAFILE"),
            ssl_certfile=_path(env, "ACOLHE_KAFKA_SSL_CERTFILE"),
            ssl_keyfile=_path(env, "ACOLHE_KAFKA_SSL_KEYFILE"),
            client_id=env.get("ACOLHE_KAFKA_CLIENT_ID", "acolhe"),
        )
        dsn = env.get("ACOLHE_POSTGRES_DSN") or (
            f"postgresql://postgres@127.0.0.1:{stack.postgres_port}/{DEFAULT_DATABASE}"
        )
        if not dsn.startswith(("postgresql://", "postgres://")):
            raise ConfigurationError(
                "ACOLHE_POSTGRES_DSN must be a postgresql:// URL, "
                "e.g. postgresql://acolhe:secret@db.example:5432/acolhe"
            )
        log_format = cast(
            Literal["json", "text"],
            _choice(env, "ACOLHE_LOG_FORMAT", Literal["json", "text"], "json"),
        )
        framing = cast(
            Literal["single-object", "confluent"],
            _choice(
                env, "ACOLHE_AVRO_FRAMING", Literal["single-object", "confluent"], "single-object"
            ),
        )
        registry = env.get("ACOLHE_SCHEMA_REGISTRY_URL") or None
        if framing == "confluent" and not registry:
            raise ConfigurationError(
                "ACOLHE_SCHEMA_REGISTRY_URL is required when ACOLHE_AVRO_FRAMING=confluent, "
                "e.g. http://registry.example:8081"
            )
        master = env.get("ACOLHE_MASTER_KEY") or None
        if master is not None:
            _check_master_key(master)
        contract = ContractSettings(
            framing=framing,
            schema_registry_url=registry,
            schema_registry_username=env.get("ACOLHE_SCHEMA_REGISTRY_USERNAME") or None,
            schema_registry_password=Secret(env["ACOLHE_SCHEMA_REGISTRY_PASSWORD"])
            if env.get("ACOLHE_SCHEMA_REGISTRY_PASSWORD")
            else None,
            master_key=Secret(master) if master else None,
        )
        pseudonym = env.get("ACOLHE_EXPORT_PSEUDONYM_KEY") or None
        if pseudonym is not None:
            _check_master_key(pseudonym, source="ACOLHE_EXPORT_PSEUDONYM_KEY")
        export = ExportSettings(
            pseudonym_key=Secret(pseudonym) if pseudonym else None,
            authorized_key_sha256=_digests(env, "ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256"),
        )
        return cls(
            kafka=kafka,
            postgres=PostgresSettings(dsn=Secret(dsn)),
            stack=stack,
            contract=contract,
            export=export,
            log_format=log_format,
            metrics_port=_metrics_port(env, "ACOLHE_METRICS_PORT"),
            env=env,
        )

    @property
    def uses_external_kafka(self) -> bool:
        """True when the environment names a broker instead of the local stack's."""
        return bool(self.env.get("ACOLHE_KAFKA_BOOTSTRAP_SERVERS"))

    @property
    def uses_external_postgres(self) -> bool:
        """True when the environment names a database instead of the local stack's."""
        return bool(self.env.get("ACOLHE_POSTGRES_DSN"))

    def describe(self) -> dict[str, object]:
        """A printable view of the settings, secrets masked."""
        return {
            "kafka.bootstrap_servers": self.kafka.bootstrap_servers,
            "kafka.security_protocol": self.kafka.security_protocol,
            "kafka.sasl_mechanism": self.kafka.sasl_mechanism,
            "kafka.sasl_username": self.kafka.sasl_username,
            "kafka.sasl_password": "***" if self.kafka.sasl_password else None,
            "postgres.dsn": self.postgres.display_dsn,
            "stack.state_dir": str(self.stack.state_dir),
            "contract.framing": self.contract.framing,
            "contract.schema_registry_url": self.contract.schema_registry_url,
            "contract.master_key": "***" if self.contract.master_key else None,
            "export.pseudonym_key": "***" if self.export.pseudonym_key else None,
            "export.authorized_keys": len(self.export.authorized_key_sha256),
            "metrics.port": self.metrics_port or None,
        }

    def master_key(self) -> bytes:
        """The 32-byte key that wraps citizens' data keys.

        From ACOLHE_MASTER_KEY (base64) when set, which production must do; otherwise the
        local stack's own key in <state dir>/master.key, made on first use (mode 0600).
        """
        if self.contract.master_key is not None:
            return base64.b64decode(self.contract.master_key.reveal())
        path = self.stack.state_dir / "master.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(base64.b64encode(os.urandom(32)))
        raw = path.read_text().strip()
        _check_master_key(raw, source=str(path))
        return base64.b64decode(raw)

    def contact_id_key(self) -> bytes:
        """The 32-byte key of the contacts' opaque ids (connectors.common.identity).

        From ACOLHE_CONTACT_ID_KEY (base64) when set, which production must do, once: a new
        key gives every contact a new id; otherwise the local stack's own key in
        <state dir>/contact.key, made on first use (mode 0600).
        """
        raw = self.env.get("ACOLHE_CONTACT_ID_KEY")
        if raw:
            _check_master_key(raw, source="ACOLHE_CONTACT_ID_KEY")
            return base64.b64decode(raw)
        return _state_key(self.stack.state_dir / "contact.key")

    def pseudonym_key(self) -> bytes:
        """The 32-byte key of the pseudonyms in exports (HMAC-SHA256).

        From ACOLHE_EXPORT_PSEUDONYM_KEY (base64) when set, which production must do (and
        keep, or pseudonyms change); otherwise the local stack's own key in
        <state dir>/pseudonym.key, made on first use (mode 0600).
        """
        if self.export.pseudonym_key is not None:
            return base64.b64decode(self.export.pseudonym_key.reveal())
        return _state_key(self.stack.state_dir / "pseudonym.key")


def _state_key(path: Path) -> bytes:
    """A 32-byte key kept in base64 in `path`, made on first use (mode 0600)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made meanwhile by another process: read theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(base64.b64encode(os.urandom(32)))
    raw = path.read_text().strip()
    _check_master_key(raw, source=str(path))
    return base64.b64decode(raw)


def mask_dsn(dsn: str) -> str:
    """Replace the password of a URL-style DSN with `***`."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    user = quote(parts.username or "", safe="")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _check_master_key(raw: str, source: str = "ACOLHE_MASTER_KEY") -> None:
    try:
        ok = len(base64.b64decode(raw, validate=True)) == 32
    except ValueError:
        ok = False
    if not ok:
        raise ConfigurationError(
            f"{source} must be 32 random bytes in base64, e.g. the output of "
            "`python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`"
        )


def _digests(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name) or ""
    digests = tuple(d.strip().lower() for d in raw.split(",") if d.strip())
    for digest in digests:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigurationError(
                f"{name} must be SHA-256 digests in hex, comma-separated, e.g. the first "
                "field of `sha256sum export.key`"
            )
    return digests


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"{name}={raw!r} is not a TCP port; use a number from 1 to 65535")
    return port


def _metrics_port(env: Mapping[str, str], name: str) -> int:
    raw = env.get(name)
    if not raw:
        return METRICS_OFF
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigurationError(
            f"{name}={raw!r} is not a TCP port; use a number from 1 to 65535, or 0 for none"
        )
    return port


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigurationError(f"{name}={raw!r} must be a positive number of seconds")
    return value


def _heap(raw: str) -> str:
    digits = raw[:-1] if raw[-1:].lower() in ("m", "g") else ""
    if not digits.isdigit():
        raise ConfigurationError(
            f"ACOLHE_STACK_KAFKA_HEAP={raw!r} must look like 512m or 1g (a JVM -Xmx size)"
        )
    return raw


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw) if raw else None


def _choice(env: Mapping[str, str], name: str, literal: object, default: str) -> str:
    allowed = get_args(literal)
    raw = env.get(name) or default
    if raw not in allowed:
        raise ConfigurationError(f"{name}={raw!r} is not one of {', '.join(allowed)}")
    return raw
