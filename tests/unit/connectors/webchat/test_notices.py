"""Notices between replicas: given a message recorded in a session, when the store NOTIFYs
it, then every replica listening on that store's channel reads back the session and the
number, and nothing else; a store in another schema uses another channel."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.webchat.notices import Notice, channel, parse, payload

SESSION_ID = st.from_regex(r"[A-Za-z0-9._:@-]{1,128}", fullmatch=True)
SCHEMA = st.from_regex(r"[a-z_][a-z0-9_]{0,62}", fullmatch=True)


@given(SESSION_ID, st.integers(min_value=1, max_value=2**63 - 1))
def test_a_notice_reads_back_as_it_was_sent(session_id: str, seq: int) -> None:
    assert parse(payload(Notice(session_id, seq))) == Notice(session_id, seq)


def test_the_payload_names_the_session_and_the_number_only() -> None:
    sent = orjson.loads(payload(Notice("s-Yq3v0b7WmS1fQxL2dR8kPg", 7)))

    assert sent == {"session_id": "s-Yq3v0b7WmS1fQxL2dR8kPg", "seq": 7}


@given(SCHEMA, SCHEMA)
def test_stores_in_two_schemas_never_share_a_channel(one: str, other: str) -> None:
    if one != other:
        assert channel(one) != channel(other)
    assert channel(one) == channel(one)
    assert len(channel(one).encode()) <= 63  # Postgres truncates longer identifiers


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"session_id": "s-1"}',
        '{"session_id": "s-1", "seq": 0}',
        '{"session_id": "s-1", "seq": -3}',
        '{"session_id": "s-1", "seq": "2"}',
        '{"session_id": "s-1", "seq": true}',
        '{"session_id": "", "seq": 2}',
        '{"session_id": 5, "seq": 2}',
        '{"session_id": "s-1", "seq": 2, "text": "olá"}',
        '{"session_id": "' + "s" * 2000 + '", "seq": 2}',
    ],
)
def test_anything_else_on_the_channel_is_not_a_notice(text: str) -> None:
    assert parse(text) is None
