"""`acolhe export` against the real broker and key store: a day of cases in two areas is
published to fresh topics (with the catalog's copies, a garbage record and an erased
citizen), then a time range of the família cases is exported. The Avro files hold exactly
the expected events with their own schema; pandas and DuckDB read the Parquet and CSV
files; no personal plaintext is in any file without the authorized key, and with it the
citizens' words are there (but not the erased citizen's)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from bench.workloads import T0, office_day
from schemas.container import read_container
from schemas.events import AgentPresenceChanged, CaseTriaged, SlaStarted, TriageAnswer
from streams.export import ExportOptions, ExportReport, UnauthorizedKey, export
from streams.shared.contract import Contract
from streams.shared.events import TopicRoute
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics, make_producer
from streams.shared.keystore import PostgresKeyStore
from streams.shared.settings import ExportSettings, Secret, Settings

CASES = 6  # even cases go to família, odd ones to criminal
ERASED_CASE = 2
SINCE, UNTIL = T0, T0 + timedelta(minutes=30)
TYPES = frozenset(
    {
        "MessageReceived",
        "MessageSent",
        "DeliveryStatusChanged",
        "CaseOpened",
        "CaseTriaged",
        "CaseQueued",
        "SlaStarted",
        "AgentPresenceChanged",
    }
)
COPIED = ("CaseTriaged", "CaseQueued", "CaseAssigned", "CaseClosed")  # also on routing
TIMEOUT_S = 120

Event = tuple[str, dict[str, Any]]


@dataclasses.dataclass
class Log:
    topics: dict[str, str]
    events: list[Event]
    case_of: dict[str, int]  # case_id -> case number
    secret_text: str
    phones: list[str]
    answers: list[str]


@pytest.fixture
async def log(settings: Settings, contract: Contract) -> AsyncIterator[Log]:
    run = uuid.uuid4().hex[:8]
    topics = {
        "acolhe.conversations": f"test.export.conv.{run}",
        "acolhe.routing": f"test.export.routing.{run}",
        "acolhe.sla": f"test.export.sla.{run}",
    }
    await asyncio.wait_for(
        ensure_topics(
            settings.kafka,
            [
                TopicSpec(topics["acolhe.conversations"], 3),
                TopicSpec(topics["acolhe.routing"], 1),
                TopicSpec(topics["acolhe.sla"], 3),
            ],
        ),
        TIMEOUT_S,
    )
    built = _day(run, topics)
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        publisher = contract.publisher(producer, source="/test/export", routes=_routes(topics))
        await asyncio.wait_for(publisher.publish_many(built.events), TIMEOUT_S)
        await producer.send_and_wait(topics["acolhe.conversations"], b"not an event", key=b"x")
    finally:
        await producer.stop()
    yield built
    await delete_topics(settings.kafka, topics.values())


async def test_a_time_range_of_one_area_is_exported_without_personal_plaintext(
    settings: Settings, contract: Contract, key_store: PostgresKeyStore, log: Log, tmp_path: Path
) -> None:
    await key_store.destroy(f"citizen-{ERASED_CASE}")
    expected = _expected(log)
    out = tmp_path / "pseudonymized"

    report = await _export(settings, contract, log, out, formats=("avro", "parquet", "csv"))

    assert report.personal == "pseudonymize"
    assert report.rejected == 1  # the garbage record, left out and counted
    assert {n: t.events for n, t in report.types.items()} == {
        n: len(ids) for n, ids in expected.items()
    }
    assert report.types["AgentPresenceChanged"].events == 0  # no case, no area: filtered out
    for name, ids in expected.items():
        with (out / f"{name}.avro").open("rb") as f:
            container = read_container(f)
            records = list(container.records)
        assert sorted(r["event_id"] for r in records) == sorted(ids), name
        assert container.schema["name"] == f"acolhe.events.{name}"
        assert container.metadata["acolhe.personal"] == "pseudonymize"
        assert len(pd.read_parquet(out / f"{name}.parquet")) == len(ids), name
        db = duckdb.connect()
        for source in (f"read_parquet('{out}/{name}.parquet')", f"read_csv('{out}/{name}.csv')"):
            assert db.execute(f"SELECT count(*) FROM {source}").fetchone() == (len(ids),)
    assert pq.ParquetFile(out / "MessageReceived.parquet").num_row_groups > 1  # chunked
    joined = duckdb.connect().execute(
        f"SELECT count(DISTINCT o.case_id) FROM '{out}/MessageReceived.parquet' m"
        f" JOIN '{out}/CaseOpened.parquet' o USING (contact_id)"
    )
    assert joined.fetchone() == (len(expected["CaseOpened"]),)  # pseudonyms join
    messages = pd.read_parquet(out / "MessageReceived.parquet")
    assert "text" not in messages.columns
    erased = messages[messages["event_id"].str.startswith(f"in-{ERASED_CASE}-")]
    assert erased["contact_address"].isna().all()
    assert messages["contact_address"].notna().sum() == len(messages) - len(erased)
    plaintexts = [
        log.secret_text,
        *log.phones,
        *log.answers,
        *(f"contact-{c}" for c in range(CASES)),
        *(f"citizen-{c}" for c in range(CASES)),
    ]
    _assert_nowhere(out, plaintexts)


async def test_an_authorized_key_exports_personal_fields_in_clear(
    settings: Settings, contract: Contract, key_store: PostgresKeyStore, log: Log, tmp_path: Path
) -> None:
    await key_store.destroy(f"citizen-{ERASED_CASE}")
    key = os.urandom(32)
    allowed = dataclasses.replace(
        settings,
        export=ExportSettings(authorized_key_sha256=(hashlib.sha256(key).hexdigest(),)),
    )
    out = tmp_path / "clear"

    report = await _export(allowed, contract, log, out, formats=("avro", "csv"), key=key)

    assert report.personal == "clear"
    csv = (out / "MessageReceived.csv").read_text(encoding="utf-8")
    assert log.secret_text in csv
    assert log.phones[0] in csv
    assert log.phones[ERASED_CASE] not in csv
    with (out / "CaseTriaged.avro").open("rb") as f:
        triaged = {r["case_id"]: r for r in read_container(f).records}
    answers = {a["answer"] for r in triaged.values() for a in r["answers"]}
    assert answers == {log.answers[0], log.answers[4], None}  # case 2's answer: erased
    with (out / "MessageReceived.avro").open("rb") as f:
        texts = {r["event_id"]: r["text"] for r in read_container(f).records}
    assert texts["in-0-0"] == log.secret_text
    assert texts[f"in-{ERASED_CASE}-0"] is None


async def test_a_key_that_is_not_authorized_exports_nothing(
    settings: Settings, contract: Contract, log: Log, tmp_path: Path
) -> None:
    allowed = dataclasses.replace(
        settings,
        export=ExportSettings(authorized_key_sha256=(hashlib.sha256(os.urandom(32)).hexdigest(),)),
    )
    out = tmp_path / "refused"

    with pytest.raises(UnauthorizedKey):
        await _export(allowed, contract, log, out, formats=("csv",), key=os.urandom(32))

    assert not out.exists()


async def _export(
    settings: Settings,
    contract: Contract,
    log: Log,
    out: Path,
    *,
    formats: tuple[Any, ...],
    key: bytes | None = None,
) -> ExportReport:
    pseudonym = Secret(base64.b64encode(b"p" * 32).decode())
    if settings.export.pseudonym_key is None:
        settings = dataclasses.replace(
            settings, export=dataclasses.replace(settings.export, pseudonym_key=pseudonym)
        )
    options = ExportOptions(
        out_dir=out,
        since=SINCE,
        until=UNTIL,
        event_types=TYPES,
        areas=frozenset({"familia"}),
        formats=formats,
        authorized_key=key,
        topics=tuple(log.topics),
        topic_names=log.topics,
        chunk_rows=7,
    )
    return await asyncio.wait_for(export(settings, contract, options), TIMEOUT_S)


def _day(run: str, topics: dict[str, str]) -> Log:
    """office_day's cases, half moved to the criminal queue, with a triage each, an SLA
    clock each, agents coming online, and personal data that a test can look for."""
    secret = f"SEGREDO {run}: meu companheiro me bateu ontem"
    phones = [f"+55119{int(run, 16) % 10**6:06d}{c:02d}" for c in range(CASES)]
    answers = [f"RESPOSTA {run} do caso {c}" for c in range(CASES)]
    events: list[Event] = []
    case_of: dict[str, int] = {}
    for name, record in office_day(CASES, with_openings=True):
        case = int(str(record["contact_id"]).split("-")[1])
        area, queue = ("familia", "familia-capital") if case % 2 == 0 else ("criminal", "crim-1")
        if "contact_address" in record:
            record["contact_address"] = phones[case]
        if record["event_id"] == "in-0-0":
            record["text"] = secret
        if name == "CaseOpened":
            case_of[record["case_id"]] = case
            events.append((name, record))
            events.append(_sla(record, queue))
            continue
        if name == "CaseQueued":
            events.append(_triaged(record, case, area, answers[case]))
            record.update(area=area, queue_id=queue)
        if name == "CaseAssigned":
            record["queue_id"] = queue
        events.append((name, record))
    for k in range(3):
        online = AgentPresenceChanged(
            event_id=f"on-{run}-{k}",
            occurred_at=T0 + timedelta(minutes=k),
            correlation_id=f"on-{run}-{k}",
            agent_id=f"agent-{k}",
            presence="available",
            changed_at=T0 + timedelta(minutes=k),
        )
        events.append((online.NAME, online.to_record()))
    return Log(topics, events, case_of, secret, phones, answers)


def _triaged(queued: dict[str, Any], case: int, area: str, answer: str) -> Event:
    triaged = CaseTriaged(
        event_id=f"t-{case}",
        occurred_at=queued["occurred_at"] - timedelta(seconds=1),
        correlation_id=queued["correlation_id"],
        subject_id=f"citizen-{case}",
        case_id=queued["case_id"],
        area=area,  # type: ignore[arg-type]
        priority=queued["priority"],
        answers=(TriageAnswer(question_id="q-problem", answer=answer),),
        rules_version="2026.11.1",
        contact_id=queued["contact_id"],
    )
    return triaged.NAME, triaged.to_record()


def _sla(opened: dict[str, Any], queue: str) -> Event:
    started = SlaStarted(
        event_id=f"sla-{opened['case_id']}",
        occurred_at=opened["occurred_at"],
        correlation_id=opened["correlation_id"],
        case_id=opened["case_id"],
        clock_id=f"clock-{opened['case_id']}",
        queue_id=queue,
        metric="first_response",
        priority="normal",
        policy_id="default",
        policy_version=1,
        target_ms=3_600_000,
        elapsed_ms=0,
        deadline_at=opened["occurred_at"] + timedelta(hours=1),
    )
    return started.NAME, started.to_record()


def _routes(topics: dict[str, str]) -> dict[str, TopicRoute]:
    conversations, routing = topics["acolhe.conversations"], topics["acolhe.routing"]
    routes = {
        name: TopicRoute(conversations, "contact_id", (routing,) if name in COPIED else ())
        for name in (
            "MessageReceived",
            "MessageSent",
            "DeliveryStatusChanged",
            "CaseOpened",
            *COPIED,
        )
    }
    routes["AgentPresenceChanged"] = TopicRoute(routing, "agent_id")
    routes["SlaStarted"] = TopicRoute(topics["acolhe.sla"], "case_id")
    return routes


def _expected(log: Log) -> dict[str, list[str]]:
    """The event ids the export must hold, by type: in the range, of a família case."""
    out: dict[str, list[str]] = {name: [] for name in TYPES}
    for name, record in log.events:
        if name not in TYPES or not SINCE <= record["occurred_at"] < UNTIL:
            continue
        contact = record.get("contact_id")
        case = (
            int(str(contact).split("-")[1])
            if isinstance(contact, str)
            else log.case_of.get(str(record.get("case_id")))
        )
        if case is not None and case % 2 == 0:
            out[name].append(record["event_id"])
    return out


def _assert_nowhere(out: Path, plaintexts: list[str]) -> None:
    """None of `plaintexts` in any file: in its bytes, nor once decompressed and decoded."""
    files = sorted(out.iterdir())
    assert files
    for path in files:
        contents = [path.read_bytes().decode("utf-8", "replace")]
        if path.suffix == ".avro":
            with path.open("rb") as f:
                contents.append(repr(list(read_container(f).records)))
        if path.suffix == ".parquet":
            contents.append(repr(pq.read_table(path).to_pylist()))
        for content in contents:
            for plaintext in plaintexts:
                assert plaintext not in content, (path.name, plaintext)
