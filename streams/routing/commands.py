"""Agents' commands to the router: transfer a case, take a waiting case, change presence,
change capacity.

The router decides them in its one ordered stream, against the same state it routes with, so
a transfer never lands on an agent whose last free place was just taken. `accept` writes the
command's answer into the run and returns the fact it accepted, if any; the caller then
reacts to that fact exactly as to the same fact read from the log (domain.handle). Steps:
1. check the command against the state and the configuration, in the order of the rules
   below; the first that fails is the refusal (`CommandRefused`, the command's only output);
2. otherwise write the fact (`CaseTransferred`, `AgentPresenceChanged`,
   `AgentCapacityChanged`) as the run's first output, evolving the state with it.

TransferCase, in order: the case must be known (`no_such_case`) and open (`case_closed`),
held by the agent who asks (`not_your_case`), the queue must be configured
(`unknown_queue`), the note readable (`invalid`: not erased); a receiving agent must be
someone else, known to the router (`invalid`), available (`agent_offline`) and below
capacity (`over_capacity`). The receiving agent's areas
and skills are not checked: a transfer is a person's explicit choice, as for a transfer fact.
ClaimCase (`take`): the case must be waiting (else `not_waiting` when someone holds it,
`case_closed`, `no_such_case`), the agent in the pool of its queue's current step or an
earlier one with its skills (`not_eligible`; presence does not matter, they are acting),
and below capacity (`over_capacity`); accepted, it is a manual RoutingDecided and
CaseAssigned (`claims.claim`).
ChangePresence: any presence but `unknown`. ChangeCapacity: 0 to MAX_CAPACITY. Otherwise
`invalid`. A redelivered command never reaches `accept`: the router drops any event whose id
it processed.

Must not depend on Kafka, Postgres, logging or the clock.
"""

from __future__ import annotations

from typing import Final

from schemas.events import (
    AgentCapacityChanged,
    AgentPresenceChanged,
    CaseTransferred,
    ChangeCapacity,
    ChangePresence,
    ClaimCase,
    CommandRefused,
    RefusalReason,
    TransferCase,
)
from schemas.personal import Erased
from streams.routing.claims import ClaimRefused, claim
from streams.routing.outputs import Run
from streams.routing.policies import view
from streams.routing.state import RouterCommand

MAX_CAPACITY: Final = 50
"""The most cases an agent may ask to hold at once; a larger figure is a typo, not a choice."""

RouterFact = CaseTransferred | AgentPresenceChanged | AgentCapacityChanged
Refusal = tuple[RefusalReason, str]


def accept(run: Run, command: TransferCase | ChangePresence | ChangeCapacity) -> RouterFact | None:
    """Write the command's fact, or its refusal, into `run`; the fact, None when refused."""
    if isinstance(command, TransferCase):
        decided: RouterFact | Refusal = _transfer(run, command)
    elif isinstance(command, ChangePresence):
        decided = _presence(run, command)
    else:
        decided = _capacity(run, command)
    if isinstance(decided, tuple):
        run.add(_refused(run, command, *decided))
        return None
    run.add(decided)
    return decided


def take(run: Run, command: ClaimCase) -> None:
    """Write the claim's decision and assignment into `run`, or its refusal."""
    outcome = claim(
        run.state,
        command.case_id,
        command.agent_id,
        run.at,
        run.config,
        command_id=run.cause_id,
        correlation_id=run.correlation_id,
    )
    if not isinstance(outcome, ClaimRefused):
        for event in outcome:  # the same ids `run` would give: the command is their cause
            run.add(event)
        return
    state, case_id = run.state, command.case_id
    refusal: Refusal
    if outcome.reason == "over_capacity":
        agent = view(state, run.config, command.agent_id)
        refusal = (
            "over_capacity",
            f"agent {command.agent_id} holds {agent.open_cases} of {agent.capacity} cases",
        )
    elif outcome.reason == "not_eligible":
        refusal = (
            "not_eligible",
            (
                f"agent {command.agent_id} is not in the pool of case {case_id}'s queue at its "
                "escalation step, or lacks the queue's skills"
            ),
        )
    elif (holder := state.assignments.get(case_id)) is not None:
        refusal = "not_waiting", f"case {case_id} is held by agent {holder}"
    elif case_id in state.closed:
        refusal = "case_closed", f"case {case_id} is closed"
    else:
        refusal = "no_such_case", f"the router has no waiting case {case_id}"
    run.add(_refused(run, command, *refusal))


def _transfer(run: Run, command: TransferCase) -> CaseTransferred | Refusal:
    refusal = _transfer_refusal(run, command)
    if refusal is not None:
        return refusal
    info = run.state.cases[command.case_id]  # known and open: checked above
    from_queue = info.queue_id or run.config.queue_for(info.area, info.region, info.urgent)
    return CaseTransferred(
        event_id=run.next_id(),
        occurred_at=run.at,
        correlation_id=run.correlation_id,
        causation_id=run.cause_id,
        subject_id=command.subject_id,
        case_id=command.case_id,
        from_queue_id=from_queue,
        from_agent_id=command.agent_id,
        to_queue_id=command.to_queue_id,
        to_agent_id=command.to_agent_id,
        transferred_by_agent_id=command.agent_id,
        reason=command.note,
        contact_id=info.contact_id or command.contact_id,
    )


def _transfer_refusal(run: Run, command: TransferCase) -> Refusal | None:  # noqa: PLR0911
    """The first transfer rule the command breaks, in the order of the module's docstring."""
    state, config = run.state, run.config
    case_id, asker, to_agent = command.case_id, command.agent_id, command.to_agent_id
    info = state.cases.get(case_id)
    if info is None:
        if case_id in state.closed:
            return "case_closed", f"case {case_id} is closed"
        return "no_such_case", f"the router knows no open case {case_id}"
    holder = state.assignments.get(case_id)
    if holder != asker:
        where = f"agent {holder}" if holder else f"nobody (it waits in {info.queue_id})"
        return "not_your_case", f"case {case_id} is held by {where}"
    if command.to_queue_id not in config.queues:
        return "unknown_queue", (
            f"no queue {command.to_queue_id} in routing config {config.version}; "
            f"use one of: {', '.join(sorted(config.queues))}"
        )
    if isinstance(command.note, Erased):
        return "invalid", "the note cannot be read: the citizen's data was erased"
    if to_agent is None:
        return None
    if to_agent == asker:
        return "invalid", f"agent {asker} already holds case {case_id}"
    if to_agent not in config.agents and to_agent not in state.agents:
        return "invalid", f"no agent {to_agent} in routing config {config.version}"
    target = view(state, config, to_agent)
    if target.presence != "available":
        return "agent_offline", f"agent {to_agent} is {target.presence}"
    if not target.has_capacity:
        held = f"{target.open_cases} of {target.capacity} cases"
        return "over_capacity", f"agent {to_agent} is at capacity: {held}"
    return None


def _presence(run: Run, command: ChangePresence) -> AgentPresenceChanged | Refusal:
    if command.presence == "unknown":
        return "invalid", "unknown presence: update the gateway's schemas"
    known = run.state.agents.get(command.agent_id)
    return AgentPresenceChanged(
        event_id=run.next_id(),
        occurred_at=run.at,
        correlation_id=run.correlation_id,
        causation_id=run.cause_id,
        agent_id=command.agent_id,
        presence=command.presence,
        previous_presence=known.presence if known is not None else None,
        changed_at=command.occurred_at,
    )


def _capacity(run: Run, command: ChangeCapacity) -> AgentCapacityChanged | Refusal:
    if not 0 <= command.capacity <= MAX_CAPACITY:
        return "invalid", f"capacity must be between 0 and {MAX_CAPACITY}"
    live = run.state.agents.get(command.agent_id)
    profile = run.config.agents.get(command.agent_id)
    previous = live.capacity if live is not None else None
    if previous is None and profile is not None:
        previous = profile.capacity  # the default in force until now
    return AgentCapacityChanged(
        event_id=run.next_id(),
        occurred_at=run.at,
        correlation_id=run.correlation_id,
        causation_id=run.cause_id,
        agent_id=command.agent_id,
        capacity=command.capacity,
        previous_capacity=previous,
        changed_by_agent_id=command.agent_id,
        changed_at=command.occurred_at,
    )


def _refused(
    run: Run, command: RouterCommand, reason: RefusalReason, detail: str
) -> CommandRefused:
    transfer = command if isinstance(command, TransferCase | ClaimCase) else None
    return CommandRefused(
        event_id=run.next_id(),
        occurred_at=run.at,
        correlation_id=run.correlation_id,
        causation_id=run.cause_id,
        command_id=command.event_id,
        command=command.NAME,
        agent_id=command.agent_id,
        case_id=transfer.case_id if transfer else None,
        contact_id=transfer.contact_id if transfer else None,
        reason=reason,
        detail=detail,
    )
