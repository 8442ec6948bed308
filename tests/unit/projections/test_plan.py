"""Given what a schema records, when the shipped migrations are compared, then the pending
ones come in order, or the run is refused before anything is applied."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.projections.migrations import (
    AppliedMigration,
    Migration,
    MigrationChanged,
    MigrationError,
    MigrationMissing,
    lock_key,
    migrate,
    pending,
)
from streams.projections.sqltext import InvalidSchemaName
from streams.shared.errors import ConfigurationError

SHIPPED = (
    Migration(1, "read_model", "CREATE TABLE {schema}.a (x int);"),
    Migration(2, "add_b", "CREATE TABLE {schema}.b (x int);"),
    Migration(3, "add_c", "CREATE TABLE {schema}.c (x int);"),
)


def recorded(m: Migration) -> AppliedMigration:
    return AppliedMigration(
        m.version, m.name, m.checksum, datetime(2026, 11, 2, 9, 30, tzinfo=UTC), "acolhe"
    )


def test_a_fresh_schema_has_everything_pending_in_order() -> None:
    assert pending(SHIPPED, [], schema="s") == SHIPPED


def test_the_migrations_after_the_last_applied_are_pending() -> None:
    applied = [recorded(SHIPPED[1]), recorded(SHIPPED[0])]

    assert pending(SHIPPED, applied, schema="s") == (SHIPPED[2],)


def test_nothing_is_pending_once_all_are_applied() -> None:
    assert pending(SHIPPED, [recorded(m) for m in SHIPPED], schema="s") == ()


def test_a_changed_file_is_refused_naming_the_version_the_schema_and_the_way_out() -> None:
    edited = (SHIPPED[0], Migration(2, "add_b", SHIPPED[1].sql + "\n-- tidied"), SHIPPED[2])

    with pytest.raises(MigrationChanged) as refused:
        pending(edited, [recorded(SHIPPED[0]), recorded(SHIPPED[1])], schema="acolhe_read")

    message = str(refused.value)
    assert "migration 0002 changed since it was applied to schema 'acolhe_read'" in message
    assert "on 2026-11-02 09:30" in message
    assert SHIPPED[1].checksum[:12] in message
    assert edited[1].checksum[:12] in message
    assert "new migration 0004_<name>.sql" in message


def test_a_renamed_file_counts_as_changed() -> None:
    renamed = (SHIPPED[0], Migration(2, "add_bee", SHIPPED[1].sql))

    with pytest.raises(MigrationChanged, match="migration 0002 changed"):
        pending(renamed, [recorded(SHIPPED[1])], schema="s")


def test_a_recorded_migration_this_code_does_not_ship_is_refused() -> None:
    with pytest.raises(MigrationMissing, match=r"has migration 0003_add_c applied.*up to 0002"):
        pending(SHIPPED[:2], [recorded(m) for m in SHIPPED], schema="s")


def test_a_pending_migration_below_an_applied_one_is_refused() -> None:
    with pytest.raises(MigrationMissing, match=r"records migration 0003 .* not 0002_add_b"):
        pending(SHIPPED, [recorded(SHIPPED[0]), recorded(SHIPPED[2])], schema="s")


def test_refusals_are_configuration_errors_an_operator_must_act_on() -> None:
    assert issubclass(MigrationError, ConfigurationError)
    assert not MigrationError("x").retriable


def test_the_lock_key_is_stable_and_one_per_schema() -> None:
    # Pinned: migrators of two acolhe versions (a rolling deploy) must take the same lock.
    assert lock_key("acolhe_read") == lock_key("acolhe_read") == 5807758441505281679
    assert lock_key("acolhe_read") != lock_key("acolhe_read_rebuild")
    assert all(-(2**63) <= lock_key(s) < 2**63 for s in ("a", "b", "acolhe_read"))


async def test_an_invalid_schema_is_refused_before_any_database_work() -> None:
    with pytest.raises(InvalidSchemaName):
        await migrate(object(), 'acolhe"; DROP SCHEMA public; --')
