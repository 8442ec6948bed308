"""The office typing, told to every web chat replica: given an agent typing in a session's
case, when the gateway NOTIFYs it, then every replica reads back the session and whether
the typing is on, and nothing else; malformed typing notices are ignored."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.webchat.config import READ_MODEL_SCHEMA
from connectors.webchat.notices import Notice, Typing, parse, payload
from streams.projections.migrations import DEFAULT_SCHEMA

SESSION_ID = st.from_regex(r"[A-Za-z0-9._:@-]{1,128}", fullmatch=True)


@given(SESSION_ID, st.booleans())
def test_a_typing_notice_reads_back_as_it_was_sent(session_id: str, active: bool) -> None:
    assert parse(payload(Typing(session_id, active))) == Typing(session_id, active)


def test_the_typing_payload_names_the_session_and_the_state_only() -> None:
    sent = orjson.loads(payload(Typing("s-Yq3v0b7WmS1fQxL2dR8kPg", True)))

    assert sent == {"session_id": "s-Yq3v0b7WmS1fQxL2dR8kPg", "typing": True}


def test_a_message_notice_is_still_a_message_notice() -> None:
    assert parse('{"session_id": "s-1", "seq": 3}') == Notice("s-1", 3)


@pytest.mark.parametrize(
    "text",
    [
        '{"session_id": "s-1", "typing": "yes"}',
        '{"session_id": "s-1", "typing": 1}',
        '{"session_id": "s-1", "typing": null}',
        '{"session_id": "", "typing": true}',
        '{"session_id": "s-1", "typing": true, "seq": 2}',
        '{"session_id": "s-1", "typing": true, "agent_id": "ana"}',
        '{"typing": true}',
    ],
)
def test_a_malformed_typing_notice_is_ignored(text: str) -> None:
    assert parse(text) is None


def test_the_web_chats_default_read_model_is_the_read_models_default() -> None:
    assert READ_MODEL_SCHEMA == DEFAULT_SCHEMA
