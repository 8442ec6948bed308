"""Settings come from ACOLHE_* variables; bad values are named; secrets never print."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.shared.errors import ConfigurationError
from streams.shared.settings import Settings, mask_dsn


def test_defaults_point_at_the_local_stack(tmp_path: Path) -> None:
    s = Settings.from_env({"ACOLHE_STATE_DIR": str(tmp_path)})

    assert s.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert s.kafka.security_protocol == "PLAINTEXT"
    assert s.postgres.dsn.reveal() == "postgresql://postgres@127.0.0.1:15432/acolhe"
    assert s.stack.state_dir == tmp_path
    assert not s.uses_external_kafka
    assert not s.uses_external_postgres


def test_stack_ports_move_the_default_addresses() -> None:
    s = Settings.from_env(
        {"ACOLHE_STACK_KAFKA_PORT": "29092", "ACOLHE_STACK_POSTGRES_PORT": "25432"}
    )

    assert s.kafka.bootstrap_servers == "127.0.0.1:29092"
    assert ":25432/" in s.postgres.dsn.reveal()


def test_secrets_never_print() -> None:
    s = Settings.from_env(
        {
            "ACOLHE_POSTGRES_DSN": "postgresql://acolhe:hunter2@db:5432/acolhe",
            "ACOLHE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ACOLHE_KAFKA_SASL_USERNAME": "svc",
            "ACOLHE_KAFKA_SASL_PASSWORD": "s3cr3t-pw",
        }
    )

    shown = repr(s) + str(s.describe()) + str(s.kafka) + str(s.postgres)
    assert "hunter2" not in shown
    assert "s3cr3t-pw" not in shown
    assert s.describe()["postgres.dsn"] == "postgresql://acolhe:***@db:5432/acolhe"
    assert s.kafka.sasl_mechanism == "SCRAM-SHA-512"
    assert s.kafka.client_options()["sasl_plain_password"] == "s3cr3t-pw"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ACOLHE_STACK_KAFKA_PORT": "ninety"}, "ACOLHE_STACK_KAFKA_PORT"),
        ({"ACOLHE_STACK_POSTGRES_PORT": "70000"}, "ACOLHE_STACK_POSTGRES_PORT"),
        ({"ACOLHE_KAFKA_SECURITY_PROTOCOL": "TLS"}, "ACOLHE_KAFKA_SECURITY_PROTOCOL"),
        ({"ACOLHE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "ACOLHE_KAFKA_SASL_USERNAME"),
        ({"ACOLHE_POSTGRES_DSN": "mysql://x"}, "ACOLHE_POSTGRES_DSN"),
        ({"ACOLHE_STACK_KAFKA_HEAP": "lots"}, "ACOLHE_STACK_KAFKA_HEAP"),
        ({"ACOLHE_STACK_START_TIMEOUT": "-3"}, "ACOLHE_STACK_START_TIMEOUT"),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.from_env(env)


def test_mask_dsn_keeps_everything_but_the_password() -> None:
    assert mask_dsn("postgresql://u:p%40ss@h:1/d?sslmode=require") == (
        "postgresql://u:***@h:1/d?sslmode=require"
    )
    assert mask_dsn("postgresql://u@h/d") == "postgresql://u@h/d"
