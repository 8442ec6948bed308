"""Records keep landing where Kafka's default partitioner puts them: one partition per
contact, the same one the Java client and every other producer would choose."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.shared.kafka import KeyPartitioner


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=50), st.integers(1, 64))
def test_the_partition_of_a_key_is_kafkas_default_one(keys: list[bytes], count: int) -> None:
    partitions = list(range(count))
    remembering = KeyPartitioner(remember=8)

    for key in keys + keys:  # the second round hits what was remembered, or re-hashes
        assert remembering(key, partitions, partitions) == DefaultPartitioner()(
            key, partitions, partitions
        )


def test_known_partitions_of_the_java_client() -> None:
    # Values from Kafka's own Utils.murmur2 test vectors, as partitions of 1000.
    partitioner = KeyPartitioner()
    partitions = list(range(1000))

    assert partitioner(b"21", partitions, partitions) == (-973932308 & 0x7FFFFFFF) % 1000
    assert partitioner(b"foobar", partitions, partitions) == (-790332482 & 0x7FFFFFFF) % 1000
