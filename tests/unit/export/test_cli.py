"""`acolhe export` refuses bad input with a one-line message and exit status 2, before
reading or writing anything: no traceback, no file, no connection."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from streams.cli import export as export_cli
from streams.cli import main
from streams.cli.export import parse_time, summary
from streams.export.plan import ExportOptions, ExportReport, TypeReport
from streams.export.scope import BlockedCitizenAsked

NOWHERE = "127.0.0.1:1"  # nothing listens: a command that got that far would fail otherwise


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ACOLHE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ACOLHE_KAFKA_BOOTSTRAP_SERVERS", NOWHERE)
    monkeypatch.setenv("ACOLHE_POSTGRES_DSN", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256", raising=False)


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["export", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("acolhe export: ")
    assert len(err.strip().splitlines()) == 1
    return err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--type", "MessageRecieved"], "unknown event type 'MessageRecieved'"),
        (["--type", "InputDeadLettered"], "InputDeadLettered is not exported"),
        (["--since", "2026-12-01", "--until", "2026-11-30"], "must be after since"),
        (["--since", "2026-11-30", "--until", "2026-11-30T00:00Z"], "must be after since"),
        (["--since", "yesterday"], "is not an ISO-8601 time"),
        (["--area", "family"], "unknown area 'family'"),
        (["--citizen", "whatsapp-5511987654321"], "'whatsapp-5511987654321' is not of the form"),
        (["--citizen", "citizen-ok", "--citizen", "ana@example.org"], "not a contact's"),
        (["--citizen", ""], "'' is not of the form citizen-<id>"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], says: str
) -> None:
    out = tmp_path / "out"

    err = refused(capsys, "--out", str(out), *args)

    assert says in err
    assert not out.exists()


def test_a_folder_in_use_is_refused_without_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.xlsx").write_text("an analyst's work")

    err = refused(capsys, "--out", str(tmp_path / "out"))

    assert "not empty" in err
    assert "--force" in err


def test_a_folder_that_cannot_be_made_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")

    assert "cannot write into" in refused(capsys, "--out", str(tmp_path / "file" / "out"))


def test_a_wrong_key_exports_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    authorized = os.urandom(32)
    monkeypatch.setenv(
        "ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256", hashlib.sha256(authorized).hexdigest()
    )
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(os.urandom(32))
    out = tmp_path / "out"

    err = refused(capsys, "--out", str(out), "--authorized-key", str(wrong))

    assert "not an authorized key" in err
    assert not out.exists()


def test_a_key_when_none_is_authorized_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = tmp_path / "export.key"
    key.write_bytes(os.urandom(32))

    err = refused(capsys, "--out", str(tmp_path / "out"), "--authorized-key", str(key))

    assert "ACOLHE_EXPORT_AUTHORIZED_KEY_SHA256" in err


def test_a_missing_key_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = refused(capsys, "--out", str(tmp_path / "o"), "--authorized-key", str(tmp_path / "k"))

    assert "cannot read the authorized key" in err


def test_an_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--out", "x", "--format", "xlsx"])

    assert exit_.value.code == 2
    assert "invalid choice: 'xlsx'" in capsys.readouterr().err


def test_times_without_an_offset_are_utc_and_a_date_is_its_midnight() -> None:
    assert parse_time("2026-11-30", "--since") == datetime(2026, 11, 30, tzinfo=UTC)
    assert parse_time("2026-11-30T09:30", "--since") == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    assert parse_time("2026-11-30T09:30Z", "--since") == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    brt = parse_time("2026-11-30T09:30:00-03:00", "--until")
    assert brt.utcoffset() == timedelta(hours=-3)
    assert brt == datetime(2026, 11, 30, 12, 30, tzinfo=timezone.utc)  # noqa: UP017


def test_the_summary_names_every_type_its_count_and_files(tmp_path: Path) -> None:
    report = ExportReport(
        out_dir=tmp_path,
        personal="pseudonymize",
        types={
            "CaseOpened": TypeReport(12, (tmp_path / "CaseOpened.avro",)),
            "MessageReceived": TypeReport(340, (tmp_path / "MessageReceived.avro",)),
        },
        records_read=1000,
        rejected=2,
        missing_topics=("acolhe.contacts",),
        seconds=1.25,
        manifest=tmp_path / "manifest.json",
    )

    lines = summary(report, ExportOptions(tmp_path, since=datetime(2026, 11, 30, tzinfo=UTC)))

    assert lines[0].startswith("exported 352 events from 2026-11-30T00:00:00+00:00 to its end")
    assert "in 1.2 s" in lines[0]
    assert "pseudonymized" in lines[0]
    assert any("MessageReceived" in line and "340" in line for line in lines)
    assert any("2 records were not valid events" in line for line in lines)
    assert any("no such topic: acolhe.contacts" in line for line in lines)


def test_a_blocked_citizen_refused_once_the_log_is_read_leaves_no_folder(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def refuse(*_: object) -> ExportReport:  # what export says after reading acolhe.privacy
        raise BlockedCitizenAsked("citizen-x is blocked (LGPD art. 5 XIII): ... --include-blocked")

    monkeypatch.setattr(export_cli, "_run", refuse)
    out = tmp_path / "request-4711"

    err = refused(capsys, "--out", str(out), "--citizen", "citizen-x")

    assert "citizen-x is blocked" in err
    assert not out.exists()


def test_the_summary_says_the_export_is_of_the_citizens_asked_for(tmp_path: Path) -> None:
    report = ExportReport(
        out_dir=tmp_path,
        personal="clear",
        types={"MessageReceived": TypeReport(3, (tmp_path / "MessageReceived.csv",))},
        records_read=10,
        rejected=0,
        missing_topics=(),
        seconds=0.5,
        manifest=tmp_path / "manifest.json",
        citizens=1,
    )

    lines = summary(report, ExportOptions(tmp_path, citizens=frozenset({"citizen-x"})))

    assert any("1 citizen(s) asked for (--citizen)" in line for line in lines)
    assert not any("citizen-x" in line for line in lines)
