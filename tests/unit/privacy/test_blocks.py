"""Given a citizen's blocks, unblocks and erasure in acolhe.privacy, when a block or an
unblock is asked, then it is recorded with an id derived from what was asked, or refused
with the reason; `acolhe block` / `unblock` refuse bad arguments before connecting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.events import CitizenBlocked, CitizenUnblocked, ErasureRequested
from streams.cli import main
from streams.privacy import blocks
from streams.privacy.blocks import BlockRefused, InvalidBlock, Standing, decide, request

T0 = datetime(2026, 12, 2, 10, tzinfo=UTC)
WHO = "citizen-0123456789abcdef0123456789abcdef"


def asked(kind: blocks.Kind = "block", reference: str = "PROT-1", **kw: str) -> blocks.Request:
    return request(kind, WHO, legal_basis=kw.pop("basis", "data_subject_request"),
                   reference=reference, **kw)  # fmt: skip


def recorded(*facts: blocks.BlockFact, erased: bool = False) -> Standing:
    return Standing(WHO, tuple(facts), erased)


def test_the_id_derives_from_citizen_basis_reference_and_kind_not_who_asks() -> None:
    one = asked(requested_by="ana")
    assert one.event_id == asked(requested_by="bia").event_id == asked().event_id
    assert one.event_id != asked(reference="PROT-2").event_id
    assert one.event_id != asked(basis="court_order").event_id
    assert one.event_id != asked("unblock").event_id
    assert one.event_id != request("block", WHO + "0", legal_basis="data_subject_request",
                                   reference="PROT-1").event_id  # fmt: skip


@pytest.mark.parametrize(
    ("citizen", "reason"),
    [
        ("whatsapp-0123456789abcdef", "not of the form citizen-"),
        ("contact-7", "not of the form citizen-"),
        ("citizen-", "not of the form citizen-"),
        ("citizen-a b", "not of the form citizen-"),
        (" citizen-a", "spaces around it"),
        ("", "empty"),
        ("citizen-\x07", "control characters"),
        ("citizen-" + "a" * 300, "at most 200"),
    ],
)
def test_a_malformed_citizen_id_is_refused(citizen: str, reason: str) -> None:
    with pytest.raises(InvalidBlock, match=reason):
        request("block", citizen, legal_basis="data_subject_request", reference="PROT-1")


def test_an_unknown_basis_and_an_empty_reference_are_refused() -> None:
    with pytest.raises(InvalidBlock, match="legal basis 'end_of_processing' is not one of"):
        request("block", WHO, legal_basis="end_of_processing", reference="PROT-1")
    with pytest.raises(InvalidBlock, match="reference '' is empty"):
        request("unblock", WHO, legal_basis="data_subject_request", reference="")


def test_given_nothing_recorded_when_blocked_then_a_citizen_blocked_is_recorded_now() -> None:
    decision = decide(asked(requested_by="dpo-1"), recorded(), now=T0)

    assert decision.again is False
    assert decision.event == CitizenBlocked(
        event_id=asked().event_id,
        occurred_at=T0,
        correlation_id=asked().event_id,
        citizen_id=WHO,
        requested_by_agent_id="dpo-1",
        legal_basis="data_subject_request",
        request_reference="PROT-1",
    )


def test_given_a_block_when_unblocked_then_it_names_the_block_it_lifts_after_it() -> None:
    block = decide(asked(), recorded(), now=T0).event
    # The operator's clock is behind the block's: the unblock still comes after it.
    decision = decide(asked("unblock", "PROT-U"), recorded(block), now=T0 - timedelta(hours=1))

    assert isinstance(decision.event, CitizenUnblocked)
    assert decision.event.causation_id == block.event_id
    assert decision.event.occurred_at == T0 + timedelta(microseconds=1)
    assert decision.lifts == block


def test_given_a_citizen_not_blocked_when_unblocked_then_it_is_refused() -> None:
    with pytest.raises(BlockRefused, match="is not blocked: there is nothing to unblock"):
        decide(asked("unblock"), recorded(), now=T0)
    block = decide(asked(), recorded(), now=T0).event
    lifted = decide(asked("unblock", "PROT-U"), recorded(block), now=T0).event
    with pytest.raises(BlockRefused, match="not blocked \\(their last block was lifted\\)"):
        decide(asked("unblock", "PROT-U2"), recorded(block, lifted), now=T0)


def test_given_a_block_when_blocked_again_with_another_reference_then_it_is_refused() -> None:
    block = decide(asked(), recorded(), now=T0).event

    with pytest.raises(BlockRefused, match=r"already blocked .*reference PROT-1"):
        decide(asked(reference="PROT-2"), recorded(block), now=T0)


def test_the_same_block_or_unblock_run_again_hands_back_the_recorded_event() -> None:
    block = decide(asked(), recorded(), now=T0).event
    again = decide(asked(requested_by="someone-else"), recorded(block), now=T0 + timedelta(1))
    assert (again.again, again.event) == (True, block)

    lifted = decide(asked("unblock", "PROT-U"), recorded(block), now=T0).event
    again = decide(asked("unblock", "PROT-U"), recorded(block, lifted), now=T0 + timedelta(1))
    assert (again.again, again.event, again.lifts) == (True, lifted, block)


def test_a_reference_used_by_a_superseded_block_is_refused() -> None:
    block = decide(asked(), recorded(), now=T0).event
    lifted = decide(asked("unblock", "PROT-U"), recorded(block), now=T0).event

    with pytest.raises(BlockRefused, match=r"already recorded .* own protocol number"):
        decide(asked(), recorded(block, lifted), now=T0)


def test_an_erased_citizen_cannot_be_blocked_but_a_blocked_one_can_be_unblocked() -> None:
    with pytest.raises(BlockRefused, match="was erased"):
        decide(asked(), recorded(erased=True), now=T0)
    block = decide(asked(), recorded(), now=T0).event
    decision = decide(asked("unblock", "PROT-U"), recorded(block, erased=True), now=T0)
    assert isinstance(decision.event, CitizenUnblocked)


def test_standings_fold_the_privacy_log_dropping_duplicates() -> None:
    block = decide(asked(), recorded(), now=T0).event
    lifted = decide(asked("unblock", "PROT-U"), recorded(block), now=T0).event
    other = request("block", "citizen-other", legal_basis="court_order", reference="P")
    erasure = ErasureRequested(
        event_id="e", occurred_at=T0, correlation_id="e", citizen_id="citizen-gone",
        legal_basis="data_subject_request", requested_at=T0,
    )  # fmt: skip
    other_block = decide(other, Standing("citizen-other"), now=T0).event

    found = blocks.standings([block, block, other_block, lifted, erasure])

    assert found[WHO].facts == (block, lifted)
    assert not found[WHO].is_blocked
    assert found["citizen-other"].is_blocked
    assert found["citizen-gone"].erased
    assert not found["citizen-gone"].is_blocked
    assert blocks.blocked_citizens([block, other_block, lifted]) == {"citizen-other"}


@pytest.mark.parametrize("kind", ["block", "unblock"])
def test_the_cli_refuses_a_contact_id_before_connecting(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([kind, "whatsapp-0123", "--reference", "PROT-1"])

    assert code == 2
    err = capsys.readouterr().err
    assert f"acolhe {kind}: citizen id 'whatsapp-0123' is not of the form citizen-" in err
    assert "nothing was recorded" in err


def test_the_cli_needs_a_reference_and_a_known_basis(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as no_reference:
        main(["block", WHO])
    with pytest.raises(SystemExit) as bad_basis:
        main(["unblock", WHO, "--reference", "P", "--basis", "end_of_processing"])

    assert no_reference.value.code == bad_basis.value.code == 2
    assert "--reference" in capsys.readouterr().err
