"""Limits on what one visitor may send: how big a message is, how often messages come, and
how much memory remembering visitors may take.

- Size: a message is counted in bytes of UTF-8, the unit the wire, Kafka and Postgres pay
  for; bytes that are not UTF-8 are refused before anything reads them.
- Rate: a token bucket per key (the visitor id; the shell may also key one by client address
  for the token endpoint): `burst` messages at once, then `rate` per second. A refusal says
  when the next message would pass (`retry_after`, seconds).
- Memory: a bucket left alone for `burst / rate` seconds is full again, the same as a bucket
  never seen, so it is forgotten then at no cost to correctness; and at most `max_keys`
  buckets are kept, the least recently used dropped first, so a flood of distinct visitor ids
  cannot grow memory without bound. (A dropped visitor starts again with a full bucket; the
  flood could have used fresh ids anyway, which the token endpoint's own limit bounds.)

Time is an argument: the shell passes a monotonic clock (`time.monotonic()`), never the wall
clock, which can jump. Pure apart from the limiter's own memory. Must not depend on aiohttp,
Kafka or Postgres.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Literal

DEFAULT_MAX_MESSAGE_BYTES: Final = 4096
"""A long chat message is a few hundred bytes; WhatsApp caps text at 4096 characters."""

SizeRefusal = Literal["too_large", "invalid_utf8"]


@dataclass(frozen=True, slots=True)
class MessageRefused:
    reason: SizeRefusal
    detail: str


@dataclass(frozen=True, slots=True)
class Allowed:
    remaining: float
    """Messages the key may still send at once."""


@dataclass(frozen=True, slots=True)
class RateLimited:
    retry_after: float
    """Seconds until one more message would pass."""
    reason: Literal["rate_limited"] = "rate_limited"


def check_message_bytes(
    data: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> str | MessageRefused:
    """The text of a message received as bytes, or why it is refused (size first: an oversized
    message is not even decoded)."""
    if len(data) > max_bytes:
        return MessageRefused("too_large", f"{len(data)} bytes; at most {max_bytes}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return MessageRefused("invalid_utf8", f"not UTF-8 at byte {exc.start}")


def check_message_text(
    text: str, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> MessageRefused | None:
    """None when `text` fits in `max_bytes` of UTF-8; text holding lone surrogates (which
    some decoders let through) has no UTF-8 form and is refused."""
    if len(text) > max_bytes:  # each character takes at least one byte: no need to encode
        return MessageRefused("too_large", f"over {max_bytes} bytes of UTF-8")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        return MessageRefused("invalid_utf8", f"no UTF-8 form at character {exc.start}")
    if size > max_bytes:
        return MessageRefused("too_large", f"{size} bytes of UTF-8; at most {max_bytes}")
    return None


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float


class RateLimiter:
    """Token buckets per key with bounded memory (see the module's docstring)."""

    def __init__(self, *, rate: float, burst: int, max_keys: int) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("a rate limit needs rate > 0, burst >= 1 and max_keys >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._max_keys = max_keys
        self._refill_time = burst / rate
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        """How many keys the limiter remembers now."""
        return len(self._buckets)

    def take(self, key: str, now: float, cost: float = 1.0) -> Allowed | RateLimited:
        """Spend `cost` from `key`'s bucket at time `now` (seconds, monotonic) if it holds it."""
        if not 0 < cost <= self._burst:
            raise ValueError(f"cost must be above 0 and at most the burst ({self._burst:g})")
        self._forget_idle(now)
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(tokens=self._burst, updated_at=now)
        elif now > bucket.updated_at:  # a clock that went back refills nothing
            refilled = bucket.tokens + (now - bucket.updated_at) * self._rate
            bucket.tokens = min(self._burst, refilled)
            bucket.updated_at = now
        self._buckets[key] = bucket  # most recently used last
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return Allowed(remaining=bucket.tokens)
        return RateLimited(retry_after=(cost - bucket.tokens) / self._rate)

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets full again by now; they are the least recently used, in front."""
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if now - bucket.updated_at < self._refill_time:
                return
            del self._buckets[key]
