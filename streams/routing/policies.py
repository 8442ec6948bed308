"""Who may take a case, and in which order each rule ranks them.

- Eligible: in the pool of the case's escalation step (see `config`), holding the queue's and
  the step's skills, not an agent who gave this case up (released or transferred it away),
  available, below capacity.
- load_balancing: fewest open cases first.
- longest_idle: the agent routed to longest ago first (never routed: first of all).
- round_robin: the next agent after the queue's last chosen one, in agent_id order, wrapping.
- sticky (queues that ask for it): the citizen's last agent, when they serve the queue, hold
  its skills, are available and below capacity; escalation roles do not apply to them.
Every tie is broken by agent_id, never by dict order or hashing.

Pure: must not depend on Kafka, Postgres, logging or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.events import Presence, RoutingCandidate
from streams.routing.config import AgentProfile, Queue, RoutingConfig, Rule, serves
from streams.routing.state import CaseInfo, RouterState

RULE_REASON: dict[Rule, str] = {
    "load_balancing": "least_loaded",
    "longest_idle": "longest_idle",
    "round_robin": "round_robin_next",
    "manual": "manual_queue",
}
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AgentView:
    """An agent as a decision sees them: profile facts plus live state."""

    agent_id: str
    presence: Presence
    capacity: int
    open_cases: int
    last_assigned_at: datetime | None

    @property
    def has_capacity(self) -> bool:
        return self.open_cases < self.capacity


def view(state: RouterState, config: RoutingConfig, agent_id: str) -> AgentView:
    live = state.agent(agent_id)
    profile = config.agents.get(agent_id)
    default = profile.capacity if profile is not None else 0
    return AgentView(
        agent_id=agent_id,
        presence=live.presence,
        capacity=default if live.capacity is None else live.capacity,
        open_cases=len(live.open_cases),
        last_assigned_at=live.last_assigned_at,
    )


def exclusion(
    agent: AgentView, profile: AgentProfile, needed: frozenset[str], case: CaseInfo | None
) -> str | None:
    """Why this pool member cannot take the case now; None when they can."""
    missing = needed - profile.skills
    if missing:
        return "missing_skill:" + ",".join(sorted(missing))
    if case is not None and agent.agent_id in case.excluded:
        return "gave_case_up"
    if agent.presence != "available":
        return f"presence:{agent.presence}"
    if not agent.has_capacity:
        return "at_capacity"
    return None


def needed_skills(queue: Queue, step: int) -> frozenset[str]:
    return queue.required_skills | queue.steps[step].skills


def candidate(agent: AgentView, reason_excluded: str | None) -> RoutingCandidate:
    return RoutingCandidate(
        agent_id=agent.agent_id,
        eligible=reason_excluded is None,
        open_cases=agent.open_cases,
        capacity=agent.capacity,
        presence=agent.presence,
        last_assigned_at=agent.last_assigned_at,
        reason_excluded=reason_excluded,
    )


def consider(
    state: RouterState, config: RoutingConfig, queue: Queue, step: int, case: CaseInfo | None
) -> list[RoutingCandidate]:
    """Every member of the step's pool: eligible ones ranked by the queue's rule, then the rest."""
    needed = needed_skills(queue, step)
    eligible: list[AgentView] = []
    excluded: list[RoutingCandidate] = []
    for agent_id in config.pool(queue.queue_id, step):
        agent = view(state, config, agent_id)
        reason = exclusion(agent, config.agents[agent_id], needed, case)
        if reason is None:
            eligible.append(agent)
        else:
            excluded.append(candidate(agent, reason))
    ranked = rank(queue.rule, eligible, state.round_robin.get(queue.queue_id))
    return [candidate(a, None) for a in ranked] + excluded


def rank(rule: Rule, agents: Iterable[AgentView], last_chosen: str | None) -> list[AgentView]:
    by_id = sorted(agents, key=lambda a: a.agent_id)
    if rule == "load_balancing":
        return sorted(by_id, key=lambda a: a.open_cases)
    if rule == "longest_idle":
        return sorted(by_id, key=lambda a: a.last_assigned_at or _NEVER)
    if rule == "round_robin" and last_chosen is not None:
        after = [a for a in by_id if a.agent_id > last_chosen]
        return after + [a for a in by_id if a.agent_id <= last_chosen]
    return by_id


def sticky_agent(
    state: RouterState, config: RoutingConfig, queue: Queue, case: CaseInfo | None
) -> AgentView | None:
    """The citizen's last agent when the queue is sticky and they can take the case now."""
    if not queue.sticky or case is None or case.subject_id is None:
        return None
    agent_id = state.last_agent.get(case.subject_id)
    profile = config.agents.get(agent_id) if agent_id is not None else None
    if profile is None or not serves(profile, queue):
        return None
    agent = view(state, config, profile.agent_id)
    return agent if exclusion(agent, profile, queue.required_skills, case) is None else None


def is_staffed(
    state: RouterState, config: RoutingConfig, queue: Queue, step: int, case: CaseInfo | None
) -> bool:
    """Someone in the step's pool could take the case once free: available, skilled, capacity > 0.

    A step that is not staffed is skipped at once; a staffed step where everyone is busy is
    waited for until its timeout.
    """
    needed = needed_skills(queue, step)
    for agent_id in config.pool(queue.queue_id, step):
        agent = view(state, config, agent_id)
        reason = exclusion(agent, config.agents[agent_id], needed, case)
        if agent.capacity > 0 and reason in (None, "at_capacity"):
            return True
    return False


def can_take_now(
    state: RouterState,
    config: RoutingConfig,
    queue: Queue,
    step: int,
    case: CaseInfo | None,
    *,
    free: Iterable[str],
) -> bool:
    """Quick check: one of the free agents is eligible for the case (or is its sticky agent).

    In a manual queue only the sticky agent is routed to; the rest wait for a claim.
    """
    pool = config.pool_set(queue.queue_id, step) if queue.rule != "manual" else frozenset()
    needed = needed_skills(queue, step)
    for agent_id in free:
        if agent_id in pool:
            reason = exclusion(view(state, config, agent_id), config.agents[agent_id], needed, case)
            if reason is None:
                return True
    return sticky_agent(state, config, queue, case) is not None


def free_agents(state: RouterState, config: RoutingConfig) -> list[str]:
    """Agents with a profile who are available and below capacity, in agent_id order."""
    out = []
    for agent_id, live in state.agents.items():  # every router event asks: no views built
        if live.presence != "available":
            continue
        profile = config.agents.get(agent_id)
        if profile is None:
            continue
        capacity = profile.capacity if live.capacity is None else live.capacity
        if len(live.open_cases) < capacity:
            out.append(agent_id)
    out.sort()
    return out
