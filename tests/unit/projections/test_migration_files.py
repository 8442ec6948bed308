"""Migration files are found by name, ordered by number, checked for gaps, and checksummed."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from streams.projections.migrations import (
    InvalidMigrationFile,
    Migration,
    MigrationMissing,
    checksum,
    discover,
    load_migrations,
    parse_file_name,
)


def write(directory: Path, name: str, text: str = "SELECT 1;\n") -> None:
    (directory / name).write_text(text, encoding="utf-8")


def test_migrations_are_ordered_by_number_and_other_files_ignored(tmp_path: Path) -> None:
    write(tmp_path, "0010_tenth.sql")
    for n in range(1, 10):
        write(tmp_path, f"{n:04d}_step_{n}.sql", f"-- {n}\n")
    write(tmp_path, "__init__.py", '"""not a migration"""\n')
    write(tmp_path, "README.md", "notes\n")
    (tmp_path / "__pycache__").mkdir()

    found = discover(tmp_path)

    assert [m.version for m in found] == list(range(1, 11))
    assert found[0] == Migration(1, "step_1", "-- 1\n")
    assert found[-1].label == "0010_tenth"
    assert found[0].source.endswith("0001_step_1.sql")


@pytest.mark.parametrize(
    "name",
    ["1_init.sql", "0001-init.sql", "0001_Init.sql", "0000_zero.sql", "0001_.sql", "00001_x.sql"],
)
def test_a_misnamed_sql_file_is_refused_with_its_name(tmp_path: Path, name: str) -> None:
    write(tmp_path, name)

    with pytest.raises(InvalidMigrationFile, match=re.escape(repr(name))):
        discover(tmp_path)


def test_file_names_give_version_and_name() -> None:
    assert parse_file_name("0001_read_model.sql") == (1, "read_model")
    assert parse_file_name("0042_add_case_tags.sql") == (42, "add_case_tags")


def test_a_gap_in_the_numbers_is_a_missing_migration(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql")
    write(tmp_path, "0003_c.sql")

    with pytest.raises(MigrationMissing, match=r"migration 0002 is missing .* 0003_c"):
        discover(tmp_path)


def test_a_version_numbered_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql")
    write(tmp_path, "0002_b.sql")
    write(tmp_path, "0002_other_b.sql")

    with pytest.raises(InvalidMigrationFile, match="migration 0002 appears twice"):
        discover(tmp_path)


def test_numbering_starts_at_one(tmp_path: Path) -> None:
    write(tmp_path, "0002_b.sql")

    with pytest.raises(MigrationMissing, match="migration 0001 is missing"):
        discover(tmp_path)


def test_the_checksum_is_the_sha256_of_the_text() -> None:
    text = "CREATE TABLE {schema}.a (x int);\n"

    assert checksum(text) == hashlib.sha256(text.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", checksum(text))
    assert Migration(1, "a", text).checksum == checksum(text)


def test_any_edit_changes_the_checksum_but_line_ends_do_not() -> None:
    text = "CREATE TABLE {schema}.a (x int);\nCREATE INDEX ON {schema}.a (x);\n"

    assert checksum(text.replace("\n", "\r\n")) == checksum(text)
    assert checksum(text + " ") != checksum(text)
    assert checksum(text.replace("x int", "x bigint")) != checksum(text)


def test_the_checksum_does_not_depend_on_the_target_schema() -> None:
    # Recorded from the file's text, so every schema migrated from it records the same sum.
    shipped = load_migrations()[0]
    assert shipped.checksum == checksum(Path(shipped.source).read_text(encoding="utf-8"))


def test_the_shipped_migrations_start_at_0001_without_gaps() -> None:
    shipped = load_migrations()

    assert [m.version for m in shipped] == list(range(1, len(shipped) + 1))
    assert shipped[0].label == "0001_read_model"


CREATES = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|FUNCTION|SCHEMA)\s+(?P<name>[^\s(]+)"
    r"|CREATE\s+(?:UNIQUE\s+)?INDEX\s+\w+\s+ON\s+(?P<on>[^\s(]+)",
    re.IGNORECASE,
)


def test_the_shipped_migrations_create_everything_inside_the_target_schema() -> None:
    for migration in load_migrations():
        targets = [m["name"] or m["on"] for m in CREATES.finditer(migration.sql)]
        assert targets, migration.label
        outside = [t for t in targets if not t.startswith("{schema}.")]
        assert not outside, f"{migration.label} creates outside {{schema}}: {outside}"


def test_the_shipped_migrations_manage_no_transaction_of_their_own() -> None:
    # Each runs inside the transaction that records it. (BEGIN inside a dollar-quoted
    # PL/pgSQL body, or BEGIN ATOMIC, opens a function body, not a transaction.)
    for migration in load_migrations():
        assert not re.search(
            r"^\s*(BEGIN(?!\s+ATOMIC)|COMMIT|ROLLBACK|START\s+TRANSACTION)\b|\bCONCURRENTLY\b",
            re.sub(r"\$\$.*?\$\$", "$$ $$", migration.sql, flags=re.DOTALL),
            re.IGNORECASE | re.MULTILINE,
        ), migration.label
