"""Only requests signed with the app secret, and Meta's subscription handshake, get in."""

from __future__ import annotations

import pytest

from connectors.whatsapp.signature import (
    HandshakeAccepted,
    HandshakeRefused,
    SignatureOutcome,
    check_handshake,
    check_signature,
    sign,
)

SECRET = b"app-secret-from-the-dashboard"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_a_body_signed_with_the_app_secret_is_valid() -> None:
    header = sign(SECRET, BODY)

    outcome = check_signature(SECRET, BODY, header)

    assert outcome is SignatureOutcome.VALID
    assert outcome.is_valid


def test_uppercase_hex_and_surrounding_spaces_are_still_valid() -> None:
    header = "  sha256=" + sign(SECRET, BODY).removeprefix("sha256=").upper() + " "

    assert check_signature(SECRET, BODY, header) is SignatureOutcome.VALID


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_header_is_told_apart(header: str | None) -> None:
    assert check_signature(SECRET, BODY, header) is SignatureOutcome.MISSING


@pytest.mark.parametrize(
    "header",
    [
        "sha1=" + "0" * 40,
        "sha256=" + "0" * 63,
        "sha256=" + "g" * 64,
        "0" * 64,
        "sha256=",
    ],
)
def test_a_malformed_header_is_told_apart(header: str) -> None:
    assert check_signature(SECRET, BODY, header) is SignatureOutcome.MALFORMED


def test_a_body_changed_after_signing_is_a_mismatch() -> None:
    header = sign(SECRET, BODY)

    outcome = check_signature(SECRET, BODY + b" ", header)

    assert outcome is SignatureOutcome.MISMATCH
    assert not outcome.is_valid


def test_a_signature_made_with_another_secret_is_a_mismatch() -> None:
    assert check_signature(SECRET, BODY, sign(b"another", BODY)) is SignatureOutcome.MISMATCH


def test_an_empty_app_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="app secret"):
        check_signature(b"", BODY, sign(b"x", BODY))


def query(**overrides: str | None) -> dict[str, str]:
    base = {"hub.mode": "subscribe", "hub.verify_token": "the-token", "hub.challenge": "1158201444"}
    base.update(overrides)  # type: ignore[arg-type]
    return {k: v for k, v in base.items() if v is not None}


def test_the_handshake_echoes_the_challenge() -> None:
    assert check_handshake(query(), "the-token") == HandshakeAccepted("1158201444")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"hub.mode": None}, "hub.mode is missing"),
        ({"hub.mode": "unsubscribe"}, "hub.mode is not subscribe"),
        ({"hub.verify_token": None}, "hub.verify_token is missing"),
        ({"hub.verify_token": "the-tokeN"}, "hub.verify_token does not match"),
        ({"hub.verify_token": "the-token "}, "hub.verify_token does not match"),
        ({"hub.challenge": None}, "hub.challenge is missing or malformed"),
        ({"hub.challenge": "<script>alert(1)</script> x"}, "hub.challenge is missing or malformed"),
        ({"hub.challenge": "9" * 129}, "hub.challenge is missing or malformed"),
    ],
)
def test_a_bad_handshake_is_refused_with_its_reason(
    overrides: dict[str, str | None], reason: str
) -> None:
    outcome = check_handshake(query(**overrides), "the-token")

    assert outcome == HandshakeRefused(reason)  # type: ignore[arg-type]
    assert isinstance(outcome, HandshakeRefused)
    assert "the-token" not in outcome.reason


def test_a_non_ascii_token_is_compared_exactly() -> None:
    assert isinstance(
        check_handshake(query(**{"hub.verify_token": "senha-ç"}), "senha-ç"), HandshakeAccepted
    )
    assert isinstance(
        check_handshake(query(**{"hub.verify_token": "senha-c"}), "senha-ç"), HandshakeRefused
    )
