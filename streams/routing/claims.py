"""Manual selection: an agent takes a waiting case by hand.

The command that carries this is a later issue; `claim` is its pure core, ready for it.
Refusals are values, not exceptions: not_waiting, over_capacity, not_eligible.

Must not depend on Kafka, Postgres, logging or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from streams.routing.config import Queue, RoutingConfig
from streams.routing.outputs import Run, write_decision
from streams.routing.policies import AgentView, candidate, exclusion, needed_skills, view
from streams.routing.state import CaseInfo, RouterOutput, RouterState, WaitingCase


@dataclass(frozen=True)
class ClaimRefused:
    case_id: str
    agent_id: str
    reason: Literal["not_waiting", "over_capacity", "not_eligible"]


def claim(
    state: RouterState,
    case_id: str,
    agent_id: str,
    at: datetime,
    config: RoutingConfig,
    *,
    command_id: str,
    correlation_id: str,
) -> list[RouterOutput] | ClaimRefused:
    """An agent takes a waiting case by hand (manual queues; any queue's waiting case too).

    The agent must be in the pool of the case's escalation step or an earlier one, with its
    skills, and below capacity; presence does not matter, since they are acting. The
    command that will carry this (a later issue) supplies `command_id`, the cause of the ids.
    """
    entry = state.waiting.get(case_id)
    if entry is None:
        return ClaimRefused(case_id, agent_id, "not_waiting")
    queue = config.queues.get(entry.queue_id)
    profile = config.agents.get(agent_id)
    info = state.cases.get(case_id)
    agent = view(state, config, agent_id)
    if queue is None or profile is None or not _may_claim(config, queue, entry, agent, info):
        return ClaimRefused(case_id, agent_id, "not_eligible")
    if not agent.has_capacity:
        return ClaimRefused(case_id, agent_id, "over_capacity")
    run = Run(config, state, command_id, at, correlation_id)
    write_decision(
        run,
        entry,
        queue.queue_id,
        agent_id,
        candidates=[candidate(agent, None)],
        rule="manual",
        reason="manual_take",
    )
    return run.outputs


def _may_claim(
    config: RoutingConfig, queue: Queue, entry: WaitingCase, agent: AgentView, info: CaseInfo | None
) -> bool:
    profile = config.agents[agent.agent_id]
    for step in range(min(entry.step, len(queue.steps) - 1) + 1):
        if agent.agent_id not in config.pool_set(queue.queue_id, step):
            continue
        reason = exclusion(agent, profile, needed_skills(queue, step), info)
        if reason is None or reason.startswith(("presence:", "at_capacity")):
            return True
    return False
