"""The acolhe command answers bad input with a message and an exit status, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streams.cli import main


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_a_bad_setting_is_a_one_line_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACOLHE_STACK_KAFKA_PORT", "not-a-port")

    code = main(["stack", "status"])

    err = capsys.readouterr().err
    assert code == 2
    assert "ACOLHE_STACK_KAFKA_PORT" in err
    assert "Traceback" not in err


def test_settings_command_masks_the_password() -> None:
    import os

    env = dict(os.environ, ACOLHE_POSTGRES_DSN="postgresql://a:topsecret@h:5432/d")
    done = _run("settings", env=env)

    assert done.returncode == 0
    assert "topsecret" not in done.stdout
    assert "postgresql://a:***@h:5432/d" in done.stdout


def test_unknown_command_is_a_usage_error() -> None:
    done = _run("launch-rockets")

    assert done.returncode == 2
    assert "invalid choice" in done.stderr
