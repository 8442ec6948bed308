"""`acolhe erase`: its options, and bad arguments refused with a message before anything
is done (no connection is opened), never a traceback."""

from __future__ import annotations

import argparse

import pytest

from streams.cli import main, privacy
from streams.privacy.domain import BASES


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="acolhe")
    privacy.register(root.add_subparsers(dest="command", required=True))
    return root


def test_erase_takes_the_citizen_and_what_the_request_says() -> None:
    args = parser().parse_args(
        [
            "erase",
            "citizen-42",
            "--requested-by",
            "ana",
            "--legal-basis",
            "end_of_processing",
            "--reference",
            "PROT-7",
            "--schema",
            "acolhe_read",
            "--schema",
            "acolhe_read_rebuild",
        ]
    )

    assert args.citizen_id == "citizen-42"
    assert (args.requested_by, args.legal_basis, args.reference) == (
        "ana",
        "end_of_processing",
        "PROT-7",
    )
    assert args.schema == ["acolhe_read", "acolhe_read_rebuild"]


def test_by_default_the_citizen_asked_and_every_read_model_is_redacted() -> None:
    args = parser().parse_args(["erase", "citizen-42"])

    assert args.legal_basis == "data_subject_request" == BASES[0]
    assert args.schema is None
    assert (args.requested_by, args.reference) == (None, None)


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command gets as far as connecting."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a refused erasure must not connect to anything")

    monkeypatch.setattr(privacy, "_run", refuse)


@pytest.mark.usefixtures("no_connection")
@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["erase", ""], "citizen id '' is empty"),
        (["erase", "citizen 42 "], "spaces around it"),
        (["erase", "citizen-42", "--reference", "x\ty"], "control characters"),
        (["erase", "citizen-42", "--schema", "Acolhe-Read"], "invalid schema name"),
        (["erase", "citizen-42", "--schema", "pg_catalog"], "reserved by PostgreSQL"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_done(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv)

    err = capsys.readouterr().err
    assert code == 2
    assert complaint in err
    assert "nothing was erased" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["erase"], "the following arguments are required: CITIZEN_ID"),
        (["erase", "citizen-42", "--legal-basis", "because"], "invalid choice: 'because'"),
    ],
)
def test_missing_or_unknown_options_are_usage_errors(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)

    assert exit_.value.code == 2
    assert complaint in capsys.readouterr().err
