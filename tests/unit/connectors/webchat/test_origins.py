"""The Origin allow-list: given the office's sites, when a browser connects from some page,
then it goes on only from a listed origin, and a refusal says why."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.webchat.origins import (
    Origin,
    OriginAllowed,
    OriginPolicy,
    OriginRefused,
    parse_origin,
)

POLICY = OriginPolicy(["https://www.defensoria.sp.def.br", "http://localhost:8080"])


def refusal(header: str | None, *, required: bool = True) -> str:
    outcome = POLICY.check(header, required=required)
    assert isinstance(outcome, OriginRefused), outcome
    return outcome.reason


@pytest.mark.parametrize(
    "header",
    [
        "https://www.defensoria.sp.def.br",
        "HTTPS://WWW.Defensoria.SP.def.br",  # scheme and host compare case-insensitively
        "https://www.defensoria.sp.def.br:443",  # the default port is the same as none
        "http://localhost:8080",
        " https://www.defensoria.sp.def.br ",
    ],
)
def test_a_listed_origin_is_allowed_in_any_equivalent_spelling(header: str) -> None:
    outcome = POLICY.check(header)

    assert isinstance(outcome, OriginAllowed)
    assert outcome.origin in POLICY.allowed


@pytest.mark.parametrize(
    "header",
    [
        "https://evil.example",
        "http://www.defensoria.sp.def.br",  # another scheme
        "https://www.defensoria.sp.def.br:8443",  # another port
        "https://defensoria.sp.def.br",  # a parent domain
        "https://www.defensoria.sp.def.br.evil.example",  # a suffix trick
        "http://localhost",  # port 80, not 8080
    ],
)
def test_a_foreign_origin_is_not_allowed(header: str) -> None:
    assert refusal(header) == "not_allowed"


def test_the_null_origin_of_sandboxed_frames_is_refused_as_null() -> None:
    assert refusal("null") == "null"


def test_a_missing_origin_is_refused_on_browser_endpoints_only() -> None:
    assert refusal(None) == "missing"
    assert POLICY.check(None, required=False) == OriginAllowed(None)


def test_a_foreign_origin_is_refused_even_where_the_header_is_optional() -> None:
    assert refusal("https://evil.example", required=False) == "not_allowed"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "www.defensoria.sp.def.br",
        "https://www.defensoria.sp.def.br/",
        "https://www.defensoria.sp.def.br/chat",
        "https://user@www.defensoria.sp.def.br",
        "https://www.defensoria.sp.def.br:0",
        "https://www.defensoria.sp.def.br:70000",
        "ftp://www.defensoria.sp.def.br",
        "https://www.defensoria.sp.def.br https://evil.example",
        "https://www.défensoria.br",
    ],
)
def test_anything_but_scheme_host_port_is_malformed(header: str) -> None:
    assert refusal(header) == "malformed"


def test_ipv6_hosts_and_explicit_ports_normalize() -> None:
    assert parse_origin("http://[::1]:8080") == Origin("http", "[::1]", 8080)
    assert str(parse_origin("HTTPS://Example.org:443")) == "https://example.org"


def test_a_policy_refuses_a_misconfigured_origin_with_an_example() -> None:
    with pytest.raises(ValueError, match=r"e\.g\. https://"):
        OriginPolicy(["https://www.defensoria.sp.def.br/"])
    with pytest.raises(ValueError, match="at least one"):
        OriginPolicy([])


@settings(max_examples=100, deadline=None)
@given(header=st.one_of(st.none(), st.text(max_size=80)))
def test_checking_any_header_never_raises_and_allows_only_listed_origins(
    header: str | None,
) -> None:
    outcome = POLICY.check(header)

    assert isinstance(outcome, OriginAllowed | OriginRefused)
    if isinstance(outcome, OriginAllowed):
        assert outcome.origin in POLICY.allowed
