"""The agent app's queries: each renders for a schema, its parameters are declared, and
docs/read-model.md shows exactly these queries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.projections import queries
from streams.projections.queries import ALL, Query

DOC = Path(__file__).parents[3] / "docs" / "read-model.md"


@pytest.mark.parametrize("query", ALL, ids=lambda q: q.name)
def test_a_query_renders_with_the_schema_quoted_everywhere(query: Query) -> None:
    sql = query.render("acolhe_read")

    assert "{schema}" not in sql
    assert '"acolhe_read".' in sql
    assert not re.search(r"\bFROM\s+(?!\"acolhe_read\"\.|unnest\()", sql), "unqualified FROM"


@pytest.mark.parametrize("query", ALL, ids=lambda q: q.name)
def test_every_parameter_is_declared_and_typed_in_the_sql(query: Query) -> None:
    used = {int(n) for n in re.findall(r"\$(\d+)", query.sql)}

    assert used == set(range(1, len(query.params) + 1))
    for n, param in enumerate(query.params, start=1):
        assert f"${n}::{param.sql_type}" in query.sql


def test_the_constants_are_all_listed_once() -> None:
    constants = [v for v in vars(queries).values() if isinstance(v, Query)]

    assert sorted(q.name for q in constants) == sorted(q.name for q in ALL)
    assert all(getattr(queries, q.name) is q for q in ALL)


def test_the_doc_shows_exactly_these_queries() -> None:
    # Regenerate with `python -m streams.projections.queries` and paste between the markers.
    assert queries.markdown() in DOC.read_text(encoding="utf-8")
