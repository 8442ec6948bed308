"""The pure part of an erasure: the request checked, ids that repeat, events, the report."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.privacy.domain import (
    ErasureReport,
    InvalidErasure,
    Redacted,
    completed,
    describe,
    request,
    requested,
    subjects_of,
)
from streams.shared.keystore import Shredded

NOW = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
LATER = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def report(keys: tuple[tuple[str, Shredded], ...], *schemas: Redacted) -> ErasureReport:
    req = request("citizen-42", legal_basis="data_subject_request", reference="PROT-7")
    return ErasureReport(req, keys, schemas, "acolhe.privacy", "acolhe.conversations", 12)


def test_the_same_erasure_asked_again_has_the_same_event_ids() -> None:
    first = request(
        "citizen-42", legal_basis="data_subject_request", requested_by="ana", reference="PROT-7"
    )
    again = request(
        "citizen-42", legal_basis="data_subject_request", requested_by="bia", reference="PROT-7"
    )

    assert requested(first, now=NOW).event_id == requested(again, now=LATER).event_id
    assert first.completed_id == again.completed_id
    assert first.completed_id != first.event_id


@pytest.mark.parametrize(
    "other",
    [
        {"citizen_id": "citizen-43"},
        {"legal_basis": "end_of_processing"},
        {"reference": "PROT-8"},
        {"reference": None},
    ],
)
def test_another_citizen_basis_or_reference_is_another_erasure(other: dict[str, str]) -> None:
    base = {
        "citizen_id": "citizen-42",
        "legal_basis": "data_subject_request",
        "reference": "PROT-7",
    }
    asked = {**base, **other}

    one = request(base["citizen_id"], legal_basis=base["legal_basis"], reference=base["reference"])
    two = request(
        asked["citizen_id"], legal_basis=asked["legal_basis"], reference=asked["reference"]
    )

    assert one.event_id != two.event_id


def test_the_request_event_says_who_asked_why_and_when() -> None:
    req = request(
        "citizen-42", legal_basis="end_of_processing", requested_by="ana", reference="PROT-7"
    )

    event = requested(req, now=NOW)

    assert event.citizen_id == "citizen-42"
    assert event.legal_basis == "end_of_processing"
    assert event.requested_by_agent_id == "ana"
    assert event.request_reference == "PROT-7"
    assert event.requested_at == event.occurred_at == NOW
    assert event.correlation_id == event.event_id
    assert event.causation_id is None


@pytest.mark.parametrize(
    ("citizen", "basis", "agent", "reference", "complaint"),
    [
        ("", "data_subject_request", None, None, "citizen id '' is empty"),
        (" citizen-42", "data_subject_request", None, None, "spaces around it"),
        ("citizen\x1f42", "data_subject_request", None, None, "control characters"),
        ("c" * 201, "data_subject_request", None, None, "at most 200"),
        ("citizen-42", "unknown", None, None, "is not one of data_subject_request"),
        ("citizen-42", "because", None, None, "LGPD art. 18"),
        ("citizen-42", "data_subject_request", "", None, "agent '' is empty"),
        ("citizen-42", "data_subject_request", None, "PROT 7\n", "reference"),
    ],
)
def test_a_malformed_request_is_refused_with_what_is_wrong(
    citizen: str, basis: str, agent: str | None, reference: str | None, complaint: str
) -> None:
    with pytest.raises(InvalidErasure, match=complaint):
        request(citizen, legal_basis=basis, requested_by=agent, reference=reference)


def test_the_citizen_comes_first_then_the_subjects_merged_into_it_each_once() -> None:
    assert subjects_of("citizen-42", []) == ("citizen-42",)
    assert subjects_of("citizen-42", ["citizen-9", "citizen-42", "citizen-3", "citizen-9"]) == (
        "citizen-42",
        "citizen-3",
        "citizen-9",
    )


def test_completion_counts_keys_gone_and_projections_that_held_the_citizen() -> None:
    done = report(
        (("citizen-42", "destroyed"), ("citizen-9", "already_destroyed"), ("x", "tombstoned")),
        Redacted("acolhe_read", held=12, redacted=12),
        Redacted("acolhe_read_rebuild", held=12, redacted=0),
        Redacted("t_other", held=0, redacted=0),
    )

    event = completed(done, now=LATER)

    assert (event.keys_destroyed, event.projections_redacted) == (2, 2)
    assert event.event_id == done.request.completed_id
    assert event.causation_id == event.correlation_id == done.request.event_id
    assert event.completed_at == event.occurred_at == LATER


def test_a_rerun_after_a_crash_completes_with_the_same_counts() -> None:
    first = report((("citizen-42", "destroyed"),), Redacted("acolhe_read", 12, 12))
    rerun = report((("citizen-42", "already_destroyed"),), Redacted("acolhe_read", 12, 0))

    assert completed(first, now=NOW).to_record() | {"occurred_at": 0, "completed_at": 0} == (
        completed(rerun, now=LATER).to_record() | {"occurred_at": 0, "completed_at": 0}
    )


def test_the_operator_reads_what_was_done() -> None:
    lines = describe(
        report(
            (("citizen-42", "destroyed"),),
            Redacted("acolhe_read", held=3, redacted=3),
            Redacted("t_gone", held=0, redacted=0, gone=True),
        )
    )

    assert lines[0].startswith("erasure of citizen citizen-42 (data_subject_request, reference")
    assert lines[2] == (
        "  copied: ErasureRequested into the 12 partition(s) of acolhe.conversations "
        "(the citizen's open cases close: citizen_erased)"
    )
    assert "  data key of citizen-42: destroyed" in lines
    assert "  read model acolhe_read: 3 message(s) of the citizen, 3 redacted now" in lines
    assert any("t_gone: dropped while erasing" in line for line in lines)
    assert lines[-1].endswith("(1 key(s) destroyed, 1 projection(s) redacted)")
    assert not any(line.startswith("note: ") for line in lines)


def test_an_unknown_citizen_is_said_to_be_unknown() -> None:
    lines = describe(report((("citizen-42", "tombstoned"),), Redacted("acolhe_read", 0, 0)))

    assert (
        "  data key of citizen-42: none existed; a tombstone now keeps one from ever being made"
        in lines
    )
    assert lines[-1].startswith("note: citizen citizen-42 is unknown here")
