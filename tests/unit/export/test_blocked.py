"""Given the blocked citizens and the CaseOpened of the log, an export leaves out every event
that names them, their contacts or their cases, and keeps everyone else's; including them
needs the authorized key."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.export.blocked import BlockedIndex
from streams.export.plan import ExportOptions, resolve
from streams.shared.errors import BadInput


def test_a_blocked_citizens_events_are_hidden_by_citizen_subject_contact_or_case() -> None:
    index = BlockedIndex(frozenset({"citizen-x"}))
    index.learn("CaseOpened", {"citizen_id": "citizen-x", "contact_id": "wa-x", "case_id": "c-x"})
    index.learn("CaseOpened", {"citizen_id": "citizen-y", "contact_id": "wa-y", "case_id": "c-y"})

    assert index.hides({"subject_id": "citizen-x", "contact_id": "wa-x2"})  # a message
    assert index.hides({"contact_id": "wa-x", "case_id": None})  # a delivery status
    assert index.hides({"case_id": "c-x", "clock_id": "k"})  # an SLA clock's event
    assert index.hides({"citizen_id": "citizen-x"})
    assert not index.hides({"subject_id": "citizen-y", "contact_id": "wa-y", "case_id": "c-y"})
    assert not index.hides({"agent_id": "ana"})
    assert index.left_out == 4


def test_including_blocked_citizens_needs_the_authorized_key(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"--include-blocked .* needs the authorized key"):
        resolve(ExportOptions(out_dir=tmp_path, include_blocked=True))
    resolve(ExportOptions(out_dir=tmp_path, include_blocked=True, authorized_key=b"k" * 32))
