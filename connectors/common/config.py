"""Reading a connector's settings from the environment: each connector builds its own
frozen settings object from `Settings.env` with these readers, which raise
`ConfigurationError` naming the variable and saying what a valid value looks like.

Secrets come back as `Secret` (never printed). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from streams.shared.errors import ConfigurationError
from streams.shared.settings import Secret


def required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is required: {what}")
    return value


def secret(env: Mapping[str, str], name: str, what: str, *, default: str | None = None) -> Secret:
    value = env.get(name, "").strip() or default
    if not value:
        raise ConfigurationError(f"{name} is required: {what}")
    return Secret(value)


def names(env: Mapping[str, str], name: str, *, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A comma-separated list (blanks dropped)."""
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a TCP port number, got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise ConfigurationError(f"{name} must be a TCP port number (0-65535), got {value}")
    return value


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    return value


def url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(f"{name} must be an http(s):// URL, got {value!r}")
    return value.rstrip("/")


def directory(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name, "").strip()
    return Path(raw).resolve() if raw else default
