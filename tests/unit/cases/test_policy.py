"""The lifecycle policy loads from JSON; a faulty file is refused naming the file and field."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.cases.policy import (
    DEFAULT_POLICY_PATH,
    LADDER_KEYS,
    PolicyError,
    default_policy,
    load_policy,
    parse_duration,
)
from streams.shared.errors import BadInput


def _valid() -> dict[str, Any]:
    return {
        "version": "v1",
        "reopen_window": "7d",
        "reopenable_reasons": ["resolved"],
        "resume_on_reply": ["inactivity"],
        "inactivity": {
            "waiting_on_citizen": [
                {"after": "24h", "action": "remind", "text": "Olá!"},
                {"after": "72h", "action": "hold"},
                {"after": "7d", "action": "close"},
            ]
        },
    }


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_default_policy_is_what_an_office_would_configure() -> None:
    policy = default_policy()

    waiting = policy.steps_for("waiting_on_citizen")
    assert [(s.after, s.action) for s in waiting] == [
        (timedelta(hours=24), "remind"),
        (timedelta(hours=72), "hold"),
        (timedelta(days=7), "close"),
    ]
    assert [(s.after, s.action) for s in policy.steps_for("in_triage")] == [
        (timedelta(hours=2), "remind"),
        (timedelta(hours=48), "close"),
    ]
    assert policy.reopen_window == timedelta(days=7)
    assert policy.steps_for("on_hold:external") == ()  # a case waiting on a court never closes
    assert all(s.text for steps in policy.inactivity.values() for s in steps)
    assert "Defensoria" in (waiting[0].text or "")


def test_a_policy_file_loads_into_timedeltas(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, _valid()))

    assert policy.version == "v1"
    assert policy.reopenable_reasons == frozenset({"resolved"})
    assert policy.steps_for("waiting_on_citizen")[2].after == timedelta(days=7)
    assert policy.steps_for("queued") == ()
    assert policy.steps_for(None) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("1d12h", timedelta(hours=36)),
        ("30s", timedelta(seconds=30)),
    ],
)
def test_durations_read_like_an_operator_writes_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "24", "3x", "h", "0h", "-1d", "1.5h", "12h1d"])
def test_a_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|longer than zero"):
        parse_duration(text)


def _broken(change: str) -> dict[str, Any]:
    data = _valid()
    steps = data["inactivity"]["waiting_on_citizen"]
    if change == "bad duration":
        steps[0]["after"] = "one day"
    elif change == "unknown ladder":
        data["inactivity"]["waiting_on_citzen"] = data["inactivity"].pop("waiting_on_citizen")
    elif change == "unknown action":
        steps[1]["action"] = "archive"
    elif change == "reminder without text":
        del steps[0]["text"]
    elif change == "out of order":
        steps[1]["after"] = "12h"
    elif change == "step after close":
        steps.append({"after": "8d", "action": "remind", "text": "?"})
    elif change == "hold while on hold":
        data["inactivity"]["on_hold:documents_pending"] = [{"after": "1d", "action": "hold"}]
    elif change == "unknown reason":
        data["reopenable_reasons"] = ["solved"]
    elif change == "unknown field":
        data["reopen_windw"] = "7d"
    elif change == "missing version":
        del data["version"]
    return data


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ("bad duration", "inactivity.waiting_on_citizen[0].after"),
        ("unknown ladder", "inactivity"),
        ("unknown action", "inactivity.waiting_on_citizen[1].action"),
        ("reminder without text", "inactivity.waiting_on_citizen[0].text"),
        ("out of order", "inactivity.waiting_on_citizen[1].after"),
        ("step after close", "inactivity.waiting_on_citizen[3]"),
        ("hold while on hold", "inactivity.on_hold:documents_pending[0]"),
        ("unknown reason", "reopenable_reasons"),
        ("unknown field", "top level"),
        ("missing version", "version"),
    ],
)
def test_a_faulty_policy_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, change: str, where: str
) -> None:
    path = _write(tmp_path, _broken(change))

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    assert isinstance(caught.value, BadInput)
    assert str(path) in str(caught.value)
    assert f"at {where}:" in str(caught.value)


def test_a_file_that_is_not_json_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{\n  "version": "v1",\n  oops\n}', encoding="utf-8")

    with pytest.raises(PolicyError, match=r"not JSON: .* at line 3"):
        load_policy(path)


def test_a_missing_file_is_refused_saying_to_check_the_path(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="check the path"):
        load_policy(tmp_path / "nowhere.json")


def test_every_ladder_key_of_the_default_file_is_known() -> None:
    data = json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))

    assert set(data["inactivity"]) <= LADDER_KEYS
