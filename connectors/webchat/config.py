"""The web chat connector's settings, read once from `Settings.env` (ACOLHE_WEBCHAT_*).

Every reader raises `ConfigurationError` naming the variable and what a valid value looks
like; the signing secrets are kept as `SigningKey` values, whose repr hides them.

| variable | what | default |
|---|---|---|
| ACOLHE_WEBCHAT_SITE_ID | the office's site the tokens are for | required |
| ACOLHE_WEBCHAT_TOKEN_KEYS | `id:base64secret` list, current key first (rotation) | required |
| ACOLHE_WEBCHAT_ALLOWED_ORIGINS | origins of the pages that embed the widget | required |
| ACOLHE_WEBCHAT_HOST / _PORT | where the HTTP and WebSocket API listens | 127.0.0.1 / 8083 |
| ACOLHE_WEBCHAT_TOKEN_TTL_MINUTES | how long a visitor token lives | 60 |
| ACOLHE_WEBCHAT_RENEW_GRACE_MINUTES | how long after expiry a token may still be renewed | 1440 |
| ACOLHE_WEBCHAT_MAX_MESSAGE_BYTES | longest message text, UTF-8 bytes | 4096 |
| ACOLHE_WEBCHAT_MESSAGES_PER_MINUTE / _MESSAGE_BURST | per visitor | 30 / 10 |
| ACOLHE_WEBCHAT_FRAMES_PER_MINUTE / _FRAME_BURST | every frame (typing, read...) | 240 / 40 |
| ACOLHE_WEBCHAT_SESSIONS_PER_MINUTE / _SESSION_BURST | tokens per client address | 30 / 20 |
| ACOLHE_WEBCHAT_SESSION_RETENTION_HOURS | sessions kept after their last activity | 72 |
| ACOLHE_WEBCHAT_SCHEMA | the PostgreSQL schema of the session tables | acolhe_webchat |
| ACOLHE_WEBCHAT_READ_MODEL_SCHEMA | the read model (whom a visitor's typing is for) | acolhe_read |
| ACOLHE_WEBCHAT_TRUSTED_PROXIES | the office's reverse proxies (X-Forwarded-For) | none |
| ACOLHE_WEBCHAT_MAX_FILE_BYTES | the largest file a visitor uploads | 10485760 (10 MiB) |
| ACOLHE_WEBCHAT_FILE_TYPES | the media types a visitor may send (webchat.files) | see files |
| ACOLHE_WEBCHAT_FILES_PER_MINUTE / _FILE_BURST | uploads per visitor | 10 / 5 |
| ACOLHE_WEBCHAT_MEDIA_DIR | the media store the files are sealed in | <state dir>/media |

Pure: no I/O. Must not depend on aiohttp, Kafka or Postgres.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from connectors.common import config
from connectors.webchat.files import DEFAULT_FILE_TYPES, DEFAULT_MAX_FILE_BYTES, RECOGNIZED
from connectors.webchat.origins import OriginPolicy
from connectors.webchat.protocol import FILES_ROOM
from connectors.webchat.signing import SigningKey, is_valid_id
from connectors.webchat.tokens import MAX_TTL
from streams.projections.sqltext import InvalidSchemaName, check_schema_name
from streams.shared.errors import ConfigurationError

PREFIX: Final = "ACOLHE_WEBCHAT_"
DEFAULT_PORT: Final = 8083
READ_MODEL_SCHEMA: Final = "acolhe_read"
"""streams.projections.migrations.DEFAULT_SCHEMA (not imported: that module is the asyncpg
shell; tests/unit/connectors/webchat/test_typing_notices.py checks the two agree)."""
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class RateSettings:
    """A token bucket: `burst` at once, then `per_minute` a minute."""

    per_minute: int
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass(frozen=True)
class WebChatSettings:
    site_id: str
    signing_keys: tuple[SigningKey, ...]
    """The current key first: it signs; every key listed verifies."""
    origins: OriginPolicy
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token_ttl: timedelta = timedelta(hours=1)
    renew_grace: timedelta = timedelta(days=1)
    max_message_bytes: int = 4096
    messages: RateSettings = RateSettings(per_minute=30, burst=10)
    frames: RateSettings = RateSettings(per_minute=240, burst=40)
    sessions: RateSettings = RateSettings(per_minute=30, burst=20)
    max_tracked_keys: int = 100_000
    """Visitors (and addresses) the rate limiters remember at most (bounded memory)."""
    retention: timedelta = timedelta(hours=72)
    schema: str = "acolhe_webchat"
    read_model_schema: str = READ_MODEL_SCHEMA
    """Where the read model's `cases` are: whom to tell that a visitor types."""
    trusted_proxies: frozenset[str] = frozenset()
    """Reverse proxies whose X-Forwarded-For names the client (the per-address limit)."""
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    file_types: tuple[str, ...] = DEFAULT_FILE_TYPES
    """The media types a visitor may send, each one recognized by its bytes."""
    files: RateSettings = RateSettings(per_minute=10, burst=5)
    media_dir: Path = Path(".acolhe/media")
    """The media store (the volume the other connectors and the gateway use)."""

    def __post_init__(self) -> None:
        if not is_valid_id(self.site_id):
            raise ConfigurationError(
                f"{PREFIX}SITE_ID must be 1 to 128 of A-Z a-z 0-9 . _ : @ -, e.g. defensoria-sp"
            )
        if not self.signing_keys:
            raise ConfigurationError(f"{PREFIX}TOKEN_KEYS must list at least one key")
        if not timedelta(0) < self.token_ttl <= MAX_TTL:
            raise ConfigurationError(
                f"{PREFIX}TOKEN_TTL_MINUTES must be from 1 to {int(MAX_TTL.total_seconds()) // 60}"
            )
        if _SCHEMA_NAME.fullmatch(self.schema) is None:
            raise ConfigurationError(
                f"{PREFIX}SCHEMA must be a lowercase SQL identifier, e.g. acolhe_webchat"
            )
        try:
            check_schema_name(self.read_model_schema)
        except InvalidSchemaName as exc:
            raise ConfigurationError(f"{PREFIX}READ_MODEL_SCHEMA: {exc}") from exc
        unknown = [t for t in self.file_types if t not in RECOGNIZED]
        if unknown or not self.file_types:
            raise ConfigurationError(
                f"{PREFIX}FILE_TYPES lists media types the web chat recognizes by their bytes, "
                f"comma-separated, from: {', '.join(RECOGNIZED)}"
                + (f" (not {', '.join(unknown)})" if unknown else "")
            )

    @property
    def max_frame_bytes(self) -> int:
        """Room for the longest text even when JSON escapes much of it, and for the
        descriptors of the files a message may carry."""
        return 4 * self.max_message_bytes + 256 + FILES_ROOM

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, state_dir: Path = Path(".acolhe")
    ) -> WebChatSettings:
        """The settings from `env`; `state_dir` holds the media when no directory is set."""
        site_id = config.required(env, f"{PREFIX}SITE_ID", "the site id, e.g. defensoria-sp")
        return cls(
            site_id=site_id,
            signing_keys=parse_signing_keys(
                config.secret(
                    env,
                    f"{PREFIX}TOKEN_KEYS",
                    "key-id:base64 of 32+ random bytes, current key first, comma-separated",
                ).reveal()
            ),
            origins=_origins(env),
            host=env.get(f"{PREFIX}HOST", "").strip() or "127.0.0.1",
            port=config.port(env, f"{PREFIX}PORT", DEFAULT_PORT),
            token_ttl=timedelta(minutes=config.positive_int(env, f"{PREFIX}TOKEN_TTL_MINUTES", 60)),
            renew_grace=timedelta(
                minutes=config.positive_int(env, f"{PREFIX}RENEW_GRACE_MINUTES", 1440)
            ),
            max_message_bytes=config.positive_int(env, f"{PREFIX}MAX_MESSAGE_BYTES", 4096),
            messages=_rate(env, "MESSAGES_PER_MINUTE", 30, "MESSAGE_BURST", 10),
            frames=_rate(env, "FRAMES_PER_MINUTE", 240, "FRAME_BURST", 40),
            sessions=_rate(env, "SESSIONS_PER_MINUTE", 30, "SESSION_BURST", 20),
            retention=timedelta(
                hours=config.positive_int(env, f"{PREFIX}SESSION_RETENTION_HOURS", 72)
            ),
            schema=env.get(f"{PREFIX}SCHEMA", "").strip() or "acolhe_webchat",
            read_model_schema=env.get(f"{PREFIX}READ_MODEL_SCHEMA", "").strip()
            or READ_MODEL_SCHEMA,
            trusted_proxies=frozenset(config.names(env, f"{PREFIX}TRUSTED_PROXIES")),
            max_file_bytes=config.positive_int(
                env, f"{PREFIX}MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES
            ),
            file_types=tuple(t.lower() for t in config.names(env, f"{PREFIX}FILE_TYPES"))
            or DEFAULT_FILE_TYPES,
            files=_rate(env, "FILES_PER_MINUTE", 10, "FILE_BURST", 5),
            media_dir=config.directory(env, f"{PREFIX}MEDIA_DIR", state_dir / "media"),
        )


def parse_signing_keys(raw: str) -> tuple[SigningKey, ...]:
    """`id:base64secret[,id:base64secret...]`, current first; the error never shows a secret."""
    keys: list[SigningKey] = []
    for position, item in enumerate((p.strip() for p in raw.split(",") if p.strip()), 1):
        key_id, sep, encoded = item.partition(":")
        if not sep or not is_valid_id(key_id):
            raise ConfigurationError(
                f"{PREFIX}TOKEN_KEYS item {position} is not key-id:base64secret, "
                "e.g. 2025-06:<output of `openssl rand -base64 32`>"
            )
        try:
            secret = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(
                f"{PREFIX}TOKEN_KEYS key {key_id!r}: the secret is not base64"
            ) from None
        try:
            keys.append(SigningKey(key_id, secret))
        except ValueError as exc:
            raise ConfigurationError(f"{PREFIX}TOKEN_KEYS: {exc}") from None
    if not keys:
        raise ConfigurationError(f"{PREFIX}TOKEN_KEYS must list at least one key")
    return tuple(keys)


def _origins(env: Mapping[str, str]) -> OriginPolicy:
    name = f"{PREFIX}ALLOWED_ORIGINS"
    listed = config.names(env, name)
    try:
        return OriginPolicy(listed)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: {exc}") from None


def _rate(
    env: Mapping[str, str], rate_name: str, rate: int, burst_name: str, burst: int
) -> RateSettings:
    return RateSettings(
        per_minute=config.positive_int(env, PREFIX + rate_name, rate),
        burst=config.positive_int(env, PREFIX + burst_name, burst),
    )
