from __future__ import annotations

import logging

import orjson

from streams.shared.logs import JsonFormatter


def test_json_lines_carry_the_event_coordinates() -> None:
    record = logging.LogRecord(
        "streams.x", logging.WARNING, __file__, 1, "dropped %s", ("dup",), None
    )
    record.event_id = "wamid.abc"
    record.topic, record.partition, record.offset = "acolhe.messages", 3, 1234

    line = orjson.loads(JsonFormatter().format(record))

    assert line["message"] == "dropped dup"
    assert line["level"] == "warning"
    assert (line["event_id"], line["topic"], line["partition"], line["offset"]) == (
        "wamid.abc",
        "acolhe.messages",
        3,
        1234,
    )
