"""`block` and `unblock`: a citizen's personal data blocked (bloqueio, LGPD art. 5 XIII and
art. 18 IV) or unblocked, the shell. `acolhe block` and `acolhe unblock` run them
(streams/cli/privacy.py).

Steps, in this order (correctness depends on it):
1. check the request (`blocks.request`): a malformed citizen id, basis, reference or agent
   refuses it before anything is read or written;
2. read the citizen's standing from acolhe.privacy, the record of every erasure, block and
   unblock (`read_privacy`, to each partition's end as of now), and decide
   (`blocks.decide`): unblocking a citizen who is not blocked, blocking one already
   blocked or erased, or a protocol number already used and superseded, is refused before
   anything is written. The log, not the read model, is read: it is the record, and a read
   model may lag behind it or be rebuilding;
3. publish the event to acolhe.privacy and wait for the broker's acknowledgement
   (acks=all): the block is on the record before any reader applies it;
4. write the same event (same bytes, same id) into every partition of
   acolhe.conversations and wait for every acknowledgement, as `acolhe erase` does its
   request: the case projection applies it in order with the rows it writes
   (streams.projections.blocking). After the record, so that no copy is in the contacts'
   stream without it.
A crash between steps is repaired by running the same command again: the decision hands
back the event already recorded (same id, same time), which is published again (readers
drop the duplicate) and copied again.

Depends on Kafka only; the rules are `streams.privacy.blocks`'.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from schemas.events import CitizenBlocked, CitizenUnblocked, ErasureRequested
from streams.privacy import blocks
from streams.privacy.blocks import BlockReport
from streams.privacy.domain import SOURCE
from streams.privacy.erasure import (
    CONVERSATIONS_TOPIC,
    PRIVACY_TOPIC,
    declare_topics,
    record_and_copy,
)
from streams.shared.contract import Contract
from streams.shared.errors import BadInput, RetriableInfrastructureError
from streams.shared.events import TopicRoute
from streams.shared.kafka import (
    make_consumer,
    make_producer,
    read_to_ends,
    topic_partitions,
)
from streams.shared.settings import KafkaSettings, Settings

PRIVACY_FACTS: Final = frozenset(
    {ErasureRequested.NAME, CitizenBlocked.NAME, CitizenUnblocked.NAME}
)
READ_TIMEOUT_S: Final = 60.0


async def block(
    settings: Settings,
    contract: Contract,
    citizen_id: str,
    *,
    legal_basis: str = "data_subject_request",
    reference: str,
    requested_by: str | None = None,
    topic: str = PRIVACY_TOPIC,
    conversations: str = CONVERSATIONS_TOPIC,
) -> BlockReport:
    """Block the citizen (steps in the module's docstring). `topic` and `conversations`:
    acolhe.privacy and acolhe.conversations (other topics for tests)."""
    req = blocks.request(
        "block", citizen_id, legal_basis=legal_basis, reference=reference, requested_by=requested_by
    )
    return await _record(settings, contract, req, topic=topic, conversations=conversations)


async def unblock(
    settings: Settings,
    contract: Contract,
    citizen_id: str,
    *,
    legal_basis: str = "data_subject_request",
    reference: str,
    requested_by: str | None = None,
    topic: str = PRIVACY_TOPIC,
    conversations: str = CONVERSATIONS_TOPIC,
) -> BlockReport:
    """Lift the citizen's block (steps in the module's docstring)."""
    req = blocks.request(
        "unblock",
        citizen_id,
        legal_basis=legal_basis,
        reference=reference,
        requested_by=requested_by,
    )
    return await _record(settings, contract, req, topic=topic, conversations=conversations)


async def _record(
    settings: Settings,
    contract: Contract,
    req: blocks.Request,
    *,
    topic: str,
    conversations: str,
) -> BlockReport:
    kind = req.kind
    try:
        partitions = await declare_topics(settings, topic, conversations)
        standing = blocks.standings(await read_privacy(settings.kafka, contract, topic)).get(
            req.citizen_id, blocks.Standing(req.citizen_id)
        )
        decision = blocks.decide(req, standing, now=datetime.now(UTC))
        producer = make_producer(settings.kafka)
        try:
            await producer.start()
            publisher = contract.publisher(
                producer,
                source=SOURCE,
                routes={
                    name: TopicRoute(topic, "citizen_id")
                    for name in (CitizenBlocked.NAME, CitizenUnblocked.NAME)
                },
            )
            await record_and_copy(publisher, decision.event, conversations, partitions)
        finally:
            await producer.stop()
    except (KafkaError, RetriableInfrastructureError) as exc:
        raise RetriableInfrastructureError(
            f"Kafka failed during the {kind} of {req.citizen_id}: {exc}; is it running at "
            f"{settings.kafka.bootstrap_servers}? (`acolhe stack status`); then run the same "
            "command again (it records nothing twice)"
        ) from exc
    return BlockReport(decision, topic, conversations, len(partitions))


async def read_privacy(kafka: KafkaSettings, contract: Contract, topic: str) -> list[Any]:
    """acolhe.privacy's erasures, blocks and unblocks, up to each partition's end as of now,
    in log order within each partition (a citizen's are all in one: the topic is keyed by
    citizen). A topic that does not exist yet holds none. Other records (ErasureCompleted,
    records that are not events) are skipped."""
    try:
        numbers = await topic_partitions(kafka, topic)
    except BadInput:
        return []
    consumer = make_consumer(kafka, group_id=None)
    try:
        await consumer.start()
        parts = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            await consumer.seek_to_beginning(tp)
        by_partition: dict[int, list[Any]] = {tp.partition: [] for tp in parts}
        for tp, records in await read_to_ends(consumer, ends, topic, timeout_s=READ_TIMEOUT_S):
            by_partition[tp.partition] += records
    finally:
        await consumer.stop()
    out: list[Any] = []
    for partition in sorted(by_partition):
        events, _ = await contract.read(by_partition[partition], PRIVACY_FACTS)
        out += [event for _, event in events]
    return out
