"""`acolhe deadletters`: arguments refused with a message before anything is read, and
Kafka out of reach said plainly, never a traceback."""

from __future__ import annotations

import argparse

import pytest

from streams.cli import deadletters, main
from streams.shared.errors import BadInput


def parse(*argv: str) -> argparse.Namespace:
    root = argparse.ArgumentParser(prog="acolhe")
    deadletters.register(root.add_subparsers(dest="command", required=True))
    return root.parse_args(["deadletters", *argv])


def test_list_takes_its_filters() -> None:
    args = parse(
        "list",
        "--since",
        "2026-11-30T09:00-03:00",
        "--until",
        "2026-12-01",
        "--error-type",
        "DecodeError",
        "--error-type",
        "UnknownEvent",
        "--processor",
        "streams.sla",
        "--limit",
        "20",
    )

    selection = deadletters.selection_from(args)

    assert selection.since is not None
    assert selection.since.isoformat() == "2026-11-30T09:00:00-03:00"
    assert selection.until is not None
    assert selection.until.isoformat() == "2026-12-01T00:00:00+00:00"
    assert selection.error_types == frozenset({"DecodeError", "UnknownEvent"})
    assert selection.processors == frozenset({"streams.sla"})
    assert args.limit == 20
    assert args.topic == "acolhe.deadletter"


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(BadInput, match="--until must be after --since"):
        deadletters.selection_from(parse("list", "--since", "2026-12-01", "--until", "2026-11-30"))


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["list", "--since", "yesterday"], "not an ISO-8601 time"),
        (["replay"], "name the dead letters to replay"),
        (["replay", "dl-1", "--error-type", "DecodeError"], "not both"),
        (["replay", "dl-1", "--ops-schema", "x; DROP"], "schema"),
    ],
)
def test_bad_arguments_are_refused_with_status_2_before_anything_is_read(
    argv: list[str],
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A broker that cannot be reached: a refusal must come before any connection.
    monkeypatch.setenv("ACOLHE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")

    code = main(["deadletters", *argv])

    err = capsys.readouterr().err
    assert code == 2
    assert says in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["list"], ["show", "dl-1"], ["replay", "dl-1", "--dry-run"]])
def test_kafka_out_of_reach_exits_1_with_what_to_check(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACOLHE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")

    code = main(["deadletters", *argv])

    err = capsys.readouterr().err
    assert code == 1
    assert "cannot read from Kafka at 127.0.0.1:1" in err
    assert "ACOLHE_KAFKA_BOOTSTRAP_SERVERS" in err
    assert "acolhe stack status" in err
    assert "Traceback" not in err


def test_a_limit_must_be_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse("list", "--limit", "0")

    assert exit_.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err
