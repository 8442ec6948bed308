"""The gateway's settings: given ACOLHE_GATEWAY_* variables, then the settings, or a
ConfigurationError naming the variable (and never echoing a secret)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from connectors.gateway.config import GatewaySettings
from streams.shared.errors import ConfigurationError

NEW = base64.b64encode(b"n" * 32).decode()
OLD = base64.b64encode(b"o" * 32).decode()


def test_keys_are_read_current_first_with_the_defaults() -> None:
    settings = GatewaySettings.from_env(
        {"ACOLHE_GATEWAY_TOKEN_KEYS": f" 2026-03:{NEW} , 2026-02:{OLD}"}
    )

    assert [k.key_id for k in settings.token_keys] == ["2026-03", "2026-02"]
    assert settings.token_keys[0].secret == b"n" * 32
    assert (settings.port, settings.read_model_schema) == (8084, "acolhe_read")
    assert NEW not in repr(settings)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "ACOLHE_GATEWAY_TOKEN_KEYS is required"),
        ({"ACOLHE_GATEWAY_TOKEN_KEYS": NEW}, "item 1 must be key_id:base64secret"),
        ({"ACOLHE_GATEWAY_TOKEN_KEYS": "k:not*base64"}, "'k': the secret is not base64"),
        ({"ACOLHE_GATEWAY_TOKEN_KEYS": "k:" + base64.b64encode(b"s").decode()}, "has 1 bytes"),
        ({"ACOLHE_GATEWAY_TOKEN_KEYS": f"k:{NEW},k:{OLD}"}, "a key id twice"),
        (
            {"ACOLHE_GATEWAY_TOKEN_KEYS": f"k:{NEW}", "ACOLHE_GATEWAY_READ_MODEL_SCHEMA": "x;y"},
            "invalid schema name",
        ),
        ({"ACOLHE_GATEWAY_TOKEN_KEYS": f"k:{NEW}", "ACOLHE_GATEWAY_BURST": "0"}, "BURST"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names) as refused:
        GatewaySettings.from_env(env)

    assert OLD not in str(refused.value)


def test_files_are_bounded_and_sealed_in_the_state_dirs_media_store_unless_set(
    tmp_path: Path,
) -> None:
    keys = {"ACOLHE_GATEWAY_TOKEN_KEYS": f"k:{NEW}"}

    default = GatewaySettings.from_env(keys, state_dir=tmp_path)
    chosen = GatewaySettings.from_env(
        keys
        | {
            "ACOLHE_GATEWAY_MAX_FILE_BYTES": "1048576",
            "ACOLHE_GATEWAY_MEDIA_DIR": str(tmp_path / "shared"),
        },
        state_dir=tmp_path,
    )

    assert (default.max_file_bytes, default.media_dir) == (16 * 1024 * 1024, tmp_path / "media")
    assert (chosen.max_file_bytes, chosen.media_dir) == (1048576, (tmp_path / "shared").resolve())
    with pytest.raises(ConfigurationError, match="ACOLHE_GATEWAY_MAX_FILE_BYTES"):
        GatewaySettings.from_env(keys | {"ACOLHE_GATEWAY_MAX_FILE_BYTES": "0"})
