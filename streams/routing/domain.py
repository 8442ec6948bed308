"""Routing as a pure function: `decide` what follows a fact, `evolve` the state, `handle` both.

The router reads ONE ordered stream (a single partition): triaged, reopened, closed,
released and transferred cases, agents' presence and capacity, agents' commands (transfer,
presence, capacity: see `commands`), and clock ticks. Taking one fact at a time is what
keeps capacity from being double-booked and every decision reproducible. Steps of `handle`,
in order:

1. drop a fact whose event_id was already processed (redelivery): no outputs;
2. evolve the state with the fact itself (an agent comes online, a case is freed...);
3. react: a command is accepted into its fact (the first output, then reacted to as that
   fact read from the log would be) or refused (`CommandRefused`, its only output); queue
   the case the fact concerns (`CaseQueued`), then route waiting cases in
   queue order (priority, then longest waiting), each decision a `RoutingDecided` with the
   candidates weighed and, when an agent was chosen, a `CaseAssigned`; a clock tick moves
   cases whose escalation step timed out, or whose step has nobody available, to the next;
4. evolve the state with each output as it is made, so the next decision sees it.

Output envelopes: event_id = derive_event_id(cause.event_id, "streams.routing", n) for the
n-th output, occurred_at = the cause's (a tick's tick_at), the cause's correlation_id, and
causation_id = the cause's event_id. A waiting case is announced once, when queued or when
its escalation step changes; later routing passes write only the decisions that assign.

Must not depend on Kafka, Postgres, logging or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
    ClockTicked,
    QueueReason,
    RoutingRule,
    TransferCase,
)
from streams.routing import commands
from streams.routing.claims import ClaimRefused, claim
from streams.routing.config import Queue, RoutingConfig
from streams.routing.outputs import Run, write_decision, write_queued
from streams.routing.policies import (
    RULE_REASON,
    can_take_now,
    candidate,
    consider,
    free_agents,
    is_staffed,
    sticky_agent,
    view,
)
from streams.routing.state import (
    CaseInfo,
    RouterEvent,
    RouterInput,
    RouterOutput,
    RouterState,
    WaitingCase,
    evolve,
    queue_order,
)
from streams.shared.errors import BadInput

__all__ = [
    "ClaimRefused",
    "RouterInput",
    "RouterOutput",
    "RouterState",
    "UnknownQueue",
    "claim",
    "decide",
    "evolve",
    "handle",
    "replay",
    "waiting_in",
]


class UnknownQueue(BadInput):
    """A transfer names a queue the routing configuration does not have."""


def decide(state: RouterState, event: RouterInput, config: RoutingConfig) -> list[RouterOutput]:
    """The events that follow `event` (none when it was already processed)."""
    return handle(state, event, config)[1]


def handle(
    state: RouterState, event: RouterInput, config: RoutingConfig
) -> tuple[RouterState, list[RouterOutput]]:
    """The state after `event` and its outputs, and the outputs themselves."""
    if event.event_id in state.processed:
        return state, []
    at = event.tick_at if isinstance(event, ClockTicked) else event.occurred_at
    run = Run(config, evolve(state, event), event.event_id, at, event.correlation_id)
    _react(run, state, event)
    return run.state, run.outputs


def replay(events: Iterable[RouterEvent], state: RouterState | None = None) -> RouterState:
    """The state rebuilt from the log: the router's inputs and outputs in log order."""
    current = RouterState() if state is None else state
    for event in events:
        current = evolve(current, event)
    return current


def waiting_in(state: RouterState, queue_id: str) -> list[WaitingCase]:
    """One queue's waiting cases, next first."""
    return sorted((w for w in state.waiting.values() if w.queue_id == queue_id), key=queue_order)


def _react(run: Run, before: RouterState, event: RouterInput) -> None:
    match event:
        case CaseTriaged():
            _on_triaged(run, event)
        case CaseReopened():
            info = run.state.cases.get(event.case_id)
            if info is not None and event.case_id not in before.cases:
                _queue_and_route(run, info, _home_queue(run.config, info, None), "reopened")
        case CaseReleased():
            info = run.state.cases.get(event.case_id)
            if before.assignments.get(event.case_id) == event.agent_id and info is not None:
                _queue_and_route(
                    run, info, _home_queue(run.config, info, event.queue_id), "released"
                )
        case CaseTransferred():
            _on_transferred(run, before, event)
        case CaseClosed() | AgentPresenceChanged() | AgentCapacityChanged():
            _route_waiting(run, {})
        case ClockTicked():
            _escalate(run)
        case ClaimCase():
            commands.take(run, event)  # assigned, or refused: nothing else moves
        case TransferCase() | ChangePresence() | ChangeCapacity():
            fact = commands.accept(run, event)
            if fact is not None:  # then exactly what the same fact from the log would do
                _react(run, before, fact)


def _on_triaged(run: Run, event: CaseTriaged) -> None:
    info = run.state.cases.get(event.case_id)
    if info is None or event.case_id in run.state.assignments:
        return  # closed, or already with an agent: a re-triage only updates what we know
    queue_id = run.config.queue_for(info.area, info.region, info.urgent)
    entry = run.state.waiting.get(event.case_id)
    if entry is not None and (entry.queue_id, entry.priority) == (queue_id, info.priority):
        return
    _queue_and_route(run, info, queue_id, "triaged")


def _on_transferred(run: Run, before: RouterState, event: CaseTransferred) -> None:
    if event.to_queue_id not in run.config.queues:
        raise UnknownQueue(
            f"CaseTransferred {event.event_id}: no queue {event.to_queue_id!r} in routing "
            f"config {run.config.version}; use one of: {', '.join(sorted(run.config.queues))}"
        )
    info = run.state.cases.get(event.case_id)
    if info is None:
        return  # closed: nothing to move
    notes: tuple[str, ...] = ()
    if event.to_agent_id is not None:
        agent = view(run.state, run.config, event.to_agent_id)
        if agent.has_capacity:
            was = before.waiting.get(event.case_id)
            entry = was or WaitingCase(
                event.case_id, event.to_queue_id, info.priority, run.at, 0, run.at
            )
            cands = [candidate(agent, None)]
            write_decision(
                run,
                entry,
                event.to_queue_id,
                agent.agent_id,
                candidates=cands,
                rule="manual",
                reason="transfer_to_agent",
            )
            _route_waiting(run, {})
            return
        notes = (f"transfer_target_at_capacity:{event.to_agent_id}",)
    _queue_and_route(run, info, event.to_queue_id, "transferred", notes)


def _home_queue(config: RoutingConfig, info: CaseInfo, preferred: str | None) -> str:
    for queue_id in (preferred, info.queue_id):
        if queue_id is not None and queue_id in config.queues:
            return queue_id
    return config.queue_for(info.area, info.region, info.urgent)


def _queue_and_route(
    run: Run, info: CaseInfo, queue_id: str, reason: QueueReason, notes: tuple[str, ...] = ()
) -> None:
    write_queued(run, info, queue_id, reason)
    _route_waiting(run, {info.case_id: notes})


def _route_waiting(run: Run, announce: Mapping[str, tuple[str, ...]]) -> None:
    """Offer waiting cases, in queue order, to whoever can take them now.

    Cases in `announce` were just queued: they get a decision even if they keep waiting, at
    the first escalation step where someone is available. The others get one only when an
    agent is found for them, at the step they are at.
    """
    free = free_agents(run.state, run.config)
    for entry in sorted(run.state.waiting.values(), key=queue_order):
        queue = run.config.queues.get(entry.queue_id)
        info = run.state.cases.get(entry.case_id)
        notes = announce.get(entry.case_id)
        if queue is None:
            continue  # a queue dropped from the configuration: its cases wait for a transfer
        if notes is not None:
            step, skipped = _first_staffed_step(run, queue, info, entry.step)
            chosen = _decide_case(
                run, entry, queue, step=step, notes=(*notes, *skipped), waiting_rule=None
            )
        elif free and can_take_now(run.state, run.config, queue, entry.step, info, free=free):
            chosen = _decide_case(run, entry, queue, step=entry.step, notes=(), waiting_rule=None)
        else:
            continue
        if chosen is not None and not view(run.state, run.config, chosen).has_capacity:
            free = [a for a in free if a != chosen]


def _escalate(run: Run) -> None:
    """On a tick: a case whose step timed out, or has nobody available, moves on and is routed."""
    for entry in sorted(run.state.waiting.values(), key=queue_order):
        queue = run.config.queues.get(entry.queue_id)
        if queue is None:
            continue
        info = run.state.cases.get(entry.case_id)
        last = len(queue.steps) - 1
        step = min(entry.step, last)
        notes: list[str] = []
        if step < last:
            timeout = queue.steps[step].timeout
            if timeout is not None and run.at - entry.step_started_at >= timeout:
                notes.append(f"timeout:{queue.steps[step].pool}")
                step += 1
        step, skipped = _first_staffed_step(run, queue, info, step)
        if step != entry.step:
            notes.extend(skipped)
            _decide_case(
                run, entry, queue, step=step, notes=tuple(notes), waiting_rule="escalation"
            )


def _first_staffed_step(
    run: Run, queue: Queue, info: CaseInfo | None, start: int
) -> tuple[int, tuple[str, ...]]:
    step = min(start, len(queue.steps) - 1)
    skipped: list[str] = []
    excluded = info.excluded if info is not None else frozenset()
    while step < len(queue.steps) - 1:
        key = (queue.queue_id, step, excluded)
        if key not in run.staffed:
            run.staffed[key] = is_staffed(run.state, run.config, queue, step, info)
        if run.staffed[key]:
            break
        skipped.append(f"skipped:{queue.steps[step].pool}")
        step += 1
    return step, tuple(skipped)


def _decide_case(
    run: Run,
    entry: WaitingCase,
    queue: Queue,
    *,
    step: int,
    notes: tuple[str, ...],
    waiting_rule: RoutingRule | None,
) -> str | None:
    """One RoutingDecided for a waiting case (and its CaseAssigned); the agent chosen, if any."""
    info = run.state.cases.get(entry.case_id)
    candidates = consider(run.state, run.config, queue, step, info)
    sticky = sticky_agent(run.state, run.config, queue, info)
    chosen: str | None = None
    rule: RoutingRule
    if sticky is not None:
        chosen, rule, reason = sticky.agent_id, "sticky", "sticky_agent_available"
        others = [c for c in candidates if c.agent_id != chosen]
        candidates = [candidate(sticky, None), *others]
    elif queue.rule == "manual":
        rule, reason = waiting_rule or "manual", RULE_REASON["manual"]
    elif candidates and candidates[0].eligible:
        chosen, rule, reason = candidates[0].agent_id, queue.rule, RULE_REASON[queue.rule]
    else:
        rule, reason = waiting_rule or queue.rule, "no_agent_available"
    at_step = WaitingCase(
        entry.case_id, entry.queue_id, entry.priority, entry.queued_at, step, run.at
    )
    write_decision(
        run,
        at_step,
        queue.queue_id,
        chosen,
        candidates=candidates,
        rule=rule,
        reason=";".join((reason, *notes)),
    )
    return chosen
