"""Agents' authentication: given an Authorization header, when the gateway checks it at some
time with its keys, then the agent it names, or one reason for a 401."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.gateway.auth import (
    PURPOSE,
    AgentClaims,
    AuthRefused,
    authenticate,
    issue_agent_token,
    verify_agent_token,
)
from connectors.webchat.signing import SigningKey, sign
from connectors.webchat.tokens import issue_visitor_token

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CURRENT = SigningKey("2026-03", b"c" * 32)
RETIRED = SigningKey("2026-02", b"r" * 32)
SHIFT = timedelta(hours=8)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def agent_token(key: SigningKey = CURRENT, agent_id: str = "ana.souza") -> str:
    return issue_agent_token(key, agent_id=agent_id, issued_at=T0, ttl=SHIFT)


def check(
    header: str | None, *, at: datetime = T0, keys: list[SigningKey] | None = None
) -> AgentClaims | AuthRefused:
    return authenticate(header, keys=keys or [CURRENT], now=at)


def reason(outcome: AgentClaims | AuthRefused) -> str:
    assert isinstance(outcome, AuthRefused), outcome
    return outcome.reason


def test_a_valid_bearer_token_names_the_agent() -> None:
    outcome = check(bearer(agent_token()), at=T0 + timedelta(hours=1))

    assert outcome == AgentClaims(agent_id="ana.souza", issued_at=T0, expires_at=T0 + SHIFT)


def test_the_scheme_is_case_insensitive() -> None:
    assert isinstance(check(f"bearer  {agent_token()}"), AgentClaims)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_no_authorization_is_missing(header: str | None) -> None:
    assert reason(check(header)) == "missing"


def test_another_scheme_is_refused_as_not_bearer() -> None:
    assert reason(check("Basic YW5hOnNlbmhh")) == "not_bearer"


def test_an_expired_token_is_refused() -> None:
    assert reason(check(bearer(agent_token()), at=T0 + SHIFT + timedelta(minutes=1))) == "expired"


def test_a_token_from_the_future_is_not_yet_valid() -> None:
    assert reason(check(bearer(agent_token()), at=T0 - timedelta(minutes=5))) == "not_yet_valid"


def test_a_token_naming_another_agent_cannot_be_made_from_a_genuine_one() -> None:
    genuine = agent_token()
    forged_payload = agent_token(SigningKey("attacker", b"a" * 32), agent_id="chefe").split(".")[0]

    assert reason(check(bearer(f"{forged_payload}.{genuine.split('.')[1]}"))) == "bad_signature"


def test_a_retired_key_passes_while_listed() -> None:
    old = bearer(agent_token(RETIRED))

    assert isinstance(check(old, keys=[CURRENT, RETIRED]), AgentClaims)
    assert reason(check(old)) == "bad_signature"


def test_a_visitor_token_never_passes_as_an_agent_token() -> None:
    visitor = issue_visitor_token(
        CURRENT, visitor_id="ana.souza", site_id="s", session_id="x", issued_at=T0, ttl=SHIFT
    )

    assert reason(check(bearer(visitor))) == "bad_signature"


def test_genuinely_signed_claims_of_the_wrong_shape_are_malformed() -> None:
    assert reason(check(bearer(sign(PURPOSE, CURRENT, ["ana", 10])))) == "malformed"
    assert reason(check(bearer(sign(PURPOSE, CURRENT, ["", 10, 20])))) == "malformed"


def test_issuing_refuses_a_bad_agent_id_and_a_lifetime_over_a_shift() -> None:
    with pytest.raises(ValueError, match="agent_id"):
        issue_agent_token(CURRENT, agent_id="ana souza", issued_at=T0, ttl=SHIFT)
    with pytest.raises(ValueError, match="at most"):
        issue_agent_token(CURRENT, agent_id="ana", issued_at=T0, ttl=timedelta(days=1))


@settings(max_examples=60, deadline=None)
@given(agent_id=st.from_regex(r"[A-Za-z0-9._:@-]{1,128}", fullmatch=True))
def test_any_agent_token_round_trips(agent_id: str) -> None:
    outcome = verify_agent_token(agent_token(agent_id=agent_id), keys=[CURRENT], now=T0)

    assert isinstance(outcome, AgentClaims)
    assert outcome.agent_id == agent_id


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_changing_any_one_character_makes_an_agent_token_fail(data: st.DataObject) -> None:
    token = agent_token()
    at = data.draw(st.integers(0, len(token) - 1))
    other = data.draw(st.characters(codec="utf-8").filter(lambda c: c != token[at]))

    assert isinstance(check(bearer(token[:at] + other + token[at + 1 :])), AuthRefused)


@settings(max_examples=60, deadline=None)
@given(header=st.one_of(st.none(), st.text(max_size=200)))
def test_any_header_is_refused_without_raising(header: str | None) -> None:
    assert isinstance(check(header), AuthRefused)
