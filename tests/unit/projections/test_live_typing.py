"""A visitor typing, heard by the agent's app: given the web chat's `typing` payload on the
agent's live-updates channel, when the app parses it, then it is a `typing` change naming
the case and whether the visitor is typing; a typing payload without them is not one."""

from __future__ import annotations

import json

import pytest

from streams.projections.live import Change, parse
from streams.shared.errors import BadInput


@pytest.mark.parametrize("active", [True, False])
def test_the_web_chats_typing_payload_is_a_typing_change(active: bool) -> None:
    text = json.dumps(
        {"change": "typing", "schema": "acolhe_read", "case_id": "case-1", "active": active}
    )

    assert parse(text, kind="agent", subject="ana") == (
        "acolhe_read",
        Change(kind="agent", subject="ana", change="typing", case_id="case-1", active=active),
    )


def test_other_changes_carry_no_typing_state() -> None:
    text = json.dumps({"change": "assigned", "schema": "s", "case_id": "c", "active": True})

    assert parse(text, kind="agent", subject="ana")[1].active is None


@pytest.mark.parametrize(
    "data",
    [
        {"change": "typing", "schema": "s", "case_id": "c"},
        {"change": "typing", "schema": "s", "case_id": "c", "active": "yes"},
        {"change": "typing", "schema": "s", "active": True},
        {"change": "typing", "schema": "s", "case_id": "", "active": True},
    ],
)
def test_a_typing_payload_without_its_case_or_state_is_not_a_change(
    data: dict[str, object],
) -> None:
    with pytest.raises(BadInput):
        parse(json.dumps(data), kind="agent", subject="ana")
