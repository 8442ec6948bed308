"""Where the read model holds a citizen's personal data in clear, and the SQL that removes it.

The log holds personal fields sealed with the citizen's data key; the projections open them
to show agents a case's timeline, so the read model holds them in clear. Of its tables
(streams/projections/sql), only `case_messages` does: `text`, `email_subject`, and the
`file_name` and `caption` of each attachment (their comments say PERSONAL; a unit test
keeps this inventory and the migrations in step). The other tables hold ids, times,
classifications and counts (docs/privacy.md lists them, column by column).

A message row is keyed to the citizen by `subject_id`, the subject whose key sealed its
fields. A citizen's subjects are the citizen itself and the subjects of the messages in
the cases the read model files under that citizen (`cases.citizen_id`, which follows
ContactsLinked: a contact merged into the citizen brings its earlier messages, sealed under
its former citizen id).

Redacting a row leaves it in the timeline (who wrote when, on which channel, delivery)
with its personal fields NULL and `redacted_at` set, as the table's CHECKs require, the
same row a projection makes from an event whose key is gone
(`streams.projections.rows_messages`). Running it again changes no row (and counts none).

Pure: SQL text only; no Postgres, no I/O.
"""

from __future__ import annotations

from typing import Final

from streams.projections.sqltext import render

PERSONAL_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "case_messages": ("text", "email_subject", "attachments"),
}
"""Per read-model table, the columns that hold personal data in clear."""

PERSONAL_ATTACHMENT_KEYS: Final = ("file_name", "caption")
"""The personal keys of each object in `case_messages.attachments`."""

MESSAGES: Final = "case_messages"

SUBJECTS_SQL: Final = """
SELECT DISTINCT m.subject_id
  FROM {schema}.case_messages AS m
  JOIN {schema}.cases AS c ON c.case_id = m.case_id
 WHERE c.citizen_id = $1::text
"""

HELD_SQL: Final = """
SELECT count(*) FROM {schema}.case_messages WHERE subject_id = ANY($1::text[])
"""

REDACT_SQL: Final = """
UPDATE {schema}.case_messages AS m
   SET text = NULL,
       email_subject = NULL,
       attachments = (
           SELECT coalesce(
                      jsonb_agg(a || '{"file_name": null, "caption": null}'::jsonb ORDER BY n),
                      '[]'::jsonb)
             FROM jsonb_array_elements(m.attachments) WITH ORDINALITY AS e(a, n)),
       redacted_at = coalesce(m.redacted_at, now())
 WHERE m.subject_id = ANY($1::text[])
   AND (m.redacted_at IS NULL
        OR m.text IS NOT NULL
        OR m.email_subject IS NOT NULL
        OR jsonb_path_exists(m.attachments, '$[*] ? (@.file_name != null || @.caption != null)'))
"""
"""Clears the personal fields of the subjects' messages; only the rows that still hold
some (or were never marked), so the status counts what this run changed."""

SCHEMAS_SQL: Final = """
SELECT r.table_schema
  FROM information_schema.tables AS r
 WHERE r.table_name = 'acolhe_migrations'
   AND EXISTS (SELECT 1 FROM information_schema.tables AS m
                WHERE m.table_schema = r.table_schema AND m.table_name = 'case_messages')
 ORDER BY 1
"""
"""Every read-model schema (it has acolhe's migrations record) that has messages: the live
one and any rebuild beside it."""

HAS_MESSAGES_SQL: Final = "SELECT to_regclass($1::text) IS NOT NULL"

FILTERED_SQL: Final = "SELECT coalesce(row_security_active(to_regclass($1::text)), false)"
"""Whether row-level security (0003_access.sql) filters what this connection sees of the
messages: a role other than the tables' owner would redact nothing and not know it."""


def subjects_sql(schema: str) -> str:
    return render(SUBJECTS_SQL, schema)


def held_sql(schema: str) -> str:
    return render(HELD_SQL, schema)


def redact_sql(schema: str) -> str:
    return render(REDACT_SQL, schema)


def messages_table(schema: str) -> str:
    """The qualified name `to_regclass` is asked about, to tell whether a schema has messages."""
    return render("{schema}.case_messages", schema)
