"""What the runtime (`streams.shared.runtime`) needs of a processor's pure core.

A core is plain code: it names the key an event belongs to, the initial state of a key, how
a state and an event give the next state and the outputs, and when a key must next be
visited by a tick. Optionally it declares the event types it reads (`reads`), the event
types that concern every key of a partition (`partition_wide`: see `partition_wide_of`), and
a context shared by the keys of a partition (`PartitionContext`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

S = TypeVar("S")
C = TypeVar("C")


class Core(Protocol[S]):
    """What the runtime needs of a processor's pure core."""

    name: str
    state_type: type[S]

    def key_of(self, event: Any) -> str | None:
        """The state key an input event belongs to (None: not for this processor)."""
        ...

    def initial(self, key: str) -> S: ...

    def handle(self, state: S, event: Any) -> tuple[S | None, list[Any]]:
        """The key's new state (None: nothing left to keep, the key is deleted and a
        tombstone written to the changelog) and the events to publish."""
        ...

    def wakes_at(self, state: S) -> datetime | None:
        """When a tick must next visit this key; None: only its own events concern it."""
        ...


class PartitionContext(Protocol[C]):
    """What a core needs when it keeps a context shared by every key of a partition (the
    SLA policy in force, say): events that change it (`changes_context`) reach every key of
    the partition, in log order like everything else, and each key is handled with the
    context as it stood at that point of the log."""

    context_type: type[C]

    def initial_context(self) -> C: ...

    def changes_context(self, event: Any) -> bool: ...

    def evolve_context(self, context: C, event: Any) -> C: ...

    def handle_in(self, context: C, state: Any, event: Any) -> tuple[Any, list[Any]]: ...


def reads_of(core: object) -> frozenset[str] | None:
    """The event types a core declares it reads (`reads`), ticks included; None: all.

    The runtime peeks at every record (type, id and time from the first bytes, about 4 µs)
    and decodes only these: on the conversations topic most records are delivery statuses
    that no decision depends on, and decoding one (personal fields opened) costs ten times
    the peek.
    """
    reads = getattr(core, "reads", None)
    return None if reads is None else frozenset(reads) | {"ClockTicked"}


def partition_wide_of(core: object) -> frozenset[str]:
    """The event types a core declares as concerning every key of a partition
    (`partition_wide`), so the runtime hands each to every state the partition holds, in
    key order, instead of to the one key `key_of` names.

    For a fact written into every partition (as ticks and policy changes are) that concerns
    keys no field of it names: a citizen's erasure concerns whichever contacts belong to
    the citizen, and only each contact's state knows that. Unlike a change of the
    partition's context, it leaves nothing behind to keep."""
    return frozenset(getattr(core, "partition_wide", ()))
