"""The WhatsApp connector's settings, read once from the environment (`Settings.env`).

Every variable is checked here, so a connector that starts has usable settings; a missing
or invalid one raises `ConfigurationError` naming the variable and what a valid value
looks like. Secrets (app secret, verify token, access token) are `Secret`s: never printed.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from connectors.common import config as read
from connectors.common.http import MAX_BODY_BYTES
from streams.shared.errors import ConfigurationError
from streams.shared.settings import Secret

DEFAULT_GRAPH_URL: Final = "https://graph.facebook.com"
DEFAULT_API_VERSION: Final = "v21.0"
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8081
DEFAULT_MAX_MEDIA_BYTES: Final = 16 * 1024 * 1024
DEFAULT_GRAPH_TIMEOUT_S: Final = 30
_VERSION: Final = re.compile(r"v[0-9]{1,3}\.[0-9]{1,3}")
_PHONE_NUMBER_ID: Final = re.compile(r"[0-9]{1,30}")


@dataclass(frozen=True)
class WhatsAppSettings:
    app_secret: Secret
    """Signs every webhook POST (X-Hub-Signature-256); the App Dashboard's app secret."""
    verify_token: Secret
    """The token typed into the App Dashboard for the subscription handshake."""
    access_token: Secret
    """A system user's token with whatsapp_business_messaging, for the Graph API."""
    phone_number_ids: tuple[str, ...]
    """The office's business phone numbers (Meta's phone_number_id); the first sends
    messages that name none."""
    graph_url: str = DEFAULT_GRAPH_URL
    api_version: str = DEFAULT_API_VERSION
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    media_dir: Path = Path(".acolhe/media")
    max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES
    max_body_bytes: int = MAX_BODY_BYTES
    graph_timeout_s: int = DEFAULT_GRAPH_TIMEOUT_S

    @property
    def default_account(self) -> str:
        return self.phone_number_ids[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, state_dir: Path) -> WhatsAppSettings:
        """The settings from `env`; `state_dir` holds the media when no directory is set."""
        ids = read.names(env, "ACOLHE_WHATSAPP_PHONE_NUMBER_IDS")
        if not ids:
            raise ConfigurationError(
                "ACOLHE_WHATSAPP_PHONE_NUMBER_IDS is required: the office's WhatsApp phone "
                "number ids (digits, comma-separated), from WhatsApp Manager > API Setup"
            )
        wrong = [i for i in ids if not _PHONE_NUMBER_ID.fullmatch(i)]
        if wrong:
            raise ConfigurationError(
                "ACOLHE_WHATSAPP_PHONE_NUMBER_IDS must list Meta's phone number ids (digits, "
                f"e.g. 106540352242922), got {len(wrong)} that are not"
            )
        version = env.get("ACOLHE_WHATSAPP_API_VERSION", "").strip() or DEFAULT_API_VERSION
        if not _VERSION.fullmatch(version):
            raise ConfigurationError(
                f"ACOLHE_WHATSAPP_API_VERSION must be a Graph API version such as "
                f"{DEFAULT_API_VERSION}, got {version!r}"
            )
        return cls(
            app_secret=read.secret(
                env, "ACOLHE_WHATSAPP_APP_SECRET", "the app secret from the App Dashboard"
            ),
            verify_token=read.secret(
                env,
                "ACOLHE_WHATSAPP_VERIFY_TOKEN",
                "the verify token typed into the App Dashboard's webhook settings",
            ),
            access_token=read.secret(
                env,
                "ACOLHE_WHATSAPP_ACCESS_TOKEN",
                "a system user's access token with whatsapp_business_messaging",
            ),
            phone_number_ids=tuple(dict.fromkeys(ids)),
            graph_url=read.url(env, "ACOLHE_WHATSAPP_GRAPH_URL", DEFAULT_GRAPH_URL),
            api_version=version,
            host=env.get("ACOLHE_WHATSAPP_HOST", "").strip() or DEFAULT_HOST,
            port=read.port(env, "ACOLHE_WHATSAPP_PORT", DEFAULT_PORT),
            media_dir=read.directory(env, "ACOLHE_WHATSAPP_MEDIA_DIR", state_dir / "media"),
            max_media_bytes=read.positive_int(
                env, "ACOLHE_WHATSAPP_MAX_MEDIA_BYTES", DEFAULT_MAX_MEDIA_BYTES
            ),
            max_body_bytes=read.positive_int(env, "ACOLHE_WHATSAPP_MAX_BODY_BYTES", MAX_BODY_BYTES),
            graph_timeout_s=read.positive_int(
                env, "ACOLHE_WHATSAPP_GRAPH_TIMEOUT_SECONDS", DEFAULT_GRAPH_TIMEOUT_S
            ),
        )
