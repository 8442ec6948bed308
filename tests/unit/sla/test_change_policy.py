"""`acolhe sla change-policy`: a policy entry becomes the SlaPolicyChanged events that put it
in force, checked as strictly as the shipped policy file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.cli.sla import changes_from
from streams.shared.errors import BadInput
from streams.sla.policy import apply_change, default_policy

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ENTRY: dict[str, Any] = {
    "policy_id": "familia-mutirao",
    "version": 3,
    "queues": ["familia-capital", "familia-interior"],
    "calendar": "office-hours",
    "pause_reasons": ["waiting_on_citizen", "documents_pending"],
    "targets": {
        "normal": {
            "first_response": {"target": "2h", "warn_before": "30m"},
            "resolution": {"target": "35h", "warn_at": 0.8},
        }
    },
}


def test_one_change_per_queue_with_targets_in_milliseconds() -> None:
    changes = changes_from(ENTRY, now=NOW, agent_id="sup-01")

    assert [c.queue_id for c in changes] == ["familia-capital", "familia-interior"]
    first = changes[0]
    targets = {(t.priority, t.metric): (t.target_ms, t.warning_ms) for t in first.targets}
    assert targets == {
        ("normal", "first_response"): (2 * 3_600_000, 90 * 60_000),
        ("normal", "resolution"): (35 * 3_600_000, 28 * 3_600_000),
    }
    assert (first.effective_from, first.changed_by_agent_id) == (NOW, "sup-01")
    assert (first.business_hours, first.calendar_id) == (True, "office-hours")


def test_the_change_puts_the_entrys_terms_in_force() -> None:
    change = changes_from(ENTRY, now=NOW)[0]

    policy = apply_change(default_policy(), change)

    terms = policy.terms("familia-capital", "normal", "first_response")
    assert terms is not None
    assert (terms.target_us, terms.policy_id, terms.policy_version) == (
        2 * 3_600_000_000,
        "familia-mutirao",
        3,
    )
    assert policy.terms("familia-capital", "urgent", "first_response") is None  # not set here


def test_the_same_entry_gives_the_same_ids_so_running_it_twice_changes_once() -> None:
    later = datetime(2026, 12, 1, tzinfo=UTC)

    assert [c.event_id for c in changes_from(ENTRY, now=NOW)] == [
        c.event_id for c in changes_from(ENTRY, now=later)
    ]


def test_a_warning_not_before_its_target_is_refused_with_the_field() -> None:
    bad = json.loads(json.dumps(ENTRY))
    bad["targets"]["normal"]["first_response"]["warn_before"] = "3h"

    with pytest.raises(BadInput, match="first_response"):
        changes_from(bad, now=NOW, source="mutirao.json")


def test_the_command_checks_the_file_and_prints_what_it_would_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "mutirao.json"
    good.write_text(json.dumps(ENTRY), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")

    assert main(["sla", "change-policy", str(good), "--dry-run"]) == 0
    assert "familia-mutirao v3 for queue familia-interior" in capsys.readouterr().out
    assert main(["sla", "change-policy", str(broken), "--dry-run"]) == 2
    assert "is not JSON" in capsys.readouterr().out


def test_a_version_not_above_the_shipped_policy_for_its_queue_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The shipped file gives "saude-urgente" atendimento-urgente v1: a change to v1 would be
    # ignored by the clocks as one they already have.
    shipped_again = {**ENTRY, "policy_id": "atendimento-urgente", "version": 1}
    shipped_again["queues"] = ["familia-capital", "saude-urgente"]
    file = tmp_path / "urgente.json"
    file.write_text(json.dumps(shipped_again), encoding="utf-8")

    assert main(["sla", "change-policy", str(file), "--dry-run"]) == 2
    out = capsys.readouterr().out
    assert "atendimento-urgente version 1 is not above" in out
    assert "for queue saude-urgente (1); give it version 2 or more" in out
    # Version 2 goes through, and another policy for that queue is no repeat.
    assert changes_from({**shipped_again, "version": 2}, now=NOW)
    assert changes_from({**ENTRY, "queues": ["saude-urgente"]}, now=NOW)
