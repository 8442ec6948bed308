"""Which address the per-address limit of new sessions counts: given the connection's peer,
the X-Forwarded-For headers and the office's trusted proxies, then the client's address,
never one the client wrote into the header itself."""

from __future__ import annotations

from connectors.webchat.app import client_address

PROXIES = frozenset({"10.0.0.2", "10.0.0.3"})


def test_without_a_trusted_proxy_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address("203.0.113.9", ["198.51.100.1"], frozenset()) == "203.0.113.9"
    assert client_address("203.0.113.9", ["198.51.100.1"], PROXIES) == "203.0.113.9"


def test_behind_trusted_proxies_the_right_most_hop_they_did_not_add_is_the_client() -> None:
    # the client forged the first hop; the office's two proxies appended the rest
    forwarded = ["6.6.6.6, 203.0.113.9", "10.0.0.3"]

    assert client_address("10.0.0.2", forwarded, PROXIES) == "203.0.113.9"


def test_a_trusted_proxy_with_no_header_counts_as_itself() -> None:
    assert client_address("10.0.0.2", [], PROXIES) == "10.0.0.2"
    assert client_address(None, [], PROXIES) == "unknown"
