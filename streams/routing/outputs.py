"""The router's outputs as they are written: envelopes derived from the cause, state kept current.

A `Run` is one reaction in progress: each output gets the next derived id
(derive_event_id(cause, "streams.routing", n)), the cause's time, correlation and id as
causation, and is applied to the working state at once so the next decision sees it.

Must not depend on Kafka, Postgres, logging or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.envelope import derive_event_id
from schemas.events import (
    CaseAssigned,
    CaseQueued,
    QueueReason,
    RoutingCandidate,
    RoutingDecided,
    RoutingRule,
)
from streams.routing.config import RoutingConfig
from streams.routing.state import (
    CaseInfo,
    RouterOutput,
    RouterState,
    WaitingCase,
    evolve,
    queue_order,
)

PROCESSOR = "streams.routing"


@dataclass
class Run:
    """One reaction in progress: the working state and the outputs so far (local to a call)."""

    config: RoutingConfig
    state: RouterState
    cause_id: str
    at: datetime
    correlation_id: str
    outputs: list[RouterOutput] = field(default_factory=list)
    # whether (queue, step, agents excluded) is staffed: presence and capacity do not change
    # within one reaction, so the answer holds until it ends
    staffed: dict[tuple[str, int, frozenset[str]], bool] = field(default_factory=dict)

    def next_id(self) -> str:
        return derive_event_id(self.cause_id, PROCESSOR, str(len(self.outputs)))

    def add(self, event: RouterOutput) -> None:
        self.outputs.append(event)
        self.state = evolve(self.state, event)


def write_queued(run: Run, info: CaseInfo, queue_id: str, reason: QueueReason) -> None:
    """CaseQueued, with the case's position in its queue right after queueing (1 is next)."""
    before = run.state.waiting.get(info.case_id)
    queued_at = before.queued_at if before is not None and before.queue_id == queue_id else run.at
    me = WaitingCase(info.case_id, queue_id, info.priority, queued_at, 0, run.at)
    ahead = sum(
        1
        for w in run.state.waiting.values()
        if w.queue_id == queue_id and w.case_id != info.case_id and queue_order(w) < queue_order(me)
    )
    run.add(
        CaseQueued(
            event_id=run.next_id(),
            occurred_at=run.at,
            correlation_id=run.correlation_id,
            causation_id=run.cause_id,
            case_id=info.case_id,
            contact_id=info.contact_id,
            queue_id=queue_id,
            area=info.area,
            priority=info.priority,
            reason=reason,
            position=ahead + 1,
        )
    )


def write_decision(
    run: Run,
    entry: WaitingCase,
    queue_id: str,
    chosen: str | None,
    *,
    candidates: list[RoutingCandidate],
    rule: RoutingRule,
    reason: str,
) -> None:
    """RoutingDecided for the case at `entry.step`, then CaseAssigned when an agent was chosen."""
    known = run.state.cases.get(entry.case_id)
    contact_id = known.contact_id if known is not None else None
    decision = RoutingDecided(
        event_id=run.next_id(),
        occurred_at=run.at,
        correlation_id=run.correlation_id,
        causation_id=run.cause_id,
        case_id=entry.case_id,
        queue_id=queue_id,
        priority=entry.priority,
        rule=rule,
        rule_version=run.config.version,
        escalation_step=entry.step,
        waited_ms=max(0, (run.at - entry.queued_at) // timedelta(milliseconds=1)),
        candidates=tuple(candidates),
        chosen_agent_id=chosen,
        reason=reason,
        contact_id=contact_id,
    )
    run.add(decision)
    if chosen is None:
        return
    run.add(
        CaseAssigned(
            event_id=run.next_id(),
            occurred_at=run.at,
            correlation_id=run.correlation_id,
            causation_id=run.cause_id,
            case_id=entry.case_id,
            agent_id=chosen,
            queue_id=queue_id,
            routing_decision_id=decision.event_id,
            contact_id=contact_id,
        )
    )
