"""An SMTP DATA body read in chunks (`smtp_data.read_data`) is what the line-by-line
reading of RFC 5321 gives, however the bytes arrive: the body up to the lone ".", dot-
stuffing undone, a line too long or a body too large refused after reading to the end, a
pipelined command left for the session; and it holds about twice the body in memory, not
an object per line."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.email.smtp_data import ClientGone, Refusal, read_data

LINE_LIMIT = 1001  # aiosmtpd's line_length_limit


def reference(lines: Sequence[bytes], limit: int | None) -> bytes | Refusal:
    """RFC 5321 read line by line: 4.5.2 transparency, 4.5.3.1.6 line length."""
    if any(len(line) + 2 > LINE_LIMIT for line in lines):
        return Refusal.TOO_LONG
    if limit is not None and sum(len(line) + 2 for line in lines) > limit:
        return Refusal.TOO_MUCH
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)


async def read_in_pieces(
    stream: bytes, cuts: Sequence[int], limit: int | None
) -> tuple[bytes | Refusal, bytes]:
    """Feed `stream` cut at `cuts`, a piece at a time as the reader asks for more; the body
    and what the reader still holds afterwards."""
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    points = sorted({c for c in cuts if 0 < c < len(stream)})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]

    async def feed() -> None:
        for piece in pieces:
            reader.feed_data(piece)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeding = asyncio.create_task(feed())
    body = await read_data(reader, limit=limit, line_limit=LINE_LIMIT)
    await feeding
    return body, await reader.read()


line = st.one_of(
    st.binary(max_size=40),
    st.just(b"."),
    st.just(b".."),
    st.binary(max_size=10).map(lambda b: b"." + b),
    st.integers(990, 1100).map(lambda n: b"x" * n),
).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(line, max_size=12),
    cuts=st.lists(st.integers(0, 20_000), max_size=12),
    limit=st.none() | st.integers(0, 3000),
)
def test_chunks_read_as_the_lines_would_be(
    lines: list[bytes], cuts: list[int], limit: int | None
) -> None:
    stuffed = b"".join(b"." + ln + b"\r\n" if ln.startswith(b".") else ln + b"\r\n" for ln in lines)
    # What a client sends: each line dot-stuffed, the lone ".", then its next command.
    stream = stuffed + b".\r\nQUIT\r\n"
    sent_lines = [(b"." + ln if ln.startswith(b".") else ln) for ln in lines]
    body, left = asyncio.run(read_in_pieces(stream, cuts, limit))
    assert body == reference(sent_lines, limit)
    assert left == b"QUIT\r\n"


def test_an_empty_body_and_a_body_of_dots() -> None:
    assert asyncio.run(read_in_pieces(b".\r\n", [], None)) == (b"", b"")
    body, _ = asyncio.run(read_in_pieces(b"..\r\n...\r\n.x\r\n.\r\n", [1, 2, 3, 5, 8], None))
    assert body == b".\r\n..\r\nx\r\n"


def test_a_client_gone_before_the_end_is_told_apart() -> None:
    with pytest.raises(ClientGone):
        asyncio.run(read_in_pieces(b"Subject: oi\r\n\r\nmeio", [4], None))


def test_a_body_of_empty_lines_costs_about_twice_its_size_not_an_object_per_line() -> None:
    body_size = 4 * 1024 * 1024
    stream = b"\r\n" * (body_size // 2) + b".\r\n"

    async def measured() -> tuple[int, int]:
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        tracemalloc.start()
        try:

            async def feed() -> None:  # as a socket delivers it: 64 KiB at a time
                for at in range(0, len(stream), 65536):
                    reader.feed_data(stream[at : at + 65536])
                    await asyncio.sleep(0)
                reader.feed_eof()

            feeding = asyncio.create_task(feed())
            body = await read_data(reader, limit=None, line_limit=LINE_LIMIT)
            await feeding
            assert isinstance(body, bytes)
            return len(body), tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    size, peak = asyncio.run(measured())
    assert size == body_size
    # aiosmtpd's line-by-line reading held about 75 times the body for these lines.
    assert peak < 3 * body_size
