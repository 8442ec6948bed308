"""SQL text for a named schema: schema names, identifier quoting, the `{schema}` placeholder.

The read model lives in a schema whose name is chosen at run time (a rebuild migrates a new
schema, then switches), so the SQL files and queries say `{schema}` where the schema goes.
Only that exact placeholder is replaced: SQL has braces of its own (array literals such as
`'{}'`), so `str.format` would be wrong. The name is checked, then quoted as an identifier,
so a name can never close the quote and inject SQL.

Pure: no Postgres, no I/O.
"""

from __future__ import annotations

import re
from typing import Final

from streams.shared.errors import BadInput

PLACEHOLDER: Final = "{schema}"
SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""Lower-case, starting with a letter or underscore, at most 63 bytes (Postgres' NAMEDATALEN)."""


class InvalidSchemaName(BadInput):
    """A schema name outside `^[a-z_][a-z0-9_]{0,62}$`, or one Postgres reserves."""


def check_schema_name(name: str) -> str:
    """`name` itself if it may name a read-model schema; else `InvalidSchemaName`."""
    if not SCHEMA_NAME.fullmatch(name):
        raise InvalidSchemaName(
            f"invalid schema name {name!r}: use 1 to 63 characters from a-z, 0-9 and _, "
            "not starting with a digit, e.g. acolhe_read"
        )
    if name.startswith("pg_"):
        raise InvalidSchemaName(
            f"invalid schema name {name!r}: names starting with pg_ are reserved by PostgreSQL"
        )
    return name


def quote_ident(name: str) -> str:
    """`name` as a quoted SQL identifier: in double quotes, inner double quotes doubled."""
    if "\x00" in name:
        raise BadInput("an SQL identifier cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def render(sql: str, schema: str) -> str:
    """`sql` with every `{schema}` replaced by the checked, quoted schema name."""
    return sql.replace(PLACEHOLDER, quote_ident(check_schema_name(schema)))
