"""Given the citizens asked for (`--citizen`, a data subject's access request) and the
CaseOpened of the log, an export keeps the events about them (naming them, their contacts or
their cases) and leaves everyone else's out; a citizen id of the wrong form is refused, and
so is a blocked citizen unless blocked citizens are included."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.export.plan import ExportOptions, resolve
from streams.export.scope import BlockedCitizenAsked, CitizenScope, refuse_blocked
from streams.shared.errors import BadInput

X, Y = "citizen-0123456789abcdef0123456789abcdef", "citizen-y"


def asked_for_x() -> CitizenScope:
    scope = CitizenScope(frozenset({X}))
    scope.learn("CaseOpened", {"citizen_id": X, "contact_id": "wa-x", "case_id": "c-x"})
    scope.learn("CaseOpened", {"citizen_id": Y, "contact_id": "wa-y", "case_id": "c-y"})
    scope.learn("MessageReceived", {"subject_id": X, "contact_id": "wa-z", "case_id": None})
    return scope


def test_the_citizens_own_events_are_kept_and_another_citizens_left_out() -> None:
    scope = asked_for_x()

    assert scope.is_about({"subject_id": X, "contact_id": "wa-x", "case_id": None})  # message
    assert scope.is_about({"citizen_id": X, "contact_id": "wa-x", "case_id": "c-x"})  # opened
    assert not scope.is_about({"subject_id": Y, "contact_id": "wa-y", "case_id": "c-y"})
    assert not scope.is_about({"citizen_id": Y, "contact_id": "wa-y", "case_id": "c-y"})
    assert not scope.is_about({"agent_id": "ana", "presence": "available"})


def test_events_naming_only_the_citizens_contact_or_case_are_kept() -> None:
    scope = asked_for_x()

    assert scope.is_about({"contact_id": "wa-x", "case_id": None, "status": "read"})
    assert scope.is_about({"case_id": "c-x", "clock_id": "k", "queue_id": "familia"})
    assert scope.is_about({"case_id": "c-x", "agent_id": "ana"})  # an agent's command
    assert not scope.is_about({"case_id": "c-y", "clock_id": "k2"})
    assert not scope.is_about({"contact_id": "wa-y", "case_id": None})
    assert not scope.is_about({"contact_id": "wa-z", "case_id": None})  # only CaseOpened teaches


def test_linking_facts_that_name_the_citizen_or_their_contact_are_about_them() -> None:
    scope = asked_for_x()

    merged = {"citizen_id": Y, "contact_ids": ["wa-y"], "merged_citizen_ids": [X]}
    linked = {"citizen_id": Y, "contact_ids": ["wa-x", "wa-y"], "merged_citizen_ids": []}
    unlinked = {"citizen_id": Y, "contact_id": "wa-q", "new_citizen_id": X}
    assert scope.is_about(merged)
    assert scope.is_about(linked)
    assert scope.is_about(unlinked)
    assert not scope.is_about({"citizen_id": Y, "contact_ids": ["wa-y"], "merged_citizen_ids": []})


@pytest.mark.parametrize(
    ("citizen", "says"),
    [
        ("whatsapp-5511987654321", "is not of the form citizen-<id>"),
        ("wa-x", "not a contact's"),
        ("citizen-", "is not of the form citizen-<id>"),
        (" citizen-x", "is not of the form citizen-<id>"),
        ("citizen-x\n", "is not of the form citizen-<id>"),
        ("citizen-" + "a" * 300, "at most 200"),
    ],
)
def test_a_citizen_id_of_the_wrong_form_is_refused(tmp_path: Path, citizen: str, says: str) -> None:
    with pytest.raises(BadInput, match=says):
        resolve(ExportOptions(out_dir=tmp_path, citizens=frozenset({X, citizen})))


def test_asking_for_no_citizen_is_refused_and_a_well_formed_one_resolves(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no citizen asked for"):
        resolve(ExportOptions(out_dir=tmp_path, citizens=frozenset()))
    resolve(ExportOptions(out_dir=tmp_path, citizens=frozenset({X, "citizen-f-held"})))


def test_a_blocked_citizen_asked_for_is_refused_unless_blocked_citizens_are_included() -> None:
    with pytest.raises(BlockedCitizenAsked, match=rf"{Y} is blocked .* --include-blocked"):
        refuse_blocked(frozenset({X, Y}), blocked=frozenset({Y, "citizen-z"}))
    refuse_blocked(frozenset({X}), blocked=frozenset({Y}))
    refuse_blocked(None, blocked=frozenset({Y}))  # no --citizen: the blocked are left out
