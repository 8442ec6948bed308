"""The SLA policy loads from JSON; a faulty file or change is refused, naming what to fix."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.shared.errors import BadInput
from streams.sla.policy import (
    DEFAULT_POLICY_PATH,
    METRICS,
    PRIORITIES,
    PolicyChangeRefused,
    PolicyError,
    apply_change,
    default_policy,
    load_policy,
    parse_policy,
)

from .builders import HOUR, MINUTE, POLICY, policy_changed, sp

US_PER_MS = 1000


def _valid() -> dict[str, Any]:
    return {
        "comment": ["Two lines", "of comment."],
        "version": "v1",
        "policies": [
            {
                "comment": "the default",
                "policy_id": "geral",
                "version": 3,
                "queues": ["*", "moradia"],
                "calendar": "office-hours",
                "pause_reasons": ["waiting_on_citizen"],
                "targets": {
                    "normal": {
                        "first_response": {"target": "7h", "warn_before": "2h"},
                        "resolution": {"target": "70h", "warn_at": 0.8},
                    }
                },
            }
        ],
    }


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "sla-policy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_default_policy_is_what_a_legal_aid_office_would_configure() -> None:
    policy = default_policy()

    urgent = policy.terms("violencia-domestica-urgente", "urgent", "first_response")
    assert urgent is not None
    assert (urgent.target_us, urgent.calendar_id) == (15 * MINUTE * US_PER_MS, None)
    normal = policy.terms("familia-capital", "normal", "first_response")
    assert normal is not None
    assert (normal.target_us, normal.calendar_id) == (7 * HOUR * US_PER_MS, "office-hours")
    resolution = policy.terms("familia-capital", "normal", "resolution")
    assert resolution is not None
    assert resolution.target_us == 70 * HOUR * US_PER_MS  # 10 business days of 7h
    assert "external" not in urgent.pause_reasons  # urgent cases keep pressing third parties
    for queue in policy.queues.values():
        assert set(queue.targets) == {(p, m) for p in PRIORITIES for m in METRICS}
        assert all(0 < t.warning_us < t.target_us for t in queue.targets.values())
    assert json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))["comment"]


def test_a_warning_is_a_duration_before_the_breach_or_a_fraction_of_the_target() -> None:
    policy = parse_policy(_valid())

    first = policy.terms("*", "normal", "first_response")
    resolution = policy.terms("*", "normal", "resolution")

    assert first is not None
    assert resolution is not None
    assert first.warning_us == timedelta(hours=5) // timedelta(microseconds=1)
    assert resolution.warning_us == timedelta(hours=56) // timedelta(microseconds=1)
    assert (first.policy_id, first.policy_version) == ("geral", 3)


def test_a_queue_without_a_policy_of_its_own_follows_the_default() -> None:
    policy = parse_policy(_valid())

    assert policy.for_queue("consumidor") is policy.queues["*"]
    assert policy.for_queue(None) is policy.queues["*"]
    assert policy.for_queue("moradia").queue_id == "moradia"
    assert policy.terms("consumidor", "urgent", "first_response") is None  # no target: no clock


def _set(path: str, value: object) -> dict[str, Any]:
    """The valid policy with the field at a dotted path set (or removed, for None)."""
    data = copy.deepcopy(_valid())
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return data


FR = "policies.0.targets.normal.first_response"


@pytest.mark.parametrize(
    ("data", "where", "problem"),
    [
        (_set("policies.0.calendar", "office"), "policies[0].calendar", "unknown calendar"),
        (_set(f"{FR}.warn_before", "7h"), "first_response.warn_before", "not shorter"),
        (_set(f"{FR}.warn_at", 0.5), "first_response", "exactly one"),
        (_set(f"{FR}.warn_before", None), "first_response", "exactly one"),
        (
            _set("policies.0.targets.normal.resolution.warn_at", 1.5),
            "resolution.warn_at",
            "between 0 and 1",
        ),
        (_set(f"{FR}.target", "soon"), "first_response.target", "not a duration"),
        (_set("policies.0.targets.critical", {}), "policies[0].targets", "'critical'"),
        (_set("policies.0.targets.normal.reply", {}), "targets.normal", "'reply'"),
        (_set("policies.0.queues", ["moradia"]), "policies", "default queue"),
        (_set("policies.0.version", 0), "policies[0].version", ">= 1"),
        (_set("policies.0.pause_reasons", ["lunch"]), "pause_reasons", "'lunch'"),
        (_set("policies.0.priority", "x"), "policies[0]", "unknown field"),
        (_set("policies", []), "policies", "non-empty"),
        (_set("comment", 3), "comment", "list of strings"),
    ],
)
def test_a_faulty_policy_is_refused_naming_the_field(
    data: dict[str, Any], where: str, problem: str
) -> None:
    with pytest.raises(PolicyError, match=problem) as caught:
        parse_policy(data)

    assert where in caught.value.where


def test_a_queue_in_two_policies_is_refused() -> None:
    data = _valid()
    data["policies"].append({**data["policies"][0], "policy_id": "outra", "queues": ["moradia"]})

    with pytest.raises(PolicyError, match="'moradia' is already in policies\\[0\\]"):
        parse_policy(data)


def test_an_unreadable_file_is_refused_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")

    with pytest.raises(BadInput, match=r"broken\.json.*not JSON"):
        load_policy(broken)
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "missing.json")
    assert load_policy(_write(tmp_path, _valid())).version == "v1"


# Changes -----------------------------------------------------------------------------------

CHANGE = policy_changed(
    sp(3, 2, 11),
    # A metric this version does not know (a newer writer's) is skipped, not refused.
    [("normal", "first_response", 4 * HOUR, 3 * HOUR), ("normal", "unknown", 1, 0)],
    queue_id="moradia",
    policy_id="moradia",
    version=1,
)


def test_a_change_sets_the_queues_policy_and_leaves_the_others() -> None:
    policy = apply_change(POLICY, CHANGE)

    terms = policy.terms("moradia", "normal", "first_response")
    assert terms is not None
    assert (terms.policy_id, terms.policy_version, terms.target_us) == (
        "moradia",
        1,
        4 * HOUR * US_PER_MS,
    )
    assert policy.terms("moradia", "normal", "resolution") is None  # a change is the whole set
    assert policy.for_queue("consumidor") is POLICY.for_queue("consumidor")


def test_a_change_the_queue_already_has_returns_the_same_policy() -> None:
    policy = apply_change(POLICY, CHANGE)

    assert apply_change(policy, CHANGE) is policy
    assert apply_change(policy, dataclasses.replace(CHANGE, version=0)) is policy


def test_a_change_to_calendar_time_counts_every_minute() -> None:
    change = dataclasses.replace(CHANGE, business_hours=False, calendar_id=None)

    terms = apply_change(POLICY, change).terms("moradia", "normal", "first_response")

    assert terms is not None
    assert terms.calendar_id is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (dataclasses.replace(CHANGE, calendar_id="office"), "known calendar_id"),
        (dataclasses.replace(CHANGE, effective_from=sp(3, 3)), "write it when it takes effect"),
        (
            policy_changed(sp(3, 2), [("normal", "resolution", HOUR, HOUR)]),
            "0 < warning_ms < target_ms",
        ),
        (
            policy_changed(
                sp(3, 2),
                [("high", "resolution", HOUR, 1), ("high", "resolution", 2 * HOUR, 1)],
            ),
            "two targets",
        ),
    ],
)
def test_a_change_that_cannot_apply_is_refused(change: Any, problem: str) -> None:
    with pytest.raises(PolicyChangeRefused, match=problem):
        apply_change(POLICY, change)


def test_policy_errors_are_bad_input_for_the_dead_letter_topic() -> None:
    assert issubclass(PolicyChangeRefused, BadInput)
    assert issubclass(PolicyError, BadInput)
