"""Schema evolution: which changes to an event schema the catalog accepts, warns about, refuses.

Each test writes a small catalog to tmp_path: current schemas in avro/, releases in
releases/<Record>/v<N>.avsc. One test runs the check over the repository's own catalog.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.evolution import (
    AVRO_DIR,
    RELEASES_DIR,
    CatalogReport,
    SchemaEvolutionError,
    check_catalog,
    check_compatibility,
    check_pair,
    release,
)
from streams.cli import main

Schema = dict[str, Any]

TEXT = {"name": "text", "type": "string"}
SENT_AT = {"name": "sent_at", "type": "long"}
NEW_RECORDS = {"name": "new_records", "type": "int"}
CHANNEL = {"name": "channel", "type": "string"}
SUBJECT = {"name": "subject", "type": ["null", "string"], "default": None}


def record(version: int, *fields: dict[str, Any], name: str = "MessageReceived") -> Schema:
    return {
        "type": "record",
        "name": name,
        "namespace": "acolhe.events",
        "acolhe.version": version,
        "fields": list(fields),
    }


def with_type(field: dict[str, Any], type_: Any) -> dict[str, Any]:
    return {**field, "type": type_}


def priority(*symbols: str, **props: Any) -> dict[str, Any]:
    return {
        "name": "priority",
        "type": {"type": "enum", "name": "Priority", "symbols": list(symbols), **props},
    }


def write(path: Path, schema: Schema) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return path


def catalog(tmp_path: Path, current: list[Schema], released: list[Schema]) -> tuple[Path, Path]:
    avro_dir, releases_dir = tmp_path / "avro", tmp_path / "releases"
    avro_dir.mkdir(exist_ok=True)
    for schema in current:
        write(avro_dir / f"{schema['name']}.avsc", schema)
    for schema in released:
        write(releases_dir / schema["name"] / f"v{schema['acolhe.version']}.avsc", schema)
    return avro_dir, releases_dir


def check(tmp_path: Path, current: list[Schema], released: list[Schema]) -> CatalogReport:
    return check_catalog(*catalog(tmp_path, current, released))


# Pairs: the Apache checker, one direction or both


def test_an_optional_field_with_a_default_is_full_compatible(tmp_path: Path) -> None:
    pair = check_pair(record(2, TEXT, SENT_AT, SUBJECT), record(1, TEXT, SENT_AT))

    assert pair.level == "FULL"
    assert pair.reasons == ()
    report = check(tmp_path, [record(2, TEXT, SENT_AT, SUBJECT)], [record(1, TEXT, SENT_AT)])
    assert [(r.name, r.status) for r in report.records] == [("MessageReceived", "ok")]


def test_a_field_added_without_a_default_is_an_error_naming_the_field(tmp_path: Path) -> None:
    new, old = record(2, TEXT, SENT_AT, CHANNEL), record(1, TEXT, SENT_AT)

    assert check_compatibility(new, old) == [
        "MessageReceived v2 cannot read v1: field 'channel' added without a default (at /fields/2)"
    ]
    assert check_compatibility(json.dumps(new), json.dumps(old), "FORWARD") == []
    report = check(tmp_path, [new], [old])
    assert report.has_errors
    assert report.errors == (
        "MessageReceived v2 cannot read v1: field 'channel' added without a default (at /fields/2)",
    )


def test_a_field_removed_without_a_default_is_only_backward_so_a_warning(tmp_path: Path) -> None:
    # New readers skip the old field; old readers find no value and no default for it.
    new, old = record(2, TEXT), record(1, TEXT, SENT_AT)

    pair = check_pair(new, old)

    assert pair.level == "BACKWARD"
    assert pair.forward == (
        "MessageReceived v1 cannot read v2: field 'sent_at' removed or renamed, "
        "and v1 has no default for it (at /fields/1)",
    )
    report = check(tmp_path, [new], [old])
    assert not report.has_errors
    assert report.records[0].status == "warning"
    assert "field 'sent_at' removed" in report.warnings[0]
    assert "upgrade every reader of v1 before any producer writes v2" in report.warnings[0]


def test_a_field_removed_that_had_a_default_is_full_compatible() -> None:
    assert check_pair(record(2, TEXT), record(1, TEXT, SUBJECT)).level == "FULL"


def test_a_field_renamed_with_an_alias_is_backward_compatible(tmp_path: Path) -> None:
    renamed = {"name": "received_at", "type": "long", "aliases": ["sent_at"]}

    pair = check_pair(record(2, TEXT, renamed), record(1, TEXT, SENT_AT))

    assert pair.level == "BACKWARD"
    assert "field 'sent_at' removed or renamed" in pair.forward[0]
    report = check(tmp_path, [record(2, TEXT, renamed)], [record(1, TEXT, SENT_AT)])
    assert report.records[0].status == "warning"


def test_a_field_renamed_without_an_alias_is_an_error(tmp_path: Path) -> None:
    renamed = {"name": "received_at", "type": "long"}

    report = check(tmp_path, [record(2, TEXT, renamed)], [record(1, TEXT, SENT_AT)])

    assert report.errors == (
        "MessageReceived v2 cannot read v1: field 'received_at' added without a default "
        "(at /fields/1)",
    )


def test_narrowing_long_to_int_is_an_error(tmp_path: Path) -> None:
    new, old = record(2, with_type(SENT_AT, "int")), record(1, SENT_AT)

    report = check(tmp_path, [new], [old])

    assert report.errors == (
        "MessageReceived v2 cannot read v1: long cannot be read as int (at /fields/0/type)",
    )


def test_widening_int_to_long_is_only_backward_so_a_warning(tmp_path: Path) -> None:
    new, old = record(2, with_type(NEW_RECORDS, "long")), record(1, NEW_RECORDS)

    assert check_pair(new, old).level == "BACKWARD"
    report = check(tmp_path, [new], [old])
    assert not report.has_errors
    assert report.warnings[0].startswith(
        "MessageReceived v1 cannot read v2: long cannot be read as int (at /fields/0/type)"
    )


def test_an_enum_symbol_added_to_an_enum_with_a_default_is_full_compatible() -> None:
    new = record(2, priority("NORMAL", "URGENT", "CRITICAL", default="NORMAL"))
    old = record(1, priority("NORMAL", "URGENT", default="NORMAL"))

    assert check_pair(new, old).level == "FULL"


def test_an_enum_symbol_added_without_a_default_is_not_forward_compatible() -> None:
    new, old = (
        record(2, priority("NORMAL", "URGENT", "CRITICAL")),
        record(1, priority("NORMAL", "URGENT")),
    )

    assert check_compatibility(new, old, "BACKWARD") == []
    assert check_compatibility(new, old, "FORWARD") == [
        "MessageReceived v1 cannot read v2: enum symbols 'CRITICAL' unknown to v1, "
        "whose enum has no default (at /fields/0/type/symbols)"
    ]


# The catalog: versions and releases


def test_a_record_never_released_is_new_and_ok(tmp_path: Path) -> None:
    report = check(tmp_path, [record(1, TEXT)], [])

    (only,) = report.records
    assert (only.status, only.version, only.is_released, only.releases) == ("ok", 1, False, ())


def test_a_released_version_edited_in_place_is_an_error(tmp_path: Path) -> None:
    report = check(tmp_path, [record(1, TEXT, SUBJECT)], [record(1, TEXT)])

    assert report.errors == (
        "MessageReceived v1 differs from its release releases/MessageReceived/v1.avsc: "
        "a released version is never edited; bump acolhe.version to 2",
    )


def test_the_same_schema_formatted_differently_is_not_an_edit(tmp_path: Path) -> None:
    avro_dir, releases_dir = catalog(tmp_path, [], [record(1, TEXT)])
    (avro_dir / "MessageReceived.avsc").write_text(json.dumps(record(1, TEXT)), encoding="utf-8")

    report = check_catalog(avro_dir, releases_dir)

    assert (report.records[0].status, report.records[0].is_released) == ("ok", True)


def test_a_version_lower_than_a_release_is_an_error(tmp_path: Path) -> None:
    report = check(tmp_path, [record(1, TEXT)], [record(1, TEXT), record(2, TEXT, SUBJECT)])

    assert report.errors == (
        "MessageReceived is at acolhe.version 1, lower than its release v2: versions never go "
        "down; set it to 3",
    )


def test_a_removed_event_is_an_error(tmp_path: Path) -> None:
    report = check(
        tmp_path, [record(1, TEXT)], [record(1, TEXT), record(1, TEXT, name="CaseOpened")]
    )

    assert [(r.name, r.status) for r in report.records] == [
        ("CaseOpened", "error"),
        ("MessageReceived", "ok"),
    ]
    assert report.errors == (
        "CaseOpened was released (v1) but has no current schema: events are never removed; "
        "restore avro/CaseOpened.avsc",
    )


def test_a_release_file_named_after_another_version_is_an_error(tmp_path: Path) -> None:
    avro_dir, releases_dir = catalog(tmp_path, [record(2, TEXT)], [])
    write(releases_dir / "MessageReceived" / "v1.avsc", record(2, TEXT))

    report = check_catalog(avro_dir, releases_dir)

    assert report.errors == (
        "releases/MessageReceived/v1.avsc: the file name says v1 but its acolhe.version is 2; "
        "a release is an exact copy of the schema as released: restore it",
    )


def test_compatibility_is_transitive_over_every_release(tmp_path: Path) -> None:
    # v2 added an optional field; v3 makes it required: v3 reads v2's events, not v1's.
    v1, v2 = record(1, TEXT), record(2, TEXT, SUBJECT)
    v3 = record(3, TEXT, {"name": "subject", "type": ["null", "string"]})

    report = check(tmp_path, [v3], [v1, v2])

    assert check_pair(v3, v2).level == "FULL"
    assert report.errors == (
        "MessageReceived v3 cannot read v1: field 'subject' added without a default (at /fields/1)",
    )


# Releasing


def test_release_copies_each_unreleased_version_byte_for_byte(tmp_path: Path) -> None:
    avro_dir, releases_dir = catalog(
        tmp_path, [record(2, TEXT, SUBJECT), record(1, TEXT, name="CaseOpened")], [record(1, TEXT)]
    )

    written = release(avro_dir, releases_dir)

    assert written == [
        releases_dir / "CaseOpened" / "v1.avsc",
        releases_dir / "MessageReceived" / "v2.avsc",
    ]
    assert written[1].read_bytes() == (avro_dir / "MessageReceived.avsc").read_bytes()
    assert release(avro_dir, releases_dir) == []
    assert all(r.is_released for r in check_catalog(avro_dir, releases_dir).records)


def test_release_refuses_an_incompatible_version_and_writes_nothing(tmp_path: Path) -> None:
    avro_dir, releases_dir = catalog(
        tmp_path, [record(2, TEXT, CHANNEL), record(1, TEXT, name="CaseOpened")], [record(1, TEXT)]
    )

    with pytest.raises(SchemaEvolutionError, match="field 'channel' added without a default"):
        release(avro_dir, releases_dir)

    assert not (releases_dir / "MessageReceived" / "v2.avsc").exists()
    assert not (releases_dir / "CaseOpened").exists()
    assert release(avro_dir, releases_dir, ["CaseOpened"]) == [
        releases_dir / "CaseOpened" / "v1.avsc"
    ]


# The command


def test_schemas_check_exits_1_and_prints_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    avro_dir, releases_dir = catalog(tmp_path, [record(2, TEXT, CHANNEL)], [record(1, TEXT)])

    code = main(
        ["schemas", "check", "--avro-dir", str(avro_dir), "--releases-dir", str(releases_dir)]
    )

    out = capsys.readouterr().out
    assert code == 1
    assert "error    MessageReceived v2" in out
    assert "field 'channel' added without a default" in out
    assert "1 records: 0 ok, 0 with warnings, 1 with errors" in out


def test_schemas_check_exits_0_for_a_good_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    avro_dir, releases_dir = catalog(
        tmp_path, [record(2, TEXT), record(1, TEXT, name="CaseOpened")], [record(1, TEXT, SENT_AT)]
    )

    code = main(
        ["schemas", "check", "--avro-dir", str(avro_dir), "--releases-dir", str(releases_dir)]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "ok       CaseOpened v1 (new, not released yet)" in out
    assert "warning  MessageReceived v2 (not released yet; checked against v1)" in out


def test_schemas_release_refusal_exits_1_with_the_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    avro_dir, releases_dir = catalog(tmp_path, [record(2, TEXT, CHANNEL)], [record(1, TEXT)])
    dirs = ["--avro-dir", str(avro_dir), "--releases-dir", str(releases_dir)]

    code = main(["schemas", "release", "MessageReceived", *dirs])

    assert code == 1
    err = capsys.readouterr().err
    assert "acolhe: release refused, nothing written" in err
    assert "field 'channel' added without a default" in err
    assert "Traceback" not in err


def test_the_repository_catalog_has_no_errors() -> None:
    report = check_catalog(AVRO_DIR, RELEASES_DIR)

    assert report.errors == ()
