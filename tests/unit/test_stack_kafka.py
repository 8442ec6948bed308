"""The local stack's Kafka storage format gets a cluster id the storage tool can parse."""

from __future__ import annotations

import base64
import uuid
from unittest import mock

from streams.stack import kafka


def test_a_cluster_id_never_starts_with_a_dash_so_the_storage_tool_reads_it_as_a_value() -> None:
    # 0xF8: the first six bits are 111110, URL-safe base64's "-" (about 1 draw in 64).
    dashed = uuid.UUID(bytes=b"\xf8" + bytes(15))
    plain = uuid.UUID(bytes=b"\x10" + bytes(15))
    with mock.patch.object(uuid, "uuid4", side_effect=[dashed, plain]):
        cluster_id = kafka.new_cluster_id()
    assert base64.urlsafe_b64encode(dashed.bytes).decode().startswith("-")
    assert cluster_id == base64.urlsafe_b64encode(plain.bytes).rstrip(b"=").decode()
    assert len(cluster_id) == 22
