"""The agents' gateway's settings, read once from `Settings.env` (ACOLHE_GATEWAY_*).

- ACOLHE_GATEWAY_TOKEN_KEYS (required): `key_id:base64secret`, comma-separated, current key
  first, each secret at least 32 bytes. A token signed with any listed key passes (rotation:
  put the new key first, drop the old one a shift later).
- ACOLHE_GATEWAY_HOST, ACOLHE_GATEWAY_PORT (127.0.0.1, 8084): where the HTTP API listens.
- ACOLHE_GATEWAY_BURST, ACOLHE_GATEWAY_RATE_PER_MINUTE (30, 120): per agent, commands at
  once, then per minute.
- ACOLHE_GATEWAY_READ_MODEL_SCHEMA (acolhe_read): where the read model's `cases` table is.
- ACOLHE_GATEWAY_SCHEMA (acolhe_gateway): the gateway's own table of Idempotency-Keys.
- ACOLHE_GATEWAY_WEBCHAT_SCHEMA (acolhe_webchat): the web chat's session tables (an agent's
  typing goes to the visitor's latest session); the web chat's ACOLHE_WEBCHAT_SCHEMA.
- ACOLHE_GATEWAY_IDEMPOTENCY_TTL_HOURS (24): how long a key is remembered.
- ACOLHE_GATEWAY_PUBLISH_TIMEOUT_S (10): the longest wait for Kafka's acknowledgement
  before the answer is 503.
- ACOLHE_GATEWAY_MAX_FILE_BYTES (16777216): the largest file an agent uploads.
- ACOLHE_GATEWAY_MEDIA_DIR (<state dir>/media): the media store, where the agents' files
  are sealed; the connectors that deliver them read the same store.

Pure: no I/O. The token secrets never print (SigningKey hides them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from connectors.common.config import directory, port, positive_int, secret
from connectors.webchat.sessions import DEFAULT_SCHEMA as WEBCHAT_SCHEMA
from connectors.webchat.signing import MIN_SECRET_BYTES, SigningKey
from streams.projections.migrations import DEFAULT_SCHEMA as READ_MODEL_SCHEMA
from streams.projections.sqltext import InvalidSchemaName, check_schema_name
from streams.shared.errors import ConfigurationError

DEFAULT_PORT: Final = 8084
DEFAULT_SCHEMA: Final = "acolhe_gateway"
DEFAULT_MAX_FILE_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    token_keys: tuple[SigningKey, ...]
    """Current first."""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    burst: int = 30
    rate_per_s: float = 2.0
    max_agents: int = 20_000
    """Rate-limit buckets kept at most (more than the office's 3,000 agents)."""
    read_model_schema: str = READ_MODEL_SCHEMA
    schema: str = DEFAULT_SCHEMA
    webchat_schema: str = WEBCHAT_SCHEMA
    idempotency_ttl: timedelta = timedelta(hours=24)
    publish_timeout_s: float = 10.0
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    media_dir: Path = Path(".acolhe/media")

    def __post_init__(self) -> None:
        if not self.token_keys:
            raise ConfigurationError("the gateway needs at least one token key")
        for name in (self.read_model_schema, self.schema, self.webchat_schema):
            try:
                check_schema_name(name)
            except InvalidSchemaName as exc:
                raise ConfigurationError(str(exc)) from exc

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, state_dir: Path = Path(".acolhe")
    ) -> GatewaySettings:
        """The settings from `env`; `state_dir` holds the media when no directory is set."""
        raw = secret(
            env,
            "ACOLHE_GATEWAY_TOKEN_KEYS",
            "key_id:base64secret[,older_id:base64secret], current first, e.g. "
            "2026-03:<the output of `openssl rand -base64 32`>",
        )
        return cls(
            token_keys=parse_token_keys(raw.reveal()),
            host=env.get("ACOLHE_GATEWAY_HOST", "").strip() or "127.0.0.1",
            port=port(env, "ACOLHE_GATEWAY_PORT", DEFAULT_PORT),
            burst=positive_int(env, "ACOLHE_GATEWAY_BURST", 30),
            rate_per_s=positive_int(env, "ACOLHE_GATEWAY_RATE_PER_MINUTE", 120) / 60.0,
            read_model_schema=env.get("ACOLHE_GATEWAY_READ_MODEL_SCHEMA", "").strip()
            or READ_MODEL_SCHEMA,
            schema=env.get("ACOLHE_GATEWAY_SCHEMA", "").strip() or DEFAULT_SCHEMA,
            webchat_schema=env.get("ACOLHE_GATEWAY_WEBCHAT_SCHEMA", "").strip() or WEBCHAT_SCHEMA,
            idempotency_ttl=timedelta(
                hours=positive_int(env, "ACOLHE_GATEWAY_IDEMPOTENCY_TTL_HOURS", 24)
            ),
            publish_timeout_s=float(positive_int(env, "ACOLHE_GATEWAY_PUBLISH_TIMEOUT_S", 10)),
            max_file_bytes=positive_int(
                env, "ACOLHE_GATEWAY_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES
            ),
            media_dir=directory(env, "ACOLHE_GATEWAY_MEDIA_DIR", state_dir / "media"),
        )


def parse_token_keys(raw: str) -> tuple[SigningKey, ...]:
    """`id:base64secret,...` -> signing keys, current first; errors never echo a secret."""
    keys: list[SigningKey] = []
    for position, item in enumerate(p.strip() for p in raw.split(",") if p.strip()):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id.strip():
            raise ConfigurationError(
                f"ACOLHE_GATEWAY_TOKEN_KEYS item {position + 1} must be key_id:base64secret"
            )
        try:
            secret_bytes = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(
                f"ACOLHE_GATEWAY_TOKEN_KEYS key {key_id.strip()!r}: the secret is not base64"
            ) from None
        if len(secret_bytes) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"ACOLHE_GATEWAY_TOKEN_KEYS key {key_id.strip()!r}: the secret has "
                f"{len(secret_bytes)} bytes; use at least {MIN_SECRET_BYTES} random bytes"
            )
        keys.append(SigningKey(key_id.strip(), secret_bytes))
    if not keys:
        raise ConfigurationError("ACOLHE_GATEWAY_TOKEN_KEYS names no key")
    ids = [k.key_id for k in keys]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("ACOLHE_GATEWAY_TOKEN_KEYS names a key id twice")
    return tuple(keys)
