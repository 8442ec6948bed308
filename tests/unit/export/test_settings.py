"""The export's settings: a pseudonym key that never prints and works out of the box on
the local stack, and the digests of the authorized keys."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from streams.shared.errors import ConfigurationError
from streams.shared.settings import Settings


def test_the_local_stack_makes_its_pseudonym_key_once(tmp_path: Path) -> None:
    settings = Settings.from_env({"ACOLHE_STATE_DIR": str(tmp_path)})

    key = settings.pseudonym_key()

    assert len(key) == 32
    assert settings.pseudonym_key() == key
    assert stat.S_IMODE((tmp_path / "pseudonym.key").stat().st_mode) == 0o600
    assert Settings.from_env({"ACOLHE_STATE_DIR": str(tmp_path)}).pseudonym_key() == key


def test_a_pseudonym_key_from_the_environment_never_prints() -> None:
    raw = os.urandom(32)
    encoded = base64.b64encode(raw).decode()
    settings = Settings.from_env({"ACOLHE_EXPORT_PSEUDONYM_KEY": encoded})

    assert settings.pseudonym_key() == raw
    shown = repr(settings) + str(settings.describe())
    assert encoded not in shown
    assert settings.describe()["export.pseudonym_key"] == "***"


def test_authorized_digests_are_read_as_hex() -> None:
    digests = [hashlib.sha256(os.urandom(32)).hexdigest() for _ in range(2)]
    settings = Settings.from_env(
        {"ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256": f" {digests[0].upper()} ,{digests[1]}"}
    )

    assert settings.export.authorized_key_sha256 == tuple(digests)
    assert settings.describe()["export.authorized_keys"] == 2
    assert Settings.from_env({}).export.authorized_key_sha256 == ()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ACOLHE_EXPORT_PSEUDONYM_KEY": "c2hvcnQ="}, "ACOLHE_EXPORT_PSEUDONYM_KEY"),
        ({"ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256": "abc"}, "ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.from_env(env)
