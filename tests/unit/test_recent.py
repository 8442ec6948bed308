"""Recently seen ids are remembered up to their bound, cheaply, and snapshot exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.shared import snapshots
from streams.shared.recent import RecentIds


def test_the_last_ids_are_remembered_and_the_oldest_forgotten() -> None:
    recent = RecentIds(generation_size=10, generations=3)
    for i in range(100):
        recent = recent.add(f"e-{i}")

    assert all(f"e-{i}" in recent for i in range(70, 100))
    assert "e-0" not in recent
    assert len(recent) <= 40


@given(st.lists(st.text(min_size=1), max_size=300))
def test_any_id_added_is_seen_until_enough_newer_ones_push_it_out(ids: list[str]) -> None:
    recent = RecentIds(generation_size=16, generations=4)
    for item in ids:
        recent = recent.add(item)
        assert item in recent
    distinct = list(dict.fromkeys(reversed(ids)))  # newest first, without repeats
    assert all(item in recent for item in distinct[:48])
    assert snapshots.load(RecentIds, snapshots.dump(recent)) == recent
