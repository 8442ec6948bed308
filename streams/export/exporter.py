"""`export`: read a time range of the log from Kafka into files, personal data protected.

Steps, in order:
1. check the options (`plan.resolve`); with an authorized key, check it against the
   settings;
2. unless blocked citizens are included (`include_blocked`, with the authorized key), read
   acolhe.privacy to its end: the citizens blocked now. A citizen asked for by id
   (`citizens`) who is blocked refuses the export (`scope.refuse_blocked`);
3. check the output folder. A refusal, here or above, writes nothing;
4. take the log's extent: the first and the end offset of every partition to read, once.
   Every pass stops at these ends, so an export never waits for new records and sees one
   consistent log, however busy the topics are;
5. pass 1, when something must be learnt first: read the conversations topic from the
   start, decoding only what teaches: the CaseOpened of the blocked citizens and of the
   citizens asked for, to learn their contacts and cases (`scope.CitizenScope`), and with a
   queue or area filter the case facts, to learn which cases the filter keeps (`CaseIndex`);
6. pass 2: read each topic, partition after partition, from the start. Peek at every
   record (type and time, without decoding); decode only the events the export holds
   (their type asked for, read from their source topic, `occurred_at` in the range) and,
   with a filter, the case facts that tell each contact's current case; keep the events
   about the citizens asked for (if any), that are no blocked citizen's and that the
   queue and area filters keep; load the data keys their personal fields need, in one
   query a batch; redact them (`privacy.redact`) and hand them to the files of their type;
7. close the files (each renamed from `.partial` once whole), write `manifest.json`, and
   report. On a failure, the partial files are removed.

Kafka is read with a plain consumer, partitions assigned by hand: no consumer group, no
committed offsets, nothing changed in the cluster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from schemas.catalog import BY_NAME
from schemas.registered import learn_ids
from schemas.registry import FramingError, parse_confluent
from streams.export.files import TypeFiles, prepare_out_dir, write_manifest
from streams.export.filters import CASE_FACTS, CONTACT_FACTS, CaseIndex, Conversations
from streams.export.plan import (
    ExportOptions,
    ExportReport,
    Resolved,
    TypeReport,
    kafka_topic,
    resolve,
)
from streams.export.privacy import (
    Policy,
    Redaction,
    check_authorized_key,
    make_pseudonym,
    redact,
    redaction_for,
)
from streams.export.scope import LEARNS_FROM, CitizenScope, refuse_blocked
from streams.privacy import blocks
from streams.privacy.blocking import read_privacy
from streams.shared.contract import Contract
from streams.shared.errors import BadInput, RetriableInfrastructureError
from streams.shared.kafka import make_consumer, topic_partitions
from streams.shared.settings import Settings

log = logging.getLogger(__name__)
CASE_TOPIC: Final = BY_NAME["CaseOpened"].topic  # where the case facts live
PRIVACY_TOPIC: Final = BY_NAME["CitizenBlocked"].topic  # where blocks are recorded
MAX_RECORDS: Final = 5000
STALL_S: Final = 60.0  # a partition that gives nothing for this long, short of its end, fails

Extent = dict[TopicPartition, tuple[int, int]]  # partition -> (first offset, end offset)
Learner = tuple[frozenset[str], Callable[[str, Mapping[str, Any]], None]]  # what it learns from


async def export(settings: Settings, contract: Contract, options: ExportOptions) -> ExportReport:
    """Export the events `options` asks for into files in `options.out_dir` (see above)."""
    began = time.monotonic()
    resolved = resolve(options)
    policy: Policy = "clear" if options.authorized_key is not None else options.personal
    if options.authorized_key is not None:
        check_authorized_key(options.authorized_key, settings.export.authorized_key_sha256)
    blocked = await _blocked(settings, contract, options)
    if blocked is not None:
        refuse_blocked(options.citizens, blocked.citizens)
    prepare_out_dir(options.out_dir, force=options.force)
    pseudonym = make_pseudonym(settings.pseudonym_key()) if policy == "pseudonymize" else None
    redactions = {
        name: redaction_for(contract.codec.schemas.current(name).raw, policy)
        for name in resolved.types
    }
    consumer = make_consumer(
        settings.kafka,
        group_id=None,
        max_poll_records=MAX_RECORDS,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise RetriableInfrastructureError(
            f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: {exc!r}; is it running? "
            "(`acolhe stack status`)"
        ) from exc
    files = {
        name: TypeFiles(
            options.out_dir, redactions[name], options.formats, chunk_rows=options.chunk_rows
        )
        for name in resolved.types
    }
    try:
        topics = resolved.topics()
        hiding = blocked if blocked is not None and blocked.citizens else None
        chosen = CitizenScope(options.citizens) if options.citizens else None
        index = CaseIndex(options.queues, options.areas) if options.filters_cases else None
        learners: list[Learner] = [
            (LEARNS_FROM, s.learn) for s in (hiding, chosen) if s is not None
        ]
        if index is not None:
            learners.append((CASE_FACTS, index.learn))
        read = (*topics, CASE_TOPIC) if learners else topics
        extent, missing = await _extent(consumer, settings, options, read)
        if learners:
            await _learn(consumer, contract, options, extent, learners)
        if index is not None:
            index.settle()
        run = _Pass(
            contract,
            resolved=resolved,
            redactions=redactions,
            files=files,
            index=index,
            pseudonym=pseudonym,
            blocked=hiding,
            chosen=chosen,
        )
        for topic in topics:
            await run.topic(consumer, topic, kafka_topic(options, topic), extent)
        written = {
            name: TypeReport(f.events, f.close())
            for name, f in files.items()
            if f.events or resolved.explicit
        }
    except BaseException:
        for f in files.values():
            f.abort()
        raise
    finally:
        await consumer.stop()
    report = ExportReport(
        out_dir=options.out_dir,
        personal=policy,
        types=written,
        records_read=run.read,
        rejected=run.rejected,
        missing_topics=missing,
        seconds=time.monotonic() - began,
        manifest=options.out_dir / "manifest.json",
        blocked_citizens=len(blocked.citizens) if blocked is not None else 0,
        blocked_left_out=run.blocked_left_out,
        citizens=len(options.citizens or ()),
    )
    write_manifest(options.out_dir, _manifest(options, resolved, report, extent, redactions))
    return report


class _Pass:
    """Pass 2: the records of each topic into the files of their type."""

    def __init__(
        self,
        contract: Contract,
        *,
        resolved: Resolved,
        redactions: Mapping[str, Redaction],
        files: Mapping[str, TypeFiles],
        index: CaseIndex | None,
        pseudonym: Callable[[str], str] | None,
        blocked: CitizenScope | None = None,
        chosen: CitizenScope | None = None,
    ) -> None:
        self.contract = contract
        self.blocked = blocked
        self.chosen = chosen
        self.blocked_left_out = 0
        self.codec = contract.codec
        self.resolved = resolved
        self.redactions = redactions
        self.files = files
        self.index = index
        self.conversations = Conversations(index) if index is not None else None
        self.pseudonym = pseudonym
        self.read = 0
        self.rejected = 0

    async def topic(self, consumer: Any, topic: str, name: str, extent: Extent) -> None:
        follows = self.conversations is not None and topic == CASE_TOPIC
        for tp in sorted((tp for tp in extent if tp.topic == name), key=lambda tp: tp.partition):
            async for records in _scan(consumer, self.contract, tp, extent[tp]):
                kept = self._keep(topic, records, follows=follows)
                if kept:
                    await self._write(kept)
            _forget_keys(self.contract)

    def _keep(self, topic: str, records: list[Any], *, follows: bool) -> list[tuple[str, Any]]:
        """The events of a batch that the export holds, decoded, in log order."""
        since, until = self.resolved.since_us, self.resolved.until_us
        sources = self.resolved.sources
        kept = []
        for m in records:
            self.read += 1
            try:
                writer = self.codec.writer_of(m.value)
                peeked = self.codec.peek(m.value, writer)
            except BadInput:
                self.rejected += 1
                continue
            name = peeked.name
            wanted = (
                sources.get(name) == topic
                and (since is None or peeked.occurred_at_us >= since)
                and (until is None or peeked.occurred_at_us < until)
            )
            follow = follows and name in CONTACT_FACTS
            if not (wanted or follow):
                continue
            try:
                record = self.codec.decode(m.value, writer=writer).record
            except BadInput:
                if wanted:
                    self.rejected += 1
                continue
            if follow and self.conversations is not None:
                self.conversations.follow(name, record)
            if not wanted:
                continue
            if self.chosen is not None and not self.chosen.is_about(record):
                continue
            if self.blocked is not None and self.blocked.is_about(record):
                self.blocked_left_out += 1
                continue
            if self.index is not None and self.conversations is not None:
                case_id = self.conversations.case_of(name, record)
                if not self.index.keeps(name, record, case_id):
                    continue
            kept.append((name, record))
        return kept

    async def _write(self, kept: list[tuple[str, Any]]) -> None:
        keys = self.contract.keys
        subjects = {
            str(r["subject_id"])
            for n, r in kept
            if self.redactions[n].opens_sealed and r.get("subject_id")
        }
        if subjects:
            await keys.load(subjects)
        for name, record in kept:
            redaction = self.redactions[name]
            subject = record.get("subject_id")
            key = keys.decryption_key(subject) if redaction.opens_sealed and subject else None
            try:
                out = redact(record, redaction, pseudonym=self.pseudonym, key=key)
            except BadInput as exc:  # a sealed field that fails authentication
                log.warning("left out of the export: %s %s: %s", name, record.get("event_id"), exc)
                self.rejected += 1
                continue
            self.files[name].add(out)


async def _extent(
    consumer: Any, settings: Settings, options: ExportOptions, topics: tuple[str, ...]
) -> tuple[Extent, tuple[str, ...]]:
    """The first and end offsets of every partition of `topics` now, and the missing topics."""
    parts: list[TopicPartition] = []
    missing: list[str] = []
    for topic in dict.fromkeys(topics):
        name = kafka_topic(options, topic)
        try:
            numbers = await topic_partitions(settings.kafka, name)
        except BadInput:
            missing.append(name)
            continue
        parts.extend(TopicPartition(name, p) for p in numbers)
    if not parts:
        return {}, tuple(missing)
    try:
        first = await consumer.beginning_offsets(parts)
        end = await consumer.end_offsets(parts)
    except KafkaError as exc:
        raise RetriableInfrastructureError(f"cannot read the log's offsets: {exc!r}") from exc
    return {tp: (first[tp], end[tp]) for tp in parts}, tuple(missing)


async def _blocked(
    settings: Settings, contract: Contract, options: ExportOptions
) -> CitizenScope | None:
    """The citizens blocked as acolhe.privacy says when the export starts; None when the
    export includes them (`include_blocked`, checked to come with the authorized key)."""
    if options.include_blocked:
        return None
    try:
        events = await read_privacy(settings.kafka, contract, kafka_topic(options, PRIVACY_TOPIC))
    except KafkaError as exc:
        raise RetriableInfrastructureError(
            f"cannot read who is blocked from {PRIVACY_TOPIC}: {exc!r}; is Kafka running? "
            "(`acolhe stack status`)"
        ) from exc
    return CitizenScope(blocks.blocked_citizens(events))


async def _learn(
    consumer: Any,
    contract: Contract,
    options: ExportOptions,
    extent: Extent,
    learners: list[Learner],
) -> None:
    """Pass 1: the conversations topic from the start, each event that teaches one of the
    `learners` decoded once and handed to every learner it teaches."""
    name = kafka_topic(options, CASE_TOPIC)
    codec = contract.codec
    teaches = frozenset().union(*(names for names, _ in learners))
    for tp in sorted((tp for tp in extent if tp.topic == name), key=lambda tp: tp.partition):
        async for records in _scan(consumer, contract, tp, extent[tp]):
            for m in records:
                try:
                    peeked = codec.peek(m.value)
                    if peeked.name not in teaches:
                        continue
                    record = codec.decode(m.value).record
                except BadInput:
                    continue  # pass 2 counts it, if the export wanted it
                for names, learn in learners:
                    if peeked.name in names:
                        learn(peeked.name, record)


async def _scan(
    consumer: Any, contract: Contract, tp: TopicPartition, bounds: tuple[int, int]
) -> AsyncIterator[list[Any]]:
    """The records of one partition from `first` up to (not including) `end`, in batches."""
    first, end = bounds
    if first >= end:
        return
    consumer.assign([tp])
    consumer.seek(tp, first)
    position, progressed = first, time.monotonic()
    while position < end:
        try:
            batches = await consumer.getmany(tp, timeout_ms=1000, max_records=MAX_RECORDS)
        except KafkaError as exc:
            raise RetriableInfrastructureError(
                f"reading {tp.topic}[{tp.partition}]: {exc!r}"
            ) from exc
        records = [m for m in batches.get(tp, ()) if m.offset < end]
        if records:
            await _learn_ids(contract, records)
            yield records
        now = await consumer.position(tp)
        if now > position:
            position, progressed = now, time.monotonic()
        elif time.monotonic() - progressed > STALL_S:
            raise RetriableInfrastructureError(
                f"{tp.topic}[{tp.partition}] gave nothing for {STALL_S:.0f} s at offset "
                f"{position}, short of its end {end}: is the broker healthy? "
                "(`acolhe stack status`)"
            )


async def _learn_ids(contract: Contract, records: list[Any]) -> None:
    """With schema-registry framing, learn the schema ids not seen yet (as Contract.decode)."""
    if contract.registry is None:
        return
    unseen = set()
    for m in records:
        try:
            schema_id, _ = parse_confluent(m.value)
        except FramingError:
            continue
        if not contract.codec.knows_id(schema_id):
            unseen.add(schema_id)
    for schema_id in sorted(unseen):
        try:
            await learn_ids(contract.codec, contract.registry, [schema_id])
        except BadInput:
            continue  # not an acolhe schema: its records are counted as rejected


def _forget_keys(contract: Contract) -> None:
    """Drop the data keys held in memory (a citizen's events live in one partition)."""
    forget = getattr(contract.keys, "forget", None)
    if callable(forget):
        forget()


def _manifest(
    options: ExportOptions,
    resolved: Resolved,
    report: ExportReport,
    extent: Extent,
    redactions: Mapping[str, Redaction],
) -> dict[str, Any]:
    offsets: dict[str, dict[str, list[int]]] = {}
    for tp, (first, end) in sorted(extent.items(), key=lambda i: (i[0].topic, i[0].partition)):
        offsets.setdefault(tp.topic, {})[str(tp.partition)] = [first, end]
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "since": options.since.isoformat() if options.since else None,
        "until": options.until.isoformat() if options.until else None,
        "event_types": sorted(options.event_types) if options.event_types else None,
        "queues": sorted(options.queues) if options.queues is not None else None,
        "areas": sorted(options.areas) if options.areas is not None else None,
        "personal": report.personal,
        "formats": list(options.formats),
        "topics": {t: kafka_topic(options, t) for t in resolved.topics()},
        "offsets": offsets,
        "events": {n: t.events for n, t in sorted(report.types.items())},
        "files": {n: [p.name for p in t.files] for n, t in sorted(report.types.items())},
        "schema_versions": {
            n: int(redactions[n].schema.get("acolhe.version", 1)) for n in sorted(report.types)
        },
        "rejected": report.rejected,
        "missing_topics": list(report.missing_topics),
        "citizens": {"count": report.citizens} if options.citizens else None,
        "blocked": {
            "included": options.include_blocked,
            "citizens": report.blocked_citizens,
            "events_left_out": report.blocked_left_out,
        },
    }
