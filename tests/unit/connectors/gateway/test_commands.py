"""Agents' requests -> commands: given an authenticated agent, when the agents' app posts a
JSON body with an Idempotency-Key, then the contract's command (its event id from the agent
and the key), or every problem with the request, field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.gateway.auth import AgentClaims
from connectors.gateway.commands import (
    ACTIONS,
    MAX_BODY_BYTES,
    GatewayCommand,
    InvalidRequest,
    Problem,
    command_event_id,
    command_from_request,
    fingerprint,
)
from schemas.events import (
    ChangeCapacity,
    ChangePresence,
    ClaimCase,
    CloseCase,
    PutCaseOnHold,
    ResumeCase,
    SendReply,
    TransferCase,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ANA = AgentClaims(agent_id="ana", issued_at=T0, expires_at=T0 + timedelta(hours=8))
BRUNO = AgentClaims(agent_id="bruno", issued_at=T0, expires_at=T0 + timedelta(hours=8))
KEY = "7f1c9a52-3b7e-4c1a-9d55-0e6f2a8b4c11"
CASE = {"case_id": "case-1", "contact_id": "web_chat-1"}


def request(
    action: str,
    body: object,
    *,
    agent: AgentClaims = ANA,
    key: str | None = KEY,
    at: datetime = T0,
) -> GatewayCommand | InvalidRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return command_from_request(action, raw, agent=agent, idempotency_key=key, received_at=at)


def problems(outcome: GatewayCommand | InvalidRequest) -> set[Problem]:
    assert isinstance(outcome, InvalidRequest), outcome
    return set(outcome.problems)


def fields(outcome: GatewayCommand | InvalidRequest) -> set[str]:
    return {p.field for p in problems(outcome)}


def test_a_reply_becomes_send_reply_by_the_token_agent() -> None:
    outcome = request("reply", {**CASE, "subject_id": "citizen-1", "text": "Bom dia! Recebemos."})

    event_id = command_event_id("ana", "SendReply", KEY)
    assert outcome == SendReply(
        event_id=event_id,
        occurred_at=T0,
        correlation_id=event_id,
        subject_id="citizen-1",
        case_id="case-1",
        contact_id="web_chat-1",
        agent_id="ana",
        text="Bom dia! Recebemos.",
    )


@pytest.mark.parametrize(
    ("action", "body", "expected"),
    [
        (
            "transfer",
            {**CASE, "subject_id": "citizen-1", "to_queue_id": "familia", "note": "pensão"},
            TransferCase,
        ),
        ("hold", {**CASE, "reason": "documents_pending"}, PutCaseOnHold),
        ("resume", CASE, ResumeCase),
        ("close", {**CASE, "reason": "resolved"}, CloseCase),
        ("close", {**CASE, "reason": "duplicate", "duplicate_of_case_id": "case-0"}, CloseCase),
        ("claim", {"case_id": "case-1"}, ClaimCase),
        ("presence", {"presence": "away"}, ChangePresence),
        ("capacity", {"capacity": 0}, ChangeCapacity),
    ],
)
def test_each_action_becomes_its_command_by_the_token_agent(
    action: str, body: dict[str, object], expected: type[GatewayCommand]
) -> None:
    outcome = request(action, body)

    assert isinstance(outcome, expected)
    assert outcome.agent_id == "ana"
    assert outcome.event_id == command_event_id("ana", expected.NAME, KEY)
    assert outcome.occurred_at == T0
    assert outcome.causation_id is None


def test_a_resume_becomes_resume_case_naming_the_case_and_its_contact() -> None:
    outcome = request("resume", CASE)

    event_id = command_event_id("ana", "ResumeCase", KEY)
    assert outcome == ResumeCase(
        event_id=event_id,
        occurred_at=T0,
        correlation_id=event_id,
        case_id="case-1",
        contact_id="web_chat-1",
        agent_id="ana",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"case_id": "case-1"}, {Problem("contact_id", "required")}, id="no contact"),
        pytest.param({"contact_id": "web_chat-1"}, {Problem("case_id", "required")}, id="no case"),
        pytest.param(
            {**CASE, "contact_id": "web chat 1"},
            {Problem("contact_id", "an id: 1 to 128 of A-Z a-z 0-9 . _ : @ -")},
            id="a contact that is no id",
        ),
        pytest.param(
            {**CASE, "reason": "external"},
            {Problem("reason", "unknown field")},
            id="a reason: a resume gives none",
        ),
        pytest.param(
            {**CASE, "agent_id": "chefe"},
            {Problem("agent_id", "the acting agent is the token's: remove agent_id")},
            id="another agent",
        ),
    ],
)
def test_a_resume_body_names_the_case_and_its_contact_and_nothing_else(
    body: dict[str, object], expected: set[Problem]
) -> None:
    assert problems(request("resume", body)) == expected


def test_a_retried_request_is_the_same_command_whenever_it_arrives() -> None:
    body = {**CASE, "reason": "resolved"}

    first = request("close", body)
    retry = request("close", body, at=T0 + timedelta(seconds=30))

    assert isinstance(first, CloseCase)
    assert isinstance(retry, CloseCase)
    assert retry.event_id == first.event_id
    assert fingerprint(retry) == fingerprint(first)


def test_another_key_or_another_agent_is_another_command() -> None:
    body = {**CASE, "reason": "resolved"}
    commands = [
        request("close", body),
        request("close", body, key=KEY.replace("7f", "80")),
        request("close", body, agent=BRUNO),
    ]

    assert len({c.event_id for c in commands if isinstance(c, CloseCase)}) == 3


def test_a_key_reused_for_a_different_request_has_another_fingerprint() -> None:
    resolved = request("close", {**CASE, "reason": "resolved"})
    withdrawn = request("close", {**CASE, "reason": "withdrawn"})

    assert isinstance(resolved, CloseCase)
    assert isinstance(withdrawn, CloseCase)
    assert resolved.event_id == withdrawn.event_id
    assert fingerprint(resolved) != fingerprint(withdrawn)


def test_the_acting_agent_never_comes_from_the_body() -> None:
    outcome = request("presence", {"presence": "available", "agent_id": "chefe"})

    assert problems(outcome) == {
        Problem("agent_id", "the acting agent is the token's: remove agent_id")
    }


@pytest.mark.parametrize("key", [None, "", "short", "has spaces in it!!", "x" * 129])
def test_a_missing_or_unusable_idempotency_key_is_refused(key: str | None) -> None:
    assert fields(request("presence", {"presence": "away"}, key=key)) == {"Idempotency-Key"}


def test_a_quoted_idempotency_key_is_the_same_key() -> None:
    quoted = request("presence", {"presence": "away"}, key=f'"{KEY}"')
    bare = request("presence", {"presence": "away"})

    assert isinstance(quoted, ChangePresence)
    assert quoted == bare


def test_every_problem_is_reported_at_once_with_its_field() -> None:
    outcome = request(
        "transfer",
        {"case_id": "case 1", "to_queue_id": 7, "note": "x" * 2001, "color": "blue"},
        key=None,
    )

    assert fields(outcome) == {
        "Idempotency-Key",
        "case_id",
        "contact_id",
        "subject_id",
        "to_queue_id",
        "note",
        "color",
    }


# -- a reply with a WhatsApp template ----------------------------------------------------------

HEARING = {
    "name": "lembrete_audiencia",
    "language": "pt_BR",
    "parameters": ["amanhã, 14h", "Fórum João Mendes, sala 3"],
}
REPLY = {**CASE, "subject_id": "citizen-1"}


def test_a_template_reply_becomes_send_reply_with_the_template_and_no_text() -> None:
    outcome = request("reply", {**REPLY, "template": HEARING})

    event_id = command_event_id("ana", "SendReply", KEY)
    assert outcome == SendReply(
        event_id=event_id,
        occurred_at=T0,
        correlation_id=event_id,
        subject_id="citizen-1",
        case_id="case-1",
        contact_id="web_chat-1",
        agent_id="ana",
        template_name="lembrete_audiencia",
        template_language="pt_BR",
        template_parameters='["amanhã, 14h","Fórum João Mendes, sala 3"]',
    )


@pytest.mark.parametrize("parameters", [None, []], ids=["left out", "empty"])
def test_a_template_without_parameters_carries_none(parameters: list[str] | None) -> None:
    outcome = request(
        "reply",
        {**REPLY, "template": {"name": "retorno_2", "language": "es", "parameters": parameters}},
    )

    assert isinstance(outcome, SendReply)
    assert (outcome.template_name, outcome.template_language) == ("retorno_2", "es")
    assert (outcome.template_parameters, outcome.text) == (None, None)


def test_another_template_is_another_request_for_the_same_key() -> None:
    first = request("reply", {**REPLY, "template": HEARING})
    other = request("reply", {**REPLY, "template": {**HEARING, "parameters": ["hoje, 9h", "x"]}})

    assert isinstance(first, SendReply)
    assert isinstance(other, SendReply)
    assert fingerprint(first) != fingerprint(other)


def template_problems(template: object, **body: object) -> set[Problem]:
    return problems(request("reply", {**REPLY, **body, "template": template}))


def test_text_and_a_template_together_are_refused() -> None:
    assert template_problems(HEARING, text="Bom dia") == {
        Problem("template", "either text or a template, not both")
    }


def test_neither_text_nor_a_template_is_refused_naming_text() -> None:
    assert fields(request("reply", REPLY)) == {"text"}


NAME = "an approved template's name: 1 to 512 of a-z 0-9 _"
LANGUAGE = "a language code, e.g. pt_BR, en_US or es"
ONE_LINE = "one line: no newline, tab or control character, nor 5 spaces in a row"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (
            "lembrete_audiencia",
            Problem("template", 'an object: {"name", "language", "parameters"}'),
        ),
        ({**HEARING, "name": "Lembrete-Audiência"}, Problem("template.name", NAME)),
        ({**HEARING, "name": "a" * 513}, Problem("template.name", NAME)),
        ({**HEARING, "name": ""}, Problem("template.name", NAME)),
        ({**HEARING, "name": 7}, Problem("template.name", NAME)),
        ({"language": "pt_BR"}, Problem("template.name", "required")),
        ({**HEARING, "language": "pt-BR"}, Problem("template.language", LANGUAGE)),
        ({**HEARING, "language": "portuguese"}, Problem("template.language", LANGUAGE)),
        ({**HEARING, "language": "PT_br"}, Problem("template.language", LANGUAGE)),
        ({"name": "lembrete_audiencia"}, Problem("template.language", "required")),
        ({**HEARING, "parameters": "amanhã"}, Problem("template.parameters", "a list of strings")),
        ({**HEARING, "parameters": ["amanhã", 14]}, Problem("template.parameters[1]", "a string")),
        (
            {**HEARING, "parameters": ["x"] * 21},
            Problem("template.parameters", "at most 20 parameters"),
        ),
        (
            {**HEARING, "parameters": ["x" * 1025]},
            Problem("template.parameters[0]", "at most 1024 characters"),
        ),
        ({**HEARING, "parameters": ["amanhã\n14h"]}, Problem("template.parameters[0]", ONE_LINE)),
        ({**HEARING, "parameters": ["amanhã\t14h"]}, Problem("template.parameters[0]", ONE_LINE)),
        (
            {**HEARING, "parameters": ["amanhã     14h"]},
            Problem("template.parameters[0]", ONE_LINE),
        ),
        ({**HEARING, "parameters": ["ok", "  "]}, Problem("template.parameters[1]", "not blank")),
        ({**HEARING, "header": "x"}, Problem("template.header", "unknown field")),
    ],
    ids=[
        "not an object",
        "uppercase and hyphen in the name",
        "name too long",
        "empty name",
        "name not a string",
        "no name",
        "language with a hyphen",
        "language a word",
        "language upside down",
        "no language",
        "parameters not a list",
        "a parameter not a string",
        "too many parameters",
        "a parameter too long",
        "a newline in a parameter",
        "a tab in a parameter",
        "five spaces in a parameter",
        "a blank parameter",
        "an unknown field in the template",
    ],
)
def test_a_template_meta_would_refuse_is_refused_at_once_naming_the_field(
    template: object, problem: Problem
) -> None:
    assert template_problems(template) == {problem}


def test_every_problem_with_a_template_is_reported_at_once() -> None:
    template = {"name": "Lembrete", "language": "pt-BR", "parameters": [1, "a\nb"]}

    assert fields(request("reply", {**REPLY, "template": template})) == {
        "template.name",
        "template.language",
        "template.parameters[0]",
        "template.parameters[1]",
    }


def test_four_spaces_in_a_row_and_the_longest_name_are_accepted() -> None:
    template = {"name": "a" * 512, "language": "pt_BR", "parameters": ["sala    3", "x" * 1024]}

    assert isinstance(request("reply", {**REPLY, "template": template}), SendReply)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b'{"presence": "away"\xff}', "body"),
        (b" " * (MAX_BODY_BYTES + 1), "body"),
    ],
)
def test_a_body_that_is_not_one_json_object_is_refused(body: bytes, field: str) -> None:
    assert fields(request("presence", body)) == {field}


def test_an_unknown_action_is_refused() -> None:
    assert fields(request("delete_case", {})) == {"action"}


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("reply", {**CASE, "subject_id": "citizen-1"}, "text"),
        ("reply", {**CASE, "subject_id": "citizen-1", "text": "  \n "}, "text"),
        ("reply", {**CASE, "subject_id": "citizen-1", "text": "x" * 4097}, "text"),
        ("reply", {**CASE, "subject_id": "citizen-1", "text": "a\x00b"}, "text"),
        (
            "transfer",
            {**CASE, "subject_id": "c-1", "to_queue_id": "q", "to_agent_id": "ana"},
            "to_agent_id",
        ),
        ("hold", {**CASE, "reason": "unknown"}, "reason"),
        ("hold", {**CASE, "reason": "lunch"}, "reason"),
        ("close", {**CASE, "reason": "auto_closed_inactivity"}, "reason"),
        ("close", {**CASE, "reason": "duplicate"}, "duplicate_of_case_id"),
        (
            "close",
            {**CASE, "reason": "resolved", "duplicate_of_case_id": "case-0"},
            "duplicate_of_case_id",
        ),
        (
            "close",
            {**CASE, "reason": "duplicate", "duplicate_of_case_id": "case-1"},
            "duplicate_of_case_id",
        ),
        ("presence", {"presence": "unknown"}, "presence"),
        ("presence", {}, "presence"),
        ("capacity", {"capacity": -1}, "capacity"),
        ("capacity", {"capacity": 51}, "capacity"),
        ("capacity", {"capacity": True}, "capacity"),
        ("capacity", {"capacity": "3"}, "capacity"),
        ("claim", {"case_id": "case-1", "contact_id": ""}, "contact_id"),
        ("claim", {"case_id": "case-1", "correlation_id": 5}, "correlation_id"),
    ],
)
def test_a_value_the_processor_would_refuse_is_refused_at_once(
    action: str, body: dict[str, object], field: str
) -> None:
    assert fields(request(action, body)) == {field}


def test_a_correlation_id_from_the_app_is_kept() -> None:
    outcome = request("claim", {"case_id": "case-1", "correlation_id": "flow-9"})

    assert isinstance(outcome, ClaimCase)
    assert outcome.correlation_id == "flow-9"


def test_the_problems_serialize_for_the_400_answer() -> None:
    outcome = request("presence", {"presence": "asleep"})

    assert isinstance(outcome, InvalidRequest)
    assert orjson.loads(outcome.to_json()) == {
        "error": "invalid_request",
        "problems": [{"field": "presence", "reason": "one of: available, away, offline"}],
    }


def test_a_naive_receipt_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone"):
        request("presence", {"presence": "away"}, at=datetime(2026, 3, 2, 10, 0))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
FIELD_NAMES = st.sampled_from(
    [
        "case_id",
        "contact_id",
        "subject_id",
        "text",
        "template",
        "to_queue_id",
        "to_agent_id",
        "note",
        "reason",
        "duplicate_of_case_id",
        "presence",
        "capacity",
        "correlation_id",
        "agent_id",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    action=st.sampled_from([*ACTIONS, "nope"]),
    body=st.one_of(
        st.binary(max_size=200), st.dictionaries(FIELD_NAMES, JSON, max_size=6).map(orjson.dumps)
    ),
    key=st.one_of(st.none(), st.just(KEY), st.text(max_size=15)),  # short keys are invalid
)
def test_any_request_is_a_command_by_the_token_agent_or_problems_never_an_exception(
    action: str, body: bytes, key: str | None
) -> None:
    outcome = request(action, body, key=key)

    if isinstance(outcome, InvalidRequest):
        assert outcome.problems
    else:
        assert outcome.agent_id == "ana"
        assert outcome.event_id == command_event_id("ana", outcome.NAME, KEY)
