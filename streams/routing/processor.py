"""Wiring of the routing core into the runtime: one key, one ordered stream.

The router reads a single-partition topic, so every state change and decision happens in
one order that a replay reproduces. Its whole state is one snapshot under the key
"router"; the changelog topic accepts large records for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.events import (
    AgentCapacityChanged,
    AgentPresenceChanged,
    CaseClosed,
    CaseReleased,
    CaseReopened,
    CaseTransferred,
    CaseTriaged,
    ChangeCapacity,
    ChangePresence,
    ClaimCase,
    TransferCase,
)
from streams.routing import domain
from streams.routing.config import RoutingConfig, load_config
from streams.routing.state import RouterState

ROUTER_KEY = "router"
ROUTER_SNAPSHOT_BYTES = 32 * 1024 * 1024
"""The router's whole state is one changelog record; it remembers up to 20,000 processed
ids and closed cases, a few MB. Splitting it by entity is the next step if it grows."""
_INPUTS = (
    CaseTriaged,
    CaseReopened,
    CaseClosed,
    CaseReleased,
    CaseTransferred,
    AgentPresenceChanged,
    AgentCapacityChanged,
    TransferCase,
    ChangePresence,
    ChangeCapacity,
    ClaimCase,
)


class RoutingCore:
    name = "streams.routing"
    state_type = RouterState
    reads = frozenset(t.NAME for t in _INPUTS)

    def __init__(self, config: RoutingConfig | None = None) -> None:
        self.config = config or load_config()

    def key_of(self, event: Any) -> str | None:
        return ROUTER_KEY if isinstance(event, _INPUTS) else None

    def initial(self, key: str) -> RouterState:
        return RouterState()

    def handle(self, state: RouterState, event: Any) -> tuple[RouterState, list[Any]]:
        new_state, outputs = domain.handle(state, event, self.config)
        return new_state, list(outputs)

    def wakes_at(self, state: RouterState) -> datetime | None:
        """While a case waits, every tick may escalate it: wake at the oldest step start."""
        if not state.waiting:
            return None
        return min(w.step_started_at for w in state.waiting.values())
