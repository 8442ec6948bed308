"""Wiring of the conversation core into the runtime: keys, initial state, alarms, and the
events that reach every contact of a partition.

An erasure (`ErasureRequested`, written by `acolhe erase` into every partition of the
contacts' topic) concerns whichever contacts of the partition belong to the erased citizen,
and no key names them: like a tick, it must be handed to every contact. The core declares it
`partition_wide` (`streams.shared.cores.partition_wide_of`), and each contact decides for
itself (`streams.cases.domain`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from schemas.events import ErasureRequested
from streams.cases import state as lifecycle
from streams.cases.policy import LifecyclePolicy, default_policy
from streams.conversation import core
from streams.triage.flow import load_flow
from streams.triage.model import Flow


class ConversationCore:
    name = "streams.conversation"
    state_type = core.ConversationState
    partition_wide = frozenset({ErasureRequested.NAME})
    """Handed to every contact of a partition (module docstring)."""
    reads = frozenset(t.NAME for t in get_args(lifecycle.Input))
    """What the lifecycle reads (the triage bot reads a subset): the runtime skips the rest
    of the stream, delivery statuses above all, without decoding it."""

    def __init__(self, policy: LifecyclePolicy | None = None, flow: Flow | None = None) -> None:
        self.policy = policy or default_policy()
        self.flow = flow or load_flow()

    def key_of(self, event: Any) -> str | None:
        contact = getattr(event, "contact_id", None)
        return contact if isinstance(contact, str) and contact else None

    def initial(self, key: str) -> core.ConversationState:
        return core.initial(key)

    def handle(
        self, state: core.ConversationState, event: Any
    ) -> tuple[core.ConversationState | None, list[Any]]:
        return core.handle(state, event, self.policy, self.flow)

    def wakes_at(self, state: core.ConversationState) -> datetime | None:
        return core.wakes_at(state, self.policy)

    def subject_of(self, state: core.ConversationState) -> str | None:
        """Whose key seals the state's personal values in its snapshots."""
        return core.subject_of(state)
