"""`erase`: a citizen's personal data erased from acolhe (crypto-shredding), the shell.

Steps, in this order (correctness depends on it):
1. check the request, and the read-model schemas to redact (each must exist and have
   messages): a bad citizen id, basis or schema refuses the erasure before anything is done;
2. publish `ErasureRequested` to acolhe.privacy and wait for the broker's acknowledgement
   (acks=all): the request is on the record before anything is destroyed, so an erasure
   that fails half-way is known, and is finished by running it again; then write the same
   event (same bytes, same id) into every partition of acolhe.conversations and wait for
   every acknowledgement, as the timer writes ticks: every contact of the citizen sees it
   in order with its own events, and the case lifecycle closes their open cases
   (`CaseClosed`, reason citizen_erased), on a replay at the same point. After the record,
   so that a copy is never in the contacts' stream without it;
3. destroy the data keys of the citizen's subjects (`PostgresKeyStore.shred`; a subject
   with no key gets a tombstone, so none is ever made): from here every copy of their
   sealed fields (topics, replays, backups, exports) opens as ERASED, and workers holding
   the keys in memory drop them within `keystore.RECHECK_S`. Before redacting, so that a
   projector rebuilding or catching up from now on writes redacted rows, never clear ones;
4. redact each read-model schema in one transaction (`redaction.REDACT_SQL`): the
   subjects' messages keep their place in the timelines and lose their personal fields;
5. publish `ErasureCompleted` with what was done.
A crash between steps is repaired by running the same erasure again: the same event ids
(readers drop the duplicates; a copy in the contacts' stream seen again finds their cases
closed and closes nothing), a destroyed key stays destroyed (`already_destroyed`), rows
already redacted are left as they are and not counted again.

A projector batch (or a rebuild's bulk phase) decoded before step 3 and written after
step 4 would put its rows back in clear: it opened them while the key still existed. The
copy of step 2 closes that: the case projection redacts the citizen itself when it reads
the copy, in the transaction of the rows it writes (a rebuild, before it switches:
streams.projections.erasures). What is left of the window is in docs/privacy.md.

Depends on Kafka (the publisher), Postgres (the read model) and the key store; holds no
rule of its own: `streams.privacy.domain` and `redaction` decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol, runtime_checkable

import asyncpg
from aiokafka.errors import KafkaError

from schemas.catalog import TOPICS
from streams.privacy import domain, redaction
from streams.privacy.domain import ErasureReport, InvalidErasure, Redacted
from streams.projections.sqltext import check_schema_name
from streams.shared.contract import Contract
from streams.shared.errors import ConfigurationError, RetriableInfrastructureError
from streams.shared.events import EventPublisher, TopicRoute
from streams.shared.kafka import TopicSpec, ensure_topics, make_producer, topic_partitions
from streams.shared.keystore import Shredded
from streams.shared.postgres import connect
from streams.shared.settings import Settings

PRIVACY_TOPIC: Final = "acolhe.privacy"
CONVERSATIONS_TOPIC: Final = "acolhe.conversations"
_GONE: Final = (asyncpg.exceptions.UndefinedTableError, asyncpg.exceptions.InvalidSchemaNameError)


@runtime_checkable
class Shredder(Protocol):
    """A key store that can destroy a subject's key (`PostgresKeyStore`)."""

    async def shred(self, subject_id: str) -> Shredded: ...


async def erase(
    settings: Settings,
    contract: Contract,
    citizen_id: str,
    *,
    requested_by: str | None = None,
    legal_basis: str = "data_subject_request",
    reference: str | None = None,
    schemas: Sequence[str] | None = None,
    topic: str = PRIVACY_TOPIC,
    conversations: str = CONVERSATIONS_TOPIC,
) -> ErasureReport:
    """Erase the citizen's personal data (the steps are in the module's docstring).

    `schemas`: the read-model schemas to redact; None redacts every schema that has
    acolhe's read-model migrations (the live one and any rebuild beside it). `topic`: where
    the erasure's events go (acolhe.privacy; another topic for tests). `conversations`: the
    contacts' topic, into every partition of which `ErasureRequested` is also written
    (acolhe.conversations; another topic for tests)."""
    req = domain.request(
        citizen_id, legal_basis=legal_basis, requested_by=requested_by, reference=reference
    )
    keys = contract.keys
    if not isinstance(keys, Shredder):
        raise ConfigurationError(
            "the contract's key store cannot destroy keys: open it with the Postgres key "
            "store (Contract.open without keys=...)"
        )
    conn = await connect(settings.postgres)
    try:
        targets = await _schemas(conn, schemas)
        partitions = await declare_topics(settings, topic, conversations)
        producer = make_producer(settings.kafka)
        try:
            await producer.start()
            publisher = contract.publisher(
                producer,
                source=domain.SOURCE,
                routes={
                    name: TopicRoute(topic, "citizen_id")
                    for name in ("ErasureRequested", "ErasureCompleted")
                },
            )
            asked = domain.requested(req, now=datetime.now(UTC))
            await record_and_copy(publisher, asked, conversations, partitions)
            found: set[str] = set()
            for schema in targets:
                found |= await _subjects(conn, schema, req.citizen_id)
            subjects = domain.subjects_of(req.citizen_id, found)
            outcomes = tuple([(s, await _shred(keys, s)) for s in subjects])
            redacted = tuple([await _redact(conn, schema, subjects) for schema in targets])
            report = ErasureReport(req, outcomes, redacted, topic, conversations, len(partitions))
            done = domain.completed(report, now=datetime.now(UTC))
            await publisher.publish(done.NAME, done.to_record())
        except KafkaError as exc:
            raise RetriableInfrastructureError(
                f"Kafka failed during the erasure: {exc!r}; run the same erasure again "
                "(it repeats nothing it already did)"
            ) from exc
        finally:
            await producer.stop()
    finally:
        await conn.close()
    return report


async def _shred(keys: Shredder, subject_id: str) -> Shredded:
    try:
        return await keys.shred(subject_id)
    except asyncpg.PostgresError as exc:
        raise RetriableInfrastructureError(
            f"destroying the data key of {subject_id!r} failed: {exc!r}; run the same erasure again"
        ) from exc


async def _schemas(conn: Any, asked: Sequence[str] | None) -> list[str]:
    """The schemas to redact: those asked, each checked to hold messages; else every
    read-model schema that does."""
    if asked is None:
        out = [r["table_schema"] for r in await conn.fetch(redaction.SCHEMAS_SQL)]
    else:
        out = []
        for schema in dict.fromkeys(asked):
            check_schema_name(schema)
            table = redaction.messages_table(schema)
            if not await conn.fetchval(redaction.HAS_MESSAGES_SQL, table):
                raise InvalidErasure(
                    f"schema {schema!r} has no read model (no case_messages table): check the "
                    "name, or leave --schema out to redact every read-model schema"
                )
            out.append(schema)
    for schema in out:
        if await conn.fetchval(redaction.FILTERED_SQL, redaction.messages_table(schema)):
            raise ConfigurationError(
                f"row-level security hides rows of {schema}.case_messages from this database "
                "role, so the erasure could not redact them: run it with the DSN of the role "
                "that owns the read model (the projectors' own, ACOLHE_POSTGRES_DSN)"
            )
    return out


async def _subjects(conn: Any, schema: str, citizen_id: str) -> set[str]:
    try:
        rows = await conn.fetch(redaction.subjects_sql(schema), citizen_id)
    except _GONE:
        return set()  # dropped since it was listed
    except asyncpg.PostgresError as exc:
        raise RetriableInfrastructureError(
            f"reading the citizen's subjects in {schema!r} failed: {exc!r}; the request is "
            "recorded, nothing is destroyed yet: run the same erasure again"
        ) from exc
    return {r["subject_id"] for r in rows}


async def _redact(conn: Any, schema: str, subjects: Sequence[str]) -> Redacted:
    """One schema's messages of these subjects, redacted in one transaction."""
    try:
        async with conn.transaction():
            held = await conn.fetchval(redaction.held_sql(schema), list(subjects))
            status = await conn.execute(redaction.redact_sql(schema), list(subjects))
    except _GONE:
        return Redacted(schema, 0, 0, gone=True)
    except asyncpg.PostgresError as exc:
        raise RetriableInfrastructureError(
            f"redacting the read model {schema!r} failed: {exc!r}; the keys are destroyed "
            "already: run the same erasure again to finish it"
        ) from exc
    return Redacted(schema, int(held), int(status.rsplit(" ", 1)[1]))


async def declare_topics(settings: Settings, topic: str, conversations: str) -> list[int]:
    """Make sure the privacy topic and the conversations topic exist; the partitions the
    conversations topic has (not the catalog's count: a test's topic has fewer)."""
    await ensure_topics(
        settings.kafka,
        [
            TopicSpec(topic, partitions=TOPICS[PRIVACY_TOPIC].partitions),
            TopicSpec(conversations, partitions=TOPICS[CONVERSATIONS_TOPIC].partitions),
        ],
    )
    return await topic_partitions(settings.kafka, conversations)


async def record_and_copy(
    publisher: EventPublisher, event: Any, conversations: str, partitions: Sequence[int]
) -> None:
    """A privacy fact (an erasure, a block, an unblock): recorded in acolhe.privacy (the
    publisher's route), then copied, same bytes and id, into every partition of the
    conversations topic, so every contact's stream sees it in order with its own events."""
    await publisher.publish(event.NAME, event.to_record())
    await publisher.broadcast(event.NAME, event.to_record(), {conversations: partitions})
