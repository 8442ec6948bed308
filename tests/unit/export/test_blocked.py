"""Given the blocked citizens and the CaseOpened of the log, an export leaves out every event
that names them, their contacts or their cases, and keeps everyone else's; including them
needs the authorized key."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.export.plan import ExportOptions, resolve
from streams.export.scope import CitizenScope
from streams.shared.errors import BadInput


def test_a_blocked_citizens_events_are_hidden_by_citizen_subject_contact_or_case() -> None:
    index = CitizenScope(frozenset({"citizen-x"}))
    index.learn("CaseOpened", {"citizen_id": "citizen-x", "contact_id": "wa-x", "case_id": "c-x"})
    index.learn("CaseOpened", {"citizen_id": "citizen-y", "contact_id": "wa-y", "case_id": "c-y"})

    assert index.is_about({"subject_id": "citizen-x", "contact_id": "wa-x2"})  # a message
    assert index.is_about({"contact_id": "wa-x", "case_id": None})  # a delivery status
    assert index.is_about({"case_id": "c-x", "clock_id": "k"})  # an SLA clock's event
    assert index.is_about({"citizen_id": "citizen-x"})
    assert not index.is_about({"subject_id": "citizen-y", "contact_id": "wa-y", "case_id": "c-y"})
    assert not index.is_about({"agent_id": "ana"})


def test_including_blocked_citizens_needs_the_authorized_key(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"--include-blocked .* needs the authorized key"):
        resolve(ExportOptions(out_dir=tmp_path, include_blocked=True))
    resolve(ExportOptions(out_dir=tmp_path, include_blocked=True, authorized_key=b"k" * 32))
