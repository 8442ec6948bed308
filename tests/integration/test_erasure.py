"""`erase` on the real broker and database: after a citizen is erased, nothing of their
personal data is left in clear in Kafka's segment files, in the read model (nor in one
rebuilt from the log afterwards) or in an export made with the authorized key; another
citizen's data is untouched; the request is written into every partition of the contacts'
topic, so that every contact's stream carries it; running the erasure again changes nothing
and records nothing new."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from bench.samples import message_received
from schemas.container import read_container
from schemas.events import CaseOpened, MessageReceived, MessageSent
from streams.privacy.domain import ErasureReport
from streams.privacy.erasure import erase
from streams.projections.folds import CaseProjection
from streams.projections.migrations import migrate
from streams.projections.projector import Projector
from streams.shared.contract import Contract
from streams.shared.errors import ConfigurationError
from streams.shared.events import DEAD_LETTER_TOPIC, Received, read_topic
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics, make_producer
from streams.shared.keystore import SubjectErased
from streams.shared.settings import PostgresSettings, Secret, Settings
from streams.stack.manager import Stack
from tests.integration.projecting import ends, project, publish

T0 = datetime(2026, 11, 30, 9, tzinfo=UTC)
PARTITIONS = 3
TIMEOUT_S = 120


@dataclass(frozen=True)
class Citizen:
    """One citizen's conversation: ids in clear, and a marker that only their personal
    fields carry (the text, the email subject, the attachment's name and caption, their
    name and address), so finding the marker anywhere is finding their data in clear."""

    subject_id: str
    contact_id: str
    marker: str

    @classmethod
    def new(cls, label: str) -> Citizen:
        run = uuid.uuid4().hex[:10]
        return cls(f"citizen-{label}-{run}", f"contact-{label}-{run}", f"mk{uuid.uuid4().hex}")

    @property
    def case_id(self) -> str:
        return f"case-{self.contact_id}"

    @property
    def first_message_id(self) -> str:
        return f"in-{self.contact_id}"

    def conversation(self) -> list[Any]:
        m = self.marker
        received = MessageReceived.from_record(
            {
                **message_received(1),
                "event_id": self.first_message_id,
                "occurred_at": T0,
                "received_at": T0,
                "correlation_id": self.first_message_id,
                "subject_id": self.subject_id,
                "channel": "email",
                "kind": "email",
                "contact_id": self.contact_id,
                "contact_address": f"maria.quiteria.{m}@example.org",
                "provider_message_id": f"msgid-{self.contact_id}@mail.example.org",
                "sender_name": f"Maria Quitéria {m}",
                "email_subject": f"Pensão atrasada do Joaquim {m}",
                "text": f"Meu ex-marido Joaquim {m} não paga a pensão das crianças desde março.",
                "attachments": [
                    {
                        **message_received(1)["attachments"][0],
                        "file_name": f"certidao_nascimento_{m}.pdf",
                        "caption": f"certidão do meu filho Pedro {m}",
                    }
                ],
            }
        )
        opened = CaseOpened(
            event_id=f"opened-{self.contact_id}",
            occurred_at=T0,
            correlation_id=received.event_id,
            causation_id=received.event_id,
            case_id=self.case_id,
            citizen_id=self.subject_id,
            contact_id=self.contact_id,
            channel="email",
            opened_by_message_id=received.event_id,
        )
        reply = MessageSent(
            event_id=f"sent-{self.contact_id}",
            occurred_at=T0 + timedelta(minutes=30),
            correlation_id=received.event_id,
            subject_id=self.subject_id,
            channel="email",
            contact_id=self.contact_id,
            contact_address=f"maria.quiteria.{m}@example.org",
            case_id=self.case_id,
            message_id=f"out-{self.contact_id}",
            sender_kind="agent",
            agent_id="agent-7",
            email_subject=f"Re: Pensão atrasada do Joaquim {m}",
            text=f"Dona Maria Quitéria {m}, recebemos a certidao_nascimento_{m}.pdf do Pedro {m}.",
            sent_at=T0 + timedelta(minutes=30),
        )
        return [received, opened, reply]


@pytest.fixture
async def topics(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """A fresh conversations topic and a fresh privacy topic (erase creates it)."""
    run = uuid.uuid4().hex[:8]
    conversations, privacy = f"test.erasure.conv.{run}", f"test.erasure.privacy.{run}"
    await ensure_topics(settings.kafka, [TopicSpec(conversations, PARTITIONS)])
    yield conversations, privacy
    await delete_topics(settings.kafka, [conversations, privacy])


@pytest.fixture
async def read_schemas(pg: Any) -> AsyncIterator[tuple[str, str]]:
    """Two fresh read-model schemas: the live one, and one rebuilt after the erasure."""
    run = uuid.uuid4().hex[:8]
    names = (f"t_erasure_live_{run}", f"t_erasure_rebuilt_{run}")
    yield names
    for name in names:
        await pg.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def test_an_erased_citizen_is_found_in_clear_nowhere(
    settings: Settings,
    stack: Stack,
    contract: Contract,
    topics: tuple[str, str],
    read_schemas: tuple[str, str],
    pg: Any,
    tmp_path: Path,
) -> None:
    conversations, privacy = topics
    live, rebuilt = read_schemas
    x, y = Citizen.new("x"), Citizen.new("y")
    await publish(settings, contract, conversations, [*x.conversation(), *y.conversation()])
    # A record of X's that fails to decode (its tail corrupted): projectors dead-letter it
    # whole, raw, into acolhe.deadletter.
    corrupted = contract.codec.encode(
        "MessageReceived", x.conversation()[0].to_record(), contract.keys
    )
    await produce_raw(settings, conversations, x.contact_id, corrupted + b"\x00corrupted")
    await run_projector(settings, contract, conversations, live)
    assert await texts(pg, live, x) == [
        f"Meu ex-marido Joaquim {x.marker} não paga a pensão das crianças desde março.",
        f"Dona Maria Quitéria {x.marker}, recebemos a certidao_nascimento_{x.marker}.pdf "
        f"do Pedro {x.marker}.",
    ]
    segments = Segments(stack.kafka.data_dir)
    # The log holds X's messages (their ids in clear) and the dead letter of the corrupted
    # one, and not one personal value in clear: they are sealed with X's key.
    assert segments.contain(x.subject_id, conversations)
    assert segments.contain(x.first_message_id, DEAD_LETTER_TOPIC)
    assert not segments.contain(x.marker, conversations, DEAD_LETTER_TOPIC)

    report = await asyncio.wait_for(
        erase(
            settings,
            contract,
            x.subject_id,
            requested_by="agent-7",
            legal_basis="data_subject_request",
            reference="PROTOCOLO-2026-000123",
            topic=privacy,
            conversations=conversations,
        ),
        TIMEOUT_S,
    )

    assert report.keys == ((x.subject_id, "destroyed"),)
    # The request is in every partition of the contacts' topic, byte for byte the record
    # in acolhe.privacy: each contact's stream sees it in order with its own events.
    [recorded_request] = await raw_erasures(settings, privacy)
    assert report.partitions == PARTITIONS
    assert await raw_erasures(settings, conversations) == [
        (p, recorded_request[1]) for p in range(PARTITIONS)
    ]
    assert next(r for r in report.schemas if r.schema == live).held == 2
    assert next(r for r in report.schemas if r.schema == live).redacted == 2
    assert (report.keys_destroyed, report.is_known) == (1, True)
    # (a) Kafka's files: nothing of X in clear, in any topic the test wrote.
    assert segments.contain(x.subject_id, privacy)  # the erasure is on the record
    assert not segments.contain(x.marker, conversations, privacy, DEAD_LETTER_TOPIC)
    # (b) The read model: X's messages stay in the timeline, redacted; Y's are untouched.
    assert await tables_containing(pg, live, x.marker) == []
    assert await tables_containing(pg, live, y.marker) == ["case_messages"]
    assert await redacted(pg, live, x) == [True, True]
    assert await redacted(pg, live, y) == [False, False]
    # A read model rebuilt from the log after the erasure holds X's rows, redacted.
    await run_projector(settings, contract, conversations, rebuilt)
    assert await tables_containing(pg, rebuilt, x.marker) == []
    assert await tables_containing(pg, rebuilt, y.marker) == ["case_messages"]
    assert await redacted(pg, rebuilt, x) == [True, True]
    assert await texts(pg, rebuilt, x) == [None, None]
    # (c) An export made now, even with the key that exports personal fields in clear.
    exported = await export_in_clear(settings, contract, conversations, tmp_path / "export")
    for kind in ("avro", "parquet", "csv"):
        # Y's messages are there in clear: the export does open personal fields.
        assert any(y.marker in value for value in exported[kind]), kind
    assert not [v for values in exported.values() for v in values if x.marker in v]

    again = await asyncio.wait_for(
        erase(
            settings,
            contract,
            x.subject_id,
            requested_by="agent-9",
            legal_basis="data_subject_request",
            reference="PROTOCOLO-2026-000123",
            topic=privacy,
            conversations=conversations,
        ),
        TIMEOUT_S,
    )

    assert again.keys == ((x.subject_id, "already_destroyed"),)
    # Written again into every partition, with the same id (the case lifecycle finds the
    # citizen's cases closed already: tests/integration/test_erasure_closes_cases.py).
    copies = [
        (r.partition, r.event.record["event_id"])
        for r in await read_topic(settings.kafka, contract.decode, conversations)
        if isinstance(r, Received) and r.event.name == "ErasureRequested"
    ]
    assert sorted(copies) == sorted([(p, report.request.event_id) for p in range(PARTITIONS)] * 2)
    assert [(r.held, r.redacted) for r in again.schemas if r.schema in read_schemas] == [
        (2, 0),
        (2, 0),
    ]
    recorded = await privacy_events(settings, contract, privacy)
    assert [(name, record["citizen_id"]) for name, record in recorded] == [
        ("ErasureRequested", x.subject_id),
        ("ErasureCompleted", x.subject_id),
    ] * 2
    # The same erasure, run again: the same events (readers drop the second copies).
    assert recorded[0][1]["event_id"] == recorded[2][1]["event_id"] == report.request.event_id
    assert recorded[1][1]["event_id"] == recorded[3][1]["event_id"]
    assert recorded[1][1]["keys_destroyed"] == recorded[3][1]["keys_destroyed"] == 1
    # What held X's rows: the live read model, then also the rebuilt one.
    assert (recorded[1][1]["projections_redacted"], recorded[3][1]["projections_redacted"]) == (
        1,
        2,
    )


async def test_an_unknown_citizen_gets_a_tombstone_and_the_erasure_completes(
    settings: Settings, contract: Contract, topics: tuple[str, str], pg: Any
) -> None:
    conversations, privacy = topics
    unknown = f"citizen-nobody-{uuid.uuid4().hex[:8]}"

    report: ErasureReport = await asyncio.wait_for(
        erase(
            settings,
            contract,
            unknown,
            legal_basis="end_of_processing",
            topic=privacy,
            conversations=conversations,
            schemas=[],
        ),
        TIMEOUT_S,
    )

    assert report.keys == ((unknown, "tombstoned"),)
    assert not report.is_known
    # No key will ever be made for that id: writing personal data for it is refused.
    await contract.keys.ensure([unknown])
    with pytest.raises(SubjectErased):
        contract.keys.encryption_key(unknown)
    recorded = await privacy_events(settings, contract, privacy)
    assert [(n, r["keys_destroyed"] if n == "ErasureCompleted" else None) for n, r in recorded] == [
        ("ErasureRequested", None),
        ("ErasureCompleted", 0),
    ]


async def test_a_role_that_row_level_security_filters_is_refused_before_anything_is_done(
    settings: Settings, contract: Contract, topics: tuple[str, str], pg: Any, pg_schema: str
) -> None:
    conversations, privacy = topics
    await migrate(pg, pg_schema)
    await pg.execute(f'ALTER TABLE "{pg_schema}".case_messages ENABLE ROW LEVEL SECURITY')
    role, password = f"t_erasure_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    await pg.execute(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '{password}'")
    try:
        await pg.execute(f'GRANT USAGE ON SCHEMA "{pg_schema}" TO {role}')
        as_role = replace(
            settings, postgres=PostgresSettings(Secret(dsn_as(settings, role, password)))
        )
        citizen = f"citizen-{uuid.uuid4().hex[:8]}"
        await contract.keys.ensure([citizen])

        with pytest.raises(ConfigurationError, match="row-level security hides rows"):
            await asyncio.wait_for(
                erase(
                    as_role,
                    contract,
                    citizen,
                    schemas=[pg_schema],
                    topic=privacy,
                    conversations=conversations,
                ),
                TIMEOUT_S,
            )

        assert contract.keys.decryption_key(citizen) is not None  # the key was not touched
        assert await raw_erasures(settings, conversations) == []  # nothing was written
    finally:
        await pg.execute(f'REVOKE ALL ON SCHEMA "{pg_schema}" FROM {role}')
        await pg.execute(f"DROP ROLE {role}")


# -- helpers --------------------------------------------------------------------------------


def dsn_as(settings: Settings, role: str, password: str) -> str:
    """The test database's DSN, logging in as another role."""
    parts = urlsplit(settings.postgres.dsn.reveal())
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    netloc = f"{role}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def produce_raw(settings: Settings, topic: str, key: str, value: bytes) -> None:
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        await (await producer.send(topic, value=value, key=key.encode()))
    finally:
        await producer.stop()


async def run_projector(settings: Settings, contract: Contract, topic: str, schema: str) -> None:
    proj = Projector(
        settings,
        contract,
        CaseProjection(),
        schema=schema,
        topic=topic,
        group_id=f"test.erasure.{schema}",
    )
    await proj.start()
    try:
        await project(proj, await ends(settings, topic), timeout_s=TIMEOUT_S)
    finally:
        await proj.stop()


class Segments:
    """The bytes of Kafka's segment files (`*.log`) of some topics, as the broker wrote
    them: what an attacker with the disk (or a backup of it) would read."""

    def __init__(self, data_dir: Path) -> None:
        assert data_dir.is_dir(), f"no Kafka data dir at {data_dir}: the test needs the local stack"
        self.data_dir = data_dir

    def contain(self, text: str, *topics: str) -> bool:
        needle = text.encode()
        return any(needle in f.read_bytes() for f in self._files(topics))

    def _files(self, topics: Iterable[str]) -> list[Path]:
        found = []
        for topic in topics:
            partition_dir = re.compile(re.escape(topic) + r"-\d+")
            for d in self.data_dir.iterdir():
                if partition_dir.fullmatch(d.name):
                    found += sorted(d.glob("*.log"))
        assert found, f"no segment files of {topics} under {self.data_dir}"
        return found


async def tables_containing(pg: Any, schema: str, text: str) -> list[str]:
    """The tables of `schema` with a column whose value, as text, contains `text`: every
    column of every table, whatever its type, found through information_schema."""
    columns = await pg.fetch(
        "SELECT c.table_name, c.column_name FROM information_schema.columns AS c"
        " JOIN information_schema.tables AS t USING (table_schema, table_name)"
        " WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position",
        schema,
    )
    by_table: dict[str, list[str]] = {}
    for row in columns:
        by_table.setdefault(row["table_name"], []).append(row["column_name"])
    assert {"case_messages", "cases"} <= set(by_table)
    found = []
    for table, names in by_table.items():
        where = " OR ".join(f'strpos("{n}"::text, $1) > 0' for n in names)
        if await pg.fetchval(
            f'SELECT EXISTS (SELECT FROM "{schema}"."{table}" WHERE {where})', text
        ):
            found.append(table)
    return found


async def texts(pg: Any, schema: str, citizen: Citizen) -> list[str | None]:
    rows = await pg.fetch(
        f'SELECT text FROM "{schema}".case_messages WHERE subject_id = $1 ORDER BY occurred_at',
        citizen.subject_id,
    )
    return [r["text"] for r in rows]


async def redacted(pg: Any, schema: str, citizen: Citizen) -> list[bool]:
    rows = await pg.fetch(
        f"SELECT redacted_at IS NOT NULL AND text IS NULL AND email_subject IS NULL"
        f" AND NOT jsonb_path_exists(attachments, '$[*] ? (@.file_name != null)') AS done"
        f' FROM "{schema}".case_messages WHERE subject_id = $1 ORDER BY occurred_at',
        citizen.subject_id,
    )
    return [r["done"] for r in rows]


async def export_in_clear(
    settings: Settings, contract: Contract, topic: str, out_dir: Path
) -> dict[str, list[str]]:
    """Export the conversations with the authorized key (personal fields in clear) in every
    format; every value of every exported record, as text."""
    from streams.export import ExportOptions, export

    key = os.urandom(32)
    authorized = replace(
        settings,
        export=replace(settings.export, authorized_key_sha256=(hashlib.sha256(key).hexdigest(),)),
    )
    report = await asyncio.wait_for(
        export(
            authorized,
            contract,
            ExportOptions(
                out_dir=out_dir,
                event_types=frozenset({"MessageReceived", "MessageSent"}),
                formats=("avro", "parquet", "csv"),
                authorized_key=key,
                topics=("acolhe.conversations",),
                topic_names={"acolhe.conversations": topic},
            ),
        ),
        TIMEOUT_S,
    )
    assert report.personal == "clear"
    return exported_values(out_dir)


def exported_values(out_dir: Path) -> dict[str, list[str]]:
    """Per kind of file (avro, parquet, csv, other), every value of every record in the
    export's files, as text."""
    values: dict[str, list[str]] = {"avro": [], "parquet": [], "csv": [], "other": []}
    for path in sorted(out_dir.rglob("*")):
        if path.suffix == ".avro":
            with path.open("rb") as f:
                values["avro"] += [
                    json.dumps(r, default=str, ensure_ascii=False)
                    for r in read_container(f).records
                ]
        elif path.suffix == ".parquet":
            values["parquet"] += [
                json.dumps(r, default=str, ensure_ascii=False)
                for r in pq.read_table(path).to_pylist()
            ]
        elif path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                values["csv"] += [",".join(row) for row in csv.reader(f)]
        elif path.is_file():
            values["other"].append(path.read_text(encoding="utf-8", errors="replace"))
    return values


async def raw_erasures(settings: Settings, topic: str) -> list[tuple[int, bytes]]:
    """The `ErasureRequested` records in `topic` (told by their CloudEvents type header, not
    decoded), as (partition, value bytes), by partition then offset."""
    from aiokafka import TopicPartition

    from streams.shared.kafka import make_consumer, topic_partitions

    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in await topic_partitions(settings.kafka, topic)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)
        records: list[Any] = []

        async def fetch() -> None:
            while len(records) < sum(ends.values()):
                for batch in (await consumer.getmany(timeout_ms=1000)).values():
                    records.extend(batch)

        await asyncio.wait_for(fetch(), TIMEOUT_S)
    finally:
        await consumer.stop()
    wanted = ("ce_type", b"acolhe.events.ErasureRequested")
    in_order = sorted(records, key=lambda r: (r.partition, r.offset))
    return [(r.partition, r.value) for r in in_order if wanted in list(r.headers or ())]


async def privacy_events(
    settings: Settings, contract: Contract, topic: str
) -> list[tuple[str, dict[str, Any]]]:
    """The erasure's events in `topic`, in the order written (one citizen: one partition)."""
    items = await read_topic(settings.kafka, contract.decode, topic)
    received = [i for i in items if isinstance(i, Received)]
    assert len(received) == len(items)
    return [(i.event.name, i.event.record) for i in sorted(received, key=lambda i: i.offset)]
