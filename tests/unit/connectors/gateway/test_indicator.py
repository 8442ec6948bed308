"""An agent's typing request body: given a body, when the gateway reads it, then it is
`{"active": true|false}` and nothing else, or every problem is named with its field."""

from __future__ import annotations

import pytest

from connectors.gateway.commands import Problem
from connectors.gateway.indicator import typing_from_body


@pytest.mark.parametrize(
    ("body", "active"), [(b'{"active": true}', True), (b'{"active":false}', False)]
)
def test_a_boolean_active_is_the_typing_state(body: bytes, active: bool) -> None:
    assert typing_from_body(body) is active


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (b"{}", {("active", "required: true or false")}),
        (b'{"active": "true"}', {("active", "true or false")}),
        (b'{"active": 1}', {("active", "true or false")}),
        (b'{"active": null}', {("active", "true or false")}),
        (b'{"active": true, "case_id": "c-1"}', {("case_id", "unknown field")}),
        (b'{"urgent": true}', {("urgent", "unknown field"), ("active", "required: true or false")}),
        (b'{"active": tru', {("body", "not JSON")}),
        (b"\xff\xfe", {("body", "not UTF-8")}),
        (b"[true]", {("body", "a JSON object")}),
    ],
)
def test_anything_else_is_refused_with_every_problem(
    body: bytes, problems: set[tuple[str, str]]
) -> None:
    refused = typing_from_body(body)

    assert isinstance(refused, tuple)
    assert {(p.field, p.reason) for p in refused} == problems
    assert all(isinstance(p, Problem) for p in refused)
