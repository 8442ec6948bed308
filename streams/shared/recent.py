"""A bounded, immutable set of recently seen ids, cheap to grow: for idempotency in pure cores.

Adding to a plain frozenset of 20,000 ids copies all of them; here ids go into a small
current generation, and full generations are frozen and kept newest first, the oldest
dropped. Adding copies at most one generation; a lookup checks each generation. Plain data:
it snapshots like any other state.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecentIds:
    current: frozenset[str] = frozenset()
    older: tuple[frozenset[str], ...] = ()  # newest first
    generation_size: int = 500
    generations: int = 40  # remembers the last generation_size * generations ids at least

    def __contains__(self, item: object) -> bool:
        if item in self.current:
            return True
        for generation in self.older:  # noqa: SIM110 - any() over a generator costs twice
            if item in generation:
                return True
        return False

    def __len__(self) -> int:
        return len(self.current) + sum(map(len, self.older))

    def add(self, item: str) -> RecentIds:
        if item in self:
            return self
        current = self.current | {item}
        if len(current) < self.generation_size:
            return RecentIds(current, self.older, self.generation_size, self.generations)
        older = (current, *self.older)[: self.generations]
        return RecentIds(frozenset(), older, self.generation_size, self.generations)
