"""Given the environment, the WhatsApp settings are read once, or refused naming the
variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.whatsapp.config import WhatsAppSettings
from streams.shared.errors import ConfigurationError

STATE = Path("/var/lib/acolhe")
ENV = {
    "ACOLHE_WHATSAPP_APP_SECRET": "app-secret",
    "ACOLHE_WHATSAPP_VERIFY_TOKEN": "verify-token",
    "ACOLHE_WHATSAPP_ACCESS_TOKEN": "EAAG-token",
    "ACOLHE_WHATSAPP_PHONE_NUMBER_IDS": "106540352242922, 106540352242923",
}


def test_the_required_variables_give_settings_with_meta_defaults() -> None:
    got = WhatsAppSettings.from_env(ENV, state_dir=STATE)

    assert got.phone_number_ids == ("106540352242922", "106540352242923")
    assert got.default_account == "106540352242922"
    assert got.graph_url == "https://graph.facebook.com"
    assert got.api_version == "v21.0"
    assert got.media_dir == STATE / "media"
    assert got.app_secret.reveal() == "app-secret"
    assert "app-secret" not in repr(got)
    assert "EAAG-token" not in repr(got)


@pytest.mark.parametrize(
    "missing",
    [
        "ACOLHE_WHATSAPP_APP_SECRET",
        "ACOLHE_WHATSAPP_VERIFY_TOKEN",
        "ACOLHE_WHATSAPP_ACCESS_TOKEN",
        "ACOLHE_WHATSAPP_PHONE_NUMBER_IDS",
    ],
)
def test_a_missing_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}

    with pytest.raises(ConfigurationError, match=missing):
        WhatsAppSettings.from_env(env, state_dir=STATE)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACOLHE_WHATSAPP_PHONE_NUMBER_IDS", "+55 11 3105-5799"),
        ("ACOLHE_WHATSAPP_API_VERSION", "21"),
        ("ACOLHE_WHATSAPP_GRAPH_URL", "graph.facebook.com"),
        ("ACOLHE_WHATSAPP_PORT", "http"),
        ("ACOLHE_WHATSAPP_MAX_MEDIA_BYTES", "-1"),
        ("ACOLHE_WHATSAPP_MAX_BODY_BYTES", "1MB"),
    ],
)
def test_an_invalid_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        WhatsAppSettings.from_env(ENV | {name: value}, state_dir=STATE)
