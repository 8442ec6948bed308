"""Per-visitor limits: given a limiter, when visitors send messages at some times, then a
flood from one visitor is limited (with when to retry) while others are not, and memory stays
bounded however many visitors come; oversized and non-UTF-8 messages are refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.webchat.limits import (
    Allowed,
    MessageRefused,
    RateLimited,
    RateLimiter,
    check_message_bytes,
    check_message_text,
)


def limiter(max_keys: int = 100) -> RateLimiter:
    return RateLimiter(rate=1.0, burst=5, max_keys=max_keys)  # 5 at once, then 1 a second


def test_a_flood_from_one_visitor_is_limited_while_another_visitor_is_not() -> None:
    limits = limiter()
    flood = [limits.take("v-flood", now=100.0) for _ in range(8)]

    calm = limits.take("v-calm", now=100.0)

    assert [type(o) for o in flood] == [Allowed] * 5 + [RateLimited] * 3
    assert isinstance(calm, Allowed)


def test_a_limited_visitor_is_told_when_to_retry_and_passes_then() -> None:
    limits = limiter()
    for _ in range(5):
        limits.take("v-1", now=100.0)

    refused = limits.take("v-1", now=100.25)

    assert isinstance(refused, RateLimited)
    assert refused.retry_after == pytest.approx(0.75)
    assert isinstance(limits.take("v-1", now=100.25 + refused.retry_after), Allowed)


def test_the_bucket_refills_at_the_rate_up_to_the_burst_only() -> None:
    limits = limiter()
    for _ in range(5):
        limits.take("v-1", now=0.0)

    after_a_long_pause = [limits.take("v-1", now=3600.0) for _ in range(6)]

    assert [type(o) for o in after_a_long_pause] == [Allowed] * 5 + [RateLimited]


def test_a_clock_that_goes_back_refills_nothing() -> None:
    limits = limiter()
    for _ in range(5):
        limits.take("v-1", now=50.0)

    assert isinstance(limits.take("v-1", now=10.0), RateLimited)


def test_memory_holds_at_most_max_keys_under_a_flood_of_distinct_visitors() -> None:
    limits = limiter(max_keys=50)

    for n in range(10_000):
        limits.take(f"v-{n}", now=1000.0)  # all at once: nobody's bucket is full again yet

    assert len(limits) == 50


def test_visitors_idle_long_enough_to_be_full_again_are_forgotten() -> None:
    limits = limiter()
    for n in range(30):
        limits.take(f"v-{n}", now=0.0)

    limits.take("v-late", now=5.0)  # burst / rate = 5 s: the first thirty are full again

    assert len(limits) == 1


def test_a_visitor_limited_within_the_memory_bound_stays_limited() -> None:
    limits = limiter(max_keys=10)
    for _ in range(5):
        limits.take("v-flood", now=0.0)
    for n in range(9):  # fewer newcomers than the bound: the flooding visitor is remembered
        limits.take(f"v-{n}", now=0.0)

    assert isinstance(limits.take("v-flood", now=0.0), RateLimited)


def test_a_limiter_refuses_nonsense_settings_and_costs() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(rate=0, burst=5, max_keys=10)
    with pytest.raises(ValueError, match="burst"):
        limiter().take("v-1", now=0.0, cost=6)


def test_an_oversized_message_is_refused_before_decoding() -> None:
    outcome = check_message_bytes(b"\xff" * 11, max_bytes=10)

    assert outcome == MessageRefused("too_large", "11 bytes; at most 10")


def test_invalid_utf8_is_refused_with_where() -> None:
    outcome = check_message_bytes(b"ol\xc3\x28a")

    assert isinstance(outcome, MessageRefused)
    assert outcome.reason == "invalid_utf8"
    assert "byte 2" in outcome.detail


def test_the_size_limit_counts_utf8_bytes_not_characters() -> None:
    text = "ã" * 6  # 6 characters, 12 bytes

    assert check_message_bytes(text.encode(), max_bytes=12) == text
    assert check_message_text(text, max_bytes=12) is None
    refused = check_message_text(text, max_bytes=11)
    assert isinstance(refused, MessageRefused)
    assert refused.reason == "too_large"


def test_text_with_a_lone_surrogate_has_no_utf8_form() -> None:
    refused = check_message_text("oi \ud800")

    assert isinstance(refused, MessageRefused)
    assert refused.reason == "invalid_utf8"


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60),
)
def test_no_visitor_ever_gets_more_than_burst_plus_rate_times_elapsed(times: list[float]) -> None:
    limits = limiter()
    moments = sorted(times)

    allowed = sum(isinstance(limits.take("v-1", now=t), Allowed) for t in moments)

    assert allowed <= 5 + (moments[-1] - moments[0]) * 1.0 + 1e-9


@settings(max_examples=60, deadline=None)
@given(visitors=st.lists(st.integers(0, 500), max_size=300), bound=st.integers(1, 40))
def test_memory_never_exceeds_the_bound(visitors: list[int], bound: int) -> None:
    limits = limiter(max_keys=bound)

    for step, n in enumerate(visitors):
        limits.take(f"v-{n}", now=step * 0.01)
        assert len(limits) <= bound
