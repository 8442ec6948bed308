"""A schema name is checked, then quoted; only `{schema}` is substituted: no name injects SQL."""

from __future__ import annotations

import pytest

from streams.projections.sqltext import InvalidSchemaName, check_schema_name, quote_ident, render
from streams.shared.errors import BadInput


@pytest.mark.parametrize("name", ["acolhe_read", "_x", "a", "read_model_2", "a" * 63])
def test_valid_schema_names_pass_unchanged(name: str) -> None:
    assert check_schema_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "1read",
        "Acolhe",
        "acolhe-read",
        "acolhe read",
        'x"; DROP SCHEMA public CASCADE; --',
        "leitura_é",
        "a" * 64,
        "acolhe.read",
    ],
)
def test_invalid_schema_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidSchemaName, match=r"a-z, 0-9 and _"):
        check_schema_name(name)


def test_names_postgres_reserves_are_refused() -> None:
    with pytest.raises(InvalidSchemaName, match="reserved by PostgreSQL"):
        check_schema_name("pg_read")


def test_an_invalid_schema_name_is_bad_input() -> None:
    assert issubclass(InvalidSchemaName, BadInput)


def test_identifiers_are_double_quoted_with_inner_quotes_doubled() -> None:
    assert quote_ident("cases") == '"cases"'
    assert quote_ident('we"ird') == '"we""ird"'


def test_render_replaces_every_placeholder_with_the_quoted_name() -> None:
    sql = "CREATE TABLE {schema}.a (x int); COMMENT ON TABLE {schema}.a IS 'in {schema}';"

    assert render(sql, "read_1") == (
        'CREATE TABLE "read_1".a (x int); COMMENT ON TABLE "read_1".a IS \'in "read_1"\';'
    )


def test_render_leaves_the_braces_of_sql_alone() -> None:
    sql = "SELECT '{}'::text[], '{a,b}'::text[], 'x' ~ '^[0-9a-f]{64}$', {schema}.f()"

    assert render(sql, "s") == (
        "SELECT '{}'::text[], '{a,b}'::text[], 'x' ~ '^[0-9a-f]{64}$', \"s\".f()"
    )


def test_render_refuses_an_invalid_name_instead_of_quoting_it() -> None:
    with pytest.raises(InvalidSchemaName):
        render("SELECT 1 FROM {schema}.cases", 'x".cases; --')
