"""`acolhe export --citizen` against the real broker and key store: two citizens' histories
(their messages both ways, case, a delivery status naming only their contact, an SLA clock
naming only their case) are published to fresh topics, then one citizen's data is exported,
as for a data subject's access request (LGPD art. 18 II and V). The Avro, CSV and Parquet
files hold that citizen's events only: pseudonymized without the authorized key (neither
citizen's words nor ids in clear, the manifest counting the citizen without naming them),
their own words in clear with it. A blocked citizen is refused unless blocked citizens are
included, with the key."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

from schemas.container import read_container
from schemas.events import DeliveryStatusChanged, SlaStarted
from streams.export import ExportOptions, ExportReport, export
from streams.export.privacy import make_pseudonym
from streams.export.scope import BlockedCitizenAsked
from streams.privacy.blocking import block
from streams.shared.contract import Contract
from streams.shared.kafka import TopicSpec, delete_topics, ensure_topics
from streams.shared.settings import ExportSettings, Secret, Settings
from tests.integration.projecting import publish
from tests.integration.test_erasure import T0, Citizen
from tests.integration.test_export import _assert_nowhere

PARTITIONS = 3
TIMEOUT_S = 120
PSEUDONYM_KEY = b"p" * 32


@dataclasses.dataclass
class Office:
    topics: dict[str, str]  # catalog topic -> this test's topic
    settings: Settings  # with a pseudonym key and an authorized key
    key: bytes  # the authorized key
    x: Citizen  # the citizen who asks for their data
    y: Citizen  # another citizen
    ids: dict[str, set[str]]  # citizen id -> the event ids of their history


def history(c: Citizen) -> tuple[list[Any], list[Any]]:
    """The citizen's conversation, a delivery status naming only their contact (for the
    conversations topic) and an SLA clock naming only their case (for the SLA topic)."""
    status = DeliveryStatusChanged(
        event_id=f"status-{c.contact_id}",
        occurred_at=T0 + timedelta(minutes=31),
        correlation_id=f"sent-{c.contact_id}",
        channel="email",
        contact_id=c.contact_id,
        message_id=f"out-{c.contact_id}",
        provider_message_id=f"msgid-out-{c.contact_id}@mail.example.org",
        status="delivered",
        status_at=T0 + timedelta(minutes=31),
    )
    clock = SlaStarted(
        event_id=f"sla-{c.case_id}",
        occurred_at=T0,
        correlation_id=c.first_message_id,
        case_id=c.case_id,
        clock_id=f"clock-{c.case_id}",
        queue_id="familia-capital",
        metric="first_response",
        priority="normal",
        policy_id="default",
        policy_version=1,
        target_ms=3_600_000,
        elapsed_ms=0,
        deadline_at=T0 + timedelta(hours=1),
    )
    return [*c.conversation(), status], [clock]


@pytest.fixture
async def office(settings: Settings, contract: Contract) -> AsyncIterator[Office]:
    run = uuid.uuid4().hex[:8]
    topics = {
        "acolhe.conversations": f"test.export.citizen.conv.{run}",
        "acolhe.sla": f"test.export.citizen.sla.{run}",
        "acolhe.privacy": f"test.export.citizen.privacy.{run}",  # made by a block, if any
    }
    await ensure_topics(
        settings.kafka,
        [TopicSpec(topics["acolhe.conversations"], PARTITIONS), TopicSpec(topics["acolhe.sla"], 1)],
    )
    x, y = Citizen.new("x"), Citizen.new("y")
    ids: dict[str, set[str]] = {}
    for c in (x, y):
        conversation, clocks = history(c)
        await publish(settings, contract, topics["acolhe.conversations"], conversation)
        await publish(settings, contract, topics["acolhe.sla"], clocks, key="case_id")
        ids[c.subject_id] = {e.event_id for e in (*conversation, *clocks)}
    key = os.urandom(32)
    allowed = dataclasses.replace(
        settings,
        export=ExportSettings(
            authorized_key_sha256=(hashlib.sha256(key).hexdigest(),),
            pseudonym_key=Secret(base64.b64encode(PSEUDONYM_KEY).decode()),
        ),
    )
    yield Office(topics, allowed, key, x, y, ids)
    await delete_topics(settings.kafka, topics.values())


async def exported(
    office: Office, contract: Contract, out: Path, citizen: Citizen, **kw: Any
) -> ExportReport:
    options = ExportOptions(
        out_dir=out,
        citizens=frozenset({citizen.subject_id}),
        formats=("avro", "csv", "parquet"),
        topics=("acolhe.conversations", "acolhe.sla"),
        topic_names=office.topics,
        **kw,
    )
    return await asyncio.wait_for(export(office.settings, contract, options), TIMEOUT_S)


def avro_records(out: Path, report: ExportReport) -> dict[str, dict[str, Any]]:
    """Every exported record, by event id, from the Avro files."""
    found: dict[str, dict[str, Any]] = {}
    for name in report.types:
        with (out / f"{name}.avro").open("rb") as f:
            found |= {r["event_id"]: r for r in read_container(f).records}
    return found


def tabular_ids(out: Path, report: ExportReport) -> tuple[set[str], set[str]]:
    """The event ids of the CSV files, and of the Parquet files."""
    csv = {i for n in report.types for i in pd.read_csv(out / f"{n}.csv")["event_id"]}
    parquet = {i for n in report.types for i in pd.read_parquet(out / f"{n}.parquet")["event_id"]}
    return csv, parquet


async def test_one_citizens_export_holds_their_events_only_pseudonymized_without_the_key(
    office: Office, contract: Contract, tmp_path: Path
) -> None:
    x, y = office.x, office.y
    out = tmp_path / "request-x"

    report = await exported(office, contract, out, x)

    records = avro_records(out, report)
    assert set(records) == office.ids[x.subject_id]  # the contact's status, the case's clock too
    assert tabular_ids(out, report) == (office.ids[x.subject_id], office.ids[x.subject_id])
    assert report.personal == "pseudonymize"
    assert report.citizens == 1
    pseudonym = make_pseudonym(PSEUDONYM_KEY)
    assert records[x.first_message_id]["subject_id"] == pseudonym(x.subject_id)
    assert "text" not in records[x.first_message_id]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["citizens"] == {"count": 1}
    _assert_nowhere(out, [x.subject_id, x.marker, y.subject_id, y.contact_id, y.marker])


async def test_with_the_authorized_key_the_citizens_own_words_are_in_clear(
    office: Office, contract: Contract, tmp_path: Path
) -> None:
    x, y = office.x, office.y
    out = tmp_path / "request-x-clear"

    report = await exported(office, contract, out, x, authorized_key=office.key)

    records = avro_records(out, report)
    assert set(records) == office.ids[x.subject_id]
    assert tabular_ids(out, report) == (office.ids[x.subject_id], office.ids[x.subject_id])
    assert report.personal == "clear"
    assert records[x.first_message_id]["subject_id"] == x.subject_id
    assert x.marker in records[x.first_message_id]["text"]
    assert x.marker in (out / "MessageReceived.csv").read_text(encoding="utf-8")
    assert x.marker in (out / "MessageSent.csv").read_text(encoding="utf-8")
    manifest = (out / "manifest.json").read_text()
    assert json.loads(manifest)["citizens"] == {"count": 1}
    assert x.subject_id not in manifest
    _assert_nowhere(out, [y.subject_id, y.contact_id, y.marker])


async def test_a_blocked_citizen_is_exported_only_with_the_blocked_included(
    office: Office, contract: Contract, tmp_path: Path
) -> None:
    x, y = office.x, office.y
    await block(
        office.settings, contract, x.subject_id, reference="PROT-ART18-X",
        topic=office.topics["acolhe.privacy"], conversations=office.topics["acolhe.conversations"],
    )  # fmt: skip
    refused = tmp_path / "refused"

    with pytest.raises(BlockedCitizenAsked, match=f"{x.subject_id} is blocked"):
        await exported(office, contract, refused, x, authorized_key=office.key)
    assert not refused.exists()

    out = tmp_path / "included"
    report = await exported(
        office, contract, out, x, authorized_key=office.key, include_blocked=True
    )
    assert set(avro_records(out, report)) == office.ids[x.subject_id]

    other = tmp_path / "other"  # another citizen's request is not held up by the block
    report = await exported(office, contract, other, y)
    assert set(avro_records(other, report)) == office.ids[y.subject_id]
    assert report.blocked_citizens == 1
    assert report.blocked_left_out == 0
