"""Wiring of the conversation core into the runtime: keys, initial state, alarms, and the
events that reach every contact of a partition.

An erasure (`ErasureRequested`, written by `acolhe erase` into every partition of the
contacts' topic) concerns whichever contacts of the partition belong to the erased citizen,
and no key names them: like a tick, it must be handed to every contact. The runtime hands an
event to every key of a partition when the core says it changes the partition's context
(`streams.shared.cores.PartitionContext`, the path the SLA clocks' policy changes take), so
this core declares the erasure such an event. Its context holds nothing: the erasure is
decided per contact (`streams.cases.domain`), the context object never changes and so is
never written to the changelog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from schemas.events import ErasureRequested
from streams.cases import state as lifecycle
from streams.cases.policy import LifecyclePolicy, default_policy
from streams.conversation import core
from streams.triage.flow import load_flow
from streams.triage.model import Flow


@dataclass(frozen=True, slots=True)
class NoContext:
    """The conversation processor's partition context: empty (see the module docstring)."""


_NO_CONTEXT = NoContext()


class ConversationCore:
    name = "streams.conversation"
    state_type = core.ConversationState
    context_type = NoContext
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

    # -- events for every contact of a partition (PartitionContext) ----------------------

    def initial_context(self) -> NoContext:
        return _NO_CONTEXT

    def changes_context(self, event: Any) -> bool:
        """Whether the event goes to every contact of the partition: an erasure does."""
        return isinstance(event, ErasureRequested)

    def evolve_context(self, context: NoContext, event: Any) -> NoContext:
        return context  # unchanged: nothing is written to the changelog for it

    def handle_in(
        self, context: NoContext, state: core.ConversationState, event: Any
    ) -> tuple[core.ConversationState | None, list[Any]]:
        return self.handle(state, event)
