"""Visitor tokens: given a token issued for a visitor's session, when the chat server verifies
it (at some time, with some keys, for some site), then the visitor's claims or one reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.webchat.signing import MAX_TOKEN_CHARS, SigningKey, sign
from connectors.webchat.tokens import (
    PURPOSE,
    VisitorClaims,
    VisitorTokenRefused,
    issue_visitor_token,
    verify_visitor_token,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CURRENT = SigningKey("2026-03", b"c" * 32)
RETIRED = SigningKey("2026-02", b"r" * 32)
UNKNOWN = SigningKey("stolen", b"x" * 32)
HOUR = timedelta(hours=1)
ID = st.from_regex(r"[A-Za-z0-9._:@-]{1,128}", fullmatch=True)


def token(key: SigningKey = CURRENT, **overrides: object) -> str:
    fields: dict[str, object] = {
        "visitor_id": "v-8f3a",
        "site_id": "www.defensoria",
        "session_id": "s-1",
        "issued_at": T0,
        "ttl": HOUR,
    }
    fields.update(overrides)
    return issue_visitor_token(key, **fields)  # type: ignore[arg-type]


def verify(
    text: str,
    *,
    at: datetime = T0,
    site: str = "www.defensoria",
    keys: list[SigningKey] | None = None,
) -> VisitorClaims | VisitorTokenRefused:
    return verify_visitor_token(text, keys=keys or [CURRENT], site_id=site, now=at)


def reason(outcome: VisitorClaims | VisitorTokenRefused) -> str:
    assert isinstance(outcome, VisitorTokenRefused), outcome
    return outcome.reason


def test_a_fresh_token_gives_back_the_visitor_site_session_and_times() -> None:
    outcome = verify(token(), at=T0 + timedelta(minutes=5))

    assert outcome == VisitorClaims(
        visitor_id="v-8f3a",
        site_id="www.defensoria",
        session_id="s-1",
        issued_at=T0,
        expires_at=T0 + HOUR,
    )


def test_an_expired_token_is_refused_as_expired() -> None:
    assert reason(verify(token(), at=T0 + HOUR + timedelta(minutes=1))) == "expired"


def test_the_leeway_tolerates_a_small_clock_difference_at_both_ends() -> None:
    issued = token()

    assert isinstance(verify(issued, at=T0 - timedelta(seconds=20)), VisitorClaims)
    assert isinstance(verify(issued, at=T0 + HOUR + timedelta(seconds=20)), VisitorClaims)
    assert reason(verify(issued, at=T0 + HOUR + timedelta(seconds=30))) == "expired"


def test_a_token_issued_in_the_future_beyond_the_skew_is_not_yet_valid() -> None:
    assert reason(verify(token(), at=T0 - timedelta(minutes=2))) == "not_yet_valid"


def test_a_token_for_another_site_is_refused_as_wrong_site() -> None:
    assert reason(verify(token(site_id="other-site"))) == "wrong_site"


def test_a_tampered_payload_fails_the_signature() -> None:
    good = token()
    forged = token(visitor_id="v-someone-else")
    spliced = forged.split(".")[0] + "." + good.split(".")[1]

    assert reason(verify(spliced)) == "bad_signature"


def test_a_token_signed_with_an_unknown_key_fails_the_signature() -> None:
    assert reason(verify(token(UNKNOWN))) == "bad_signature"


def test_after_rotation_a_token_signed_with_the_retired_key_still_passes() -> None:
    old = token(RETIRED)

    assert isinstance(verify(old, keys=[CURRENT, RETIRED]), VisitorClaims)
    assert reason(verify(old, keys=[CURRENT])) == "bad_signature"  # once the key is dropped


def test_an_agent_token_does_not_pass_as_a_visitor_token_even_with_the_same_key() -> None:
    agentish = sign("acolhe/gateway/agent/v1", CURRENT, ["v-8f3a", "www.defensoria", "s-1", 1, 2])

    assert reason(verify(agentish)) == "bad_signature"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "a.b.c",
        "not base64!.abc",
        "YWJj.YWJj=",
        "x" * (MAX_TOKEN_CHARS + 1),
        "é.é",
    ],
)
def test_text_that_is_not_a_token_is_malformed(text: str) -> None:
    assert reason(verify(text)) == "malformed"


@pytest.mark.parametrize(
    "claims",
    [
        ["v-1", "www.defensoria", "s-1", 10],  # too few
        ["v-1", "www.defensoria", "s-1", 20, 10],  # expires before issued
        ["v-1", "www.defensoria", "s-1", True, 10],  # a bool is no time
        ["", "www.defensoria", "s-1", 10, 20],  # empty id
        ["v 1", "www.defensoria", "s-1", 10, 20],  # space in id
    ],
)
def test_genuinely_signed_nonsense_claims_are_malformed(claims: list[str | int]) -> None:
    assert reason(verify(sign(PURPOSE, CURRENT, claims))) == "malformed"


def test_issuing_refuses_bad_ids_naive_times_and_long_lifetimes() -> None:
    with pytest.raises(ValueError, match="visitor_id"):
        token(visitor_id="has space")
    with pytest.raises(ValueError, match="timezone"):
        token(issued_at=datetime(2026, 3, 2, 8, 0))
    with pytest.raises(ValueError, match="at most"):
        token(ttl=timedelta(days=2))


def test_a_short_secret_is_refused_with_what_to_use() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        SigningKey("weak", b"password")


def test_the_secret_never_shows_in_a_key_repr() -> None:
    assert "c" * 32 not in repr(CURRENT)


@settings(max_examples=60, deadline=None)
@given(visitor=ID, site=ID, session=ID, minutes=st.integers(1, 24 * 60))
def test_any_issued_token_verifies_to_its_own_claims(
    visitor: str, site: str, session: str, minutes: int
) -> None:
    issued = token(
        visitor_id=visitor, site_id=site, session_id=session, ttl=timedelta(minutes=minutes)
    )

    outcome = verify(issued, site=site, at=T0 + timedelta(minutes=minutes) - timedelta(seconds=31))

    assert isinstance(outcome, VisitorClaims)
    assert (outcome.visitor_id, outcome.site_id, outcome.session_id) == (visitor, site, session)


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize("part", [0, 1], ids=["payload", "signature"])
def test_changing_only_the_unused_bits_of_the_last_character_still_fails(part: int) -> None:
    # base64 text of 32 bytes ends in a character with 2 unused bits: lenient decoders map
    # four characters to the same bytes, so a check of the bytes alone would pass three forgeries
    parts = token().split(".")
    last = parts[part][-1]
    for other in B64URL.replace(last, ""):
        tampered = parts.copy()
        tampered[part] = parts[part][:-1] + other

        assert isinstance(verify(".".join(tampered)), VisitorTokenRefused), other


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_changing_any_one_character_of_a_token_makes_it_fail(data: st.DataObject) -> None:
    issued = token()
    position = data.draw(st.integers(0, len(issued) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != issued[position]))
    tampered = issued[:position] + replacement + issued[position + 1 :]

    assert reason(verify(tampered)) in {"malformed", "bad_signature"}


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=300))
def test_verifying_arbitrary_text_never_raises_and_never_passes(text: str) -> None:
    assert isinstance(verify(text), VisitorTokenRefused)
