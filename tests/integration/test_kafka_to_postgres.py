"""Given the real broker and database, records published once arrive in Postgres exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from streams.shared.kafka import make_consumer
from streams.shared.settings import Settings
from streams.stack import smoke

RECORDS = 10_000
KEYS = 250


async def test_ten_thousand_keyed_records_arrive_once_and_in_order_per_key(
    settings: Settings, topic: str, pg: Any, pg_schema: str
) -> None:
    await smoke.prepare(pg, pg_schema)

    await smoke.publish(settings.kafka, topic, records=RECORDS, keys=KEYS)
    await smoke.consume_into_postgres(settings.kafka, pg, topic, pg_schema, expected=RECORDS)

    check = await smoke.verify(pg, pg_schema)
    assert check.rows == RECORDS
    assert check.distinct_records == RECORDS
    assert check.duplicated == 0
    assert check.out_of_order_keys == 0
    # One key always lands on one partition: that is what keeps a contact's messages in order.
    spread = await pg.fetchval(
        f"SELECT max(n) FROM (SELECT count(DISTINCT kafka_partition) AS n "
        f'FROM "{pg_schema}".smoke_records GROUP BY key) k'
    )
    assert spread == 1


async def test_idempotent_producer_wrote_each_record_once_to_the_log(
    settings: Settings, topic: str
) -> None:
    await smoke.publish(settings.kafka, topic, records=2_000, keys=40)

    consumer = make_consumer(settings.kafka, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(6)]
        consumer.assign(parts)
        end = await consumer.end_offsets(parts)
        assert sum(end.values()) == 2_000
    finally:
        await consumer.stop()


async def test_a_restarted_consumer_resumes_from_offsets_stored_with_the_rows(
    settings: Settings, topic: str, pg: Any, pg_schema: str
) -> None:
    await smoke.prepare(pg, pg_schema)
    await smoke.publish(settings.kafka, topic, records=RECORDS, keys=KEYS)

    # The first run stops once some rows are in, as if the process were killed between batches.
    await smoke.consume_into_postgres(settings.kafka, pg, topic, pg_schema, expected=1)
    partial = await pg.fetchval(f'SELECT count(*) FROM "{pg_schema}".smoke_records')
    assert 0 < partial < RECORDS

    await smoke.consume_into_postgres(settings.kafka, pg, topic, pg_schema, expected=RECORDS)

    check = await smoke.verify(pg, pg_schema)
    assert check.holds(RECORDS), check


@pytest.mark.parametrize("records", [1, 7])
async def test_tiny_flows_also_arrive_exactly_once(
    settings: Settings, topic: str, pg: Any, pg_schema: str, records: int
) -> None:
    await smoke.prepare(pg, pg_schema)
    await smoke.publish(settings.kafka, topic, records=records, keys=3)
    await smoke.consume_into_postgres(settings.kafka, pg, topic, pg_schema, expected=records)
    assert (await smoke.verify(pg, pg_schema)).holds(records)
