"""The web chat's settings from the environment: given the ACOLHE_WEBCHAT_* variables, when
the connector starts, then its settings, or an error that names the variable and never
shows a secret."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from connectors.webchat.config import WebChatSettings, parse_signing_keys
from connectors.webchat.origins import parse_origin
from streams.shared.errors import ConfigurationError

CURRENT = base64.b64encode(b"c" * 32).decode()
RETIRED = base64.b64encode(b"r" * 32).decode()
ENV = {
    "ACOLHE_WEBCHAT_SITE_ID": "defensoria-sp",
    "ACOLHE_WEBCHAT_TOKEN_KEYS": f"2026-11:{CURRENT}, 2026-05:{RETIRED}",
    "ACOLHE_WEBCHAT_ALLOWED_ORIGINS": "https://www.defensoria.sp.def.br,https://defensoria.sp.def.br",
}


def test_the_settings_read_every_variable_with_defaults_for_the_optional_ones() -> None:
    settings = WebChatSettings.from_env(
        {**ENV, "ACOLHE_WEBCHAT_PORT": "9000", "ACOLHE_WEBCHAT_MESSAGES_PER_MINUTE": "12"}
    )

    assert settings.site_id == "defensoria-sp"
    assert [k.key_id for k in settings.signing_keys] == ["2026-11", "2026-05"]
    assert settings.signing_keys[0].secret == b"c" * 32
    assert parse_origin("https://www.defensoria.sp.def.br") in settings.origins.allowed
    assert (settings.host, settings.port) == ("127.0.0.1", 9000)
    assert settings.messages.per_minute == 12
    assert settings.messages.burst == 10
    assert settings.token_ttl == timedelta(hours=1)
    assert settings.schema == "acolhe_webchat"
    assert CURRENT not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("ACOLHE_WEBCHAT_SITE_ID", "", "ACOLHE_WEBCHAT_SITE_ID"),
        ("ACOLHE_WEBCHAT_SITE_ID", "a site", "ACOLHE_WEBCHAT_SITE_ID"),
        ("ACOLHE_WEBCHAT_TOKEN_KEYS", "", "ACOLHE_WEBCHAT_TOKEN_KEYS"),
        ("ACOLHE_WEBCHAT_ALLOWED_ORIGINS", "", "ACOLHE_WEBCHAT_ALLOWED_ORIGINS"),
        ("ACOLHE_WEBCHAT_ALLOWED_ORIGINS", "https://x.br/path", "ACOLHE_WEBCHAT_ALLOWED_ORIGINS"),
        ("ACOLHE_WEBCHAT_PORT", "http", "ACOLHE_WEBCHAT_PORT"),
        ("ACOLHE_WEBCHAT_TOKEN_TTL_MINUTES", "5000", "ACOLHE_WEBCHAT_TOKEN_TTL_MINUTES"),
        ("ACOLHE_WEBCHAT_MESSAGE_BURST", "0", "ACOLHE_WEBCHAT_MESSAGE_BURST"),
        ("ACOLHE_WEBCHAT_SCHEMA", "x; DROP TABLE y", "ACOLHE_WEBCHAT_SCHEMA"),
    ],
)
def test_a_missing_or_invalid_variable_is_named(name: str, value: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        WebChatSettings.from_env({**ENV, name: value})


@pytest.mark.parametrize(
    "raw",
    [
        f"no-colon-{CURRENT}",
        "k1:not base64!",
        f"k1:{base64.b64encode(b'short').decode()}",
        f"bad id:{CURRENT}",
    ],
)
def test_a_bad_signing_key_is_refused_without_showing_the_secret(raw: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        parse_signing_keys(raw)

    message = str(refused.value)
    assert "ACOLHE_WEBCHAT_TOKEN_KEYS" in message
    assert CURRENT not in message
    assert "not base64!" not in message
