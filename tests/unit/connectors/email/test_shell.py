"""The email shell's pure parts: settings read from the environment, and what the relay's
answers become for the outbound loop."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from connectors.common.outbound import Refused, RetryLater, Sent
from connectors.email.config import EmailSettings
from connectors.email.deliver import outcome_of
from connectors.email.smtp_out import (
    Relayed,
    RelayRefused,
    RelayUnreachable,
    answer_of,
    redact,
)
from streams.shared.errors import ConfigurationError

BASE = {
    "ACOLHE_EMAIL_MAILBOXES": "Atendimento@Defensoria.sp.def.br, triagem@defensoria.sp.def.br",
    "ACOLHE_EMAIL_RELAY_HOST": "smtp.defensoria.sp.def.br",
}


def read(**extra: str) -> EmailSettings:
    return EmailSettings.from_env(BASE | extra, state_dir=Path("/tmp/state"))


def test_given_the_minimum_the_settings_have_safe_defaults_and_no_imap() -> None:
    config = read()
    assert config.mailboxes == ("atendimento@defensoria.sp.def.br", "triagem@defensoria.sp.def.br")
    assert config.domain == "defensoria.sp.def.br"
    assert (config.smtp_host, config.smtp_port) == ("127.0.0.1", 2525)
    assert (config.http_host, config.http_port) == ("127.0.0.1", 8082)
    assert (config.relay.port, config.relay.starttls) == (587, True)
    assert config.imap is None
    assert config.media_dir == Path("/tmp/state/media")
    assert config.is_office_mailbox("TRIAGEM@defensoria.sp.def.br")
    assert not config.is_office_mailbox("outra@defensoria.sp.def.br")
    assert (config.smtp_max_connections, config.smtp_max_connections_per_client) == (100, 10)


def test_the_smtp_connection_limits_are_read_from_their_variables() -> None:
    config = read(
        ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS=" 40 ", ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT="4"
    )
    assert (config.smtp_max_connections, config.smtp_max_connections_per_client) == (40, 4)


def test_the_http_face_listens_where_its_variables_say() -> None:
    config = read(ACOLHE_EMAIL_HTTP_HOST=" 0.0.0.0 ", ACOLHE_EMAIL_HTTP_PORT="9090")
    assert (config.http_host, config.http_port) == ("0.0.0.0", 9090)
    assert (config.smtp_host, config.smtp_port) == ("127.0.0.1", 2525)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ACOLHE_EMAIL_HTTP_PORT": "http"}, "ACOLHE_EMAIL_HTTP_PORT must be a TCP port number"),
        ({"ACOLHE_EMAIL_HTTP_PORT": "70000"}, r"ACOLHE_EMAIL_HTTP_PORT .*\(0-65535\), got 70000"),
        (
            {"ACOLHE_EMAIL_HTTP_PORT": "2525"},
            r"ACOLHE_EMAIL_HTTP_PORT must differ from ACOLHE_EMAIL_SMTP_PORT \(2525\)",
        ),
        (
            {"ACOLHE_EMAIL_SMTP_PORT": "8082"},
            r"ACOLHE_EMAIL_HTTP_PORT must differ from ACOLHE_EMAIL_SMTP_PORT \(8082\)",
        ),
    ],
)
def test_a_bad_http_port_is_refused_saying_what_a_valid_one_is(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        read(**env)


def test_imap_is_configured_only_with_a_host_and_then_needs_its_login() -> None:
    config = read(
        ACOLHE_EMAIL_IMAP_HOST="imap.example.com",
        ACOLHE_EMAIL_IMAP_USERNAME="atendimento",
        ACOLHE_EMAIL_IMAP_PASSWORD="s3cret",
        ACOLHE_EMAIL_IMAP_MAILBOX="triagem@defensoria.sp.def.br",
    )
    assert config.imap is not None
    assert (config.imap.port, config.imap.use_ssl, config.imap.folder) == (993, True, "INBOX")
    assert config.imap.mailbox == "triagem@defensoria.sp.def.br"
    assert "s3cret" not in repr(config)
    with pytest.raises(ConfigurationError, match="ACOLHE_EMAIL_IMAP_PASSWORD"):
        read(ACOLHE_EMAIL_IMAP_HOST="imap.example.com", ACOLHE_EMAIL_IMAP_USERNAME="a")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ACOLHE_EMAIL_MAILBOXES": ""}, "ACOLHE_EMAIL_MAILBOXES"),
        ({"ACOLHE_EMAIL_MAILBOXES": "not-an-address"}, "ACOLHE_EMAIL_MAILBOXES"),
        ({"ACOLHE_EMAIL_RELAY_HOST": ""}, "ACOLHE_EMAIL_RELAY_HOST"),
        ({"ACOLHE_EMAIL_SMTP_PORT": "70000"}, "ACOLHE_EMAIL_SMTP_PORT"),
        ({"ACOLHE_EMAIL_MAX_MESSAGE_BYTES": "0"}, "ACOLHE_EMAIL_MAX_MESSAGE_BYTES"),
        ({"ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS": "0"}, "ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS"),
        (
            {"ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT": "ten"},
            "ACOLHE_EMAIL_SMTP_MAX_CONNECTIONS_PER_CLIENT",
        ),
        ({"ACOLHE_EMAIL_RELAY_STARTTLS": "maybe"}, "ACOLHE_EMAIL_RELAY_STARTTLS"),
        (
            {
                "ACOLHE_EMAIL_RELAY_USERNAME": "u",
                "ACOLHE_EMAIL_RELAY_PASSWORD": "p",
                "ACOLHE_EMAIL_RELAY_STARTTLS": "false",
            },
            "ACOLHE_EMAIL_RELAY_STARTTLS",
        ),
        (
            {
                "ACOLHE_EMAIL_IMAP_HOST": "imap.example.com",
                "ACOLHE_EMAIL_IMAP_USERNAME": "u",
                "ACOLHE_EMAIL_IMAP_PASSWORD": "p",
                "ACOLHE_EMAIL_IMAP_MAILBOX": "someone@else.org",
            },
            "ACOLHE_EMAIL_IMAP_MAILBOX",
        ),
    ],
)
def test_a_wrong_setting_is_refused_naming_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        read(**env)


def test_relay_texts_keep_no_address() -> None:
    text = "5.1.1 <maria@example.com>: Recipient address rejected; also joao@x.org\r\nx"
    assert redact(text) == "5.1.1 <address>: Recipient address rejected; also <address> x"


@pytest.mark.parametrize(
    ("error", "answer"),
    [
        (
            smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"5.1.1 <a@b.c> unknown")}),
            RelayRefused(550, "5.1.1 <address> unknown"),
        ),
        (smtplib.SMTPDataError(452, b"4.3.1 full"), RelayRefused(452, "4.3.1 full")),
        (smtplib.SMTPSenderRefused(421, b"4.7.0 later", "a@b.c"), RelayRefused(421, "4.7.0 later")),
        (ConnectionRefusedError(111, "Connection refused"), None),
        (smtplib.SMTPServerDisconnected("gone"), None),
        (smtplib.SMTPAuthenticationError(535, b"bad"), None),
    ],
)
def test_smtplib_failures_become_relay_answers(
    error: Exception, answer: RelayRefused | None
) -> None:
    got = answer_of(error)  # type: ignore[arg-type]
    if answer is None:
        assert isinstance(got, RelayUnreachable)
    else:
        assert got == answer


def test_relay_answers_become_outcomes_250_sent_4xx_retried_5xx_refused_with_the_code() -> None:
    assert outcome_of(Relayed(), "id@d") == Sent("id@d")
    assert isinstance(outcome_of(RelayRefused(451, "4.3.0 busy"), "id@d"), RetryLater)
    assert outcome_of(RelayRefused(554, "5.7.1 spam"), "id@d") == Refused("554", "5.7.1 spam")
    assert isinstance(outcome_of(RelayUnreachable("timeout"), "id@d"), RetryLater)
