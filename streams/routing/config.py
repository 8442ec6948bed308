"""The routing configuration: queues, which queue a triaged case goes to, and agent profiles.

A versioned JSON document (`config.default.json` beside this module is a plausible office).
Every `RoutingDecided` records the version that decided, so a replay can explain it.

Agent profiles (areas, skills, regions, roles, default capacity) live here because no event
carries an agent's skills yet; a later issue adds one, and then profiles move to the log.
Capacity and presence already come from events (`AgentCapacityChanged`,
`AgentPresenceChanged`); the profile's capacity is only the default until the first change.

Pools: an agent is in the pool of a queue's escalation step when they serve one of the
queue's areas, share a region with it (an empty region list on either side means any), and
hold one of the step's roles (no roles: any role). Skills (the queue's required skills and
the step's) do not make the pool; a pool member without them is listed as a candidate with
the reason it was excluded.

Parsing checks everything and names the path of the first problem (`queues[2].rule`).
Must not depend on Kafka, Postgres or the clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal, TypeVar, get_args

from schemas.events import Area
from streams.shared.errors import BadInput

Rule = Literal["load_balancing", "longest_idle", "round_robin", "manual"]
Role = Literal["specialist", "generalist", "supervisor"]

RULES: tuple[Rule, ...] = get_args(Rule)
ROLES: tuple[Role, ...] = get_args(Role)
AREAS: tuple[Area, ...] = get_args(Area)
DEFAULT_PATH = Path(__file__).with_name("config.default.json")

_L = TypeVar("_L", bound=str)


class RoutingConfigError(BadInput):
    """The routing configuration is invalid; the message names the file and the path."""


@dataclass(frozen=True)
class EscalationStep:
    """One pool tried in turn; `timeout` is how long a case waits for it (None on the last)."""

    pool: str
    roles: frozenset[Role]
    skills: frozenset[str]
    timeout: timedelta | None


@dataclass(frozen=True)
class Queue:
    queue_id: str
    areas: frozenset[Area]
    regions: frozenset[str]
    rule: Rule
    required_skills: frozenset[str]
    sticky: bool
    steps: tuple[EscalationStep, ...]


@dataclass(frozen=True)
class Route:
    """Cases of `area` (and `region`, and urgency, when given) go to `queue_id`."""

    area: Area
    region: str | None
    urgent: bool | None
    queue_id: str


@dataclass(frozen=True)
class AgentProfile:
    agent_id: str
    areas: frozenset[Area]
    skills: frozenset[str]
    regions: frozenset[str]
    roles: frozenset[Role]
    capacity: int


@dataclass(frozen=True, eq=False)
class RoutingConfig:
    version: str
    queues: Mapping[str, Queue]
    routes: tuple[Route, ...]
    fallback_queue_id: str
    agents: Mapping[str, AgentProfile]
    _pools: dict[tuple[str, int], tuple[str, ...]] = field(init=False, repr=False)
    _pool_sets: dict[tuple[str, int], frozenset[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pools = {
            (q.queue_id, i): tuple(
                a.agent_id for a in sorted(self.agents.values(), key=_agent_key) if in_pool(a, q, s)
            )
            for q in self.queues.values()
            for i, s in enumerate(q.steps)
        }
        object.__setattr__(self, "_pools", pools)
        object.__setattr__(self, "_pool_sets", {k: frozenset(v) for k, v in pools.items()})

    def pool(self, queue_id: str, step: int) -> tuple[str, ...]:
        """Agent ids in the pool of a queue's escalation step, in agent_id order."""
        return self._pools.get((queue_id, step), ())

    def pool_set(self, queue_id: str, step: int) -> frozenset[str]:
        return self._pool_sets.get((queue_id, step), frozenset())

    def queue_for(self, area: Area, region: str | None, urgent: bool) -> str:
        """The queue of a triaged case: the most specific route wins, else the fallback."""
        best: tuple[int, str] | None = None
        for r in self.routes:
            if r.area != area or r.region not in (None, region) or r.urgent not in (None, urgent):
                continue
            score = (2 if r.region is not None else 0) + (1 if r.urgent is not None else 0)
            if best is None or score > best[0]:
                best = (score, r.queue_id)
        return best[1] if best else self.fallback_queue_id


def _agent_key(a: AgentProfile) -> str:
    return a.agent_id


def serves(agent: AgentProfile, queue: Queue) -> bool:
    """The agent serves the queue's area and region (roles and skills aside)."""
    if not agent.areas & queue.areas:
        return False
    return not queue.regions or not agent.regions or bool(agent.regions & queue.regions)


def in_pool(agent: AgentProfile, queue: Queue, step: EscalationStep) -> bool:
    return serves(agent, queue) and (not step.roles or bool(agent.roles & step.roles))


def load_config(path: str | Path = DEFAULT_PATH) -> RoutingConfig:
    """Read and check a routing configuration file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutingConfigError(f"routing config {path}: cannot read it: {exc}") from exc
    except ValueError as exc:
        raise RoutingConfigError(f"routing config {path}: not valid JSON: {exc}") from exc
    return parse_config(data, source=str(path))


def parse_config(data: object, *, source: str = "<memory>") -> RoutingConfig:
    """Check a decoded JSON document and build the configuration from it."""
    return _Parser(source).config(data)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> RoutingConfigError:
        return RoutingConfigError(f"routing config {self.source}: {path}: {problem}")

    def obj(
        self, value: object, path: str, required: set[str], optional: set[str]
    ) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.fail(path, "must be an object")
        missing = sorted(required - value.keys())
        if missing:
            raise self.fail(path, f"missing {', '.join(missing)}")
        unknown = sorted(value.keys() - required - optional)
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            raise self.fail(path, f"unknown key {unknown[0]!r} (allowed: {allowed})")
        return value

    def text(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a non-empty string")
        return value

    def items(self, value: object, path: str) -> list[object]:
        if not isinstance(value, list):
            raise self.fail(path, "must be a list")
        return value

    def texts(self, value: object, path: str) -> frozenset[str]:
        return frozenset(
            self.text(v, f"{path}[{i}]") for i, v in enumerate(self.items(value, path))
        )

    def choice(self, value: object, path: str, allowed: tuple[_L, ...]) -> _L:
        for option in allowed:
            if value == option:
                return option
        raise self.fail(path, f"must be one of {', '.join(allowed)}; got {value!r}")

    def choices(self, value: object, path: str, allowed: tuple[_L, ...]) -> frozenset[_L]:
        items = self.items(value, path)
        return frozenset(self.choice(v, f"{path}[{i}]", allowed) for i, v in enumerate(items))

    def area(self, value: object, path: str) -> Area:
        return self.choice(value, path, AREAS)

    def config(self, data: object) -> RoutingConfig:
        top = self.obj(
            data, "$", {"version", "queues", "routes", "fallback_queue", "agents"}, set()
        )
        queues: dict[str, Queue] = {}
        for i, raw in enumerate(self.items(top["queues"], "queues")):
            queue = self.queue(raw, f"queues[{i}]")
            if queue.queue_id in queues:
                raise self.fail(f"queues[{i}].queue_id", f"{queue.queue_id!r} appears twice")
            queues[queue.queue_id] = queue
        fallback = self.text(top["fallback_queue"], "fallback_queue")
        if fallback not in queues:
            raise self.fail("fallback_queue", f"no queue {fallback!r}")
        routes: list[Route] = []
        for i, raw in enumerate(self.items(top["routes"], "routes")):
            route = self.route(raw, f"routes[{i}]", queues)
            if any(
                (r.area, r.region, r.urgent) == (route.area, route.region, route.urgent)
                for r in routes
            ):
                raise self.fail(
                    f"routes[{i}]", "the same area, region and urgent as an earlier route"
                )
            routes.append(route)
        agents: dict[str, AgentProfile] = {}
        for i, raw in enumerate(self.items(top["agents"], "agents")):
            agent = self.agent(raw, f"agents[{i}]")
            if agent.agent_id in agents:
                raise self.fail(f"agents[{i}].agent_id", f"{agent.agent_id!r} appears twice")
            agents[agent.agent_id] = agent
        version = self.text(top["version"], "version")
        return RoutingConfig(version, queues, tuple(routes), fallback, agents)

    def queue(self, raw: object, path: str) -> Queue:
        q = self.obj(
            raw,
            path,
            {"queue_id", "areas", "rule"},
            {"regions", "required_skills", "sticky", "escalation"},
        )
        areas = self.choices(q["areas"], f"{path}.areas", AREAS)
        if not areas:
            raise self.fail(f"{path}.areas", "must name at least one area")
        sticky = q.get("sticky", False)
        if not isinstance(sticky, bool):
            raise self.fail(f"{path}.sticky", "must be true or false")
        raw_steps = self.items(q.get("escalation", [{"pool": "all"}]), f"{path}.escalation")
        if not raw_steps:
            raise self.fail(f"{path}.escalation", "must have at least one step")
        last = len(raw_steps) - 1
        steps = tuple(
            self.step(s, f"{path}.escalation[{i}]", i == last) for i, s in enumerate(raw_steps)
        )
        return Queue(
            queue_id=self.text(q["queue_id"], f"{path}.queue_id"),
            areas=areas,
            regions=self.texts(q.get("regions", []), f"{path}.regions"),
            rule=self.choice(q["rule"], f"{path}.rule", RULES),
            required_skills=self.texts(q.get("required_skills", []), f"{path}.required_skills"),
            sticky=sticky,
            steps=steps,
        )

    def step(self, raw: object, path: str, is_last: bool) -> EscalationStep:
        s = self.obj(raw, path, {"pool"}, {"roles", "skills", "timeout_seconds"})
        seconds = s.get("timeout_seconds")
        if is_last and seconds is not None:
            raise self.fail(
                f"{path}.timeout_seconds", "the last step has no next one: must be null"
            )
        if not is_last and (
            isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0
        ):
            raise self.fail(f"{path}.timeout_seconds", "must be a positive whole number of seconds")
        return EscalationStep(
            pool=self.text(s["pool"], f"{path}.pool"),
            roles=self.choices(s.get("roles", []), f"{path}.roles", ROLES),
            skills=self.texts(s.get("skills", []), f"{path}.skills"),
            timeout=None if not isinstance(seconds, int) else timedelta(seconds=seconds),
        )

    def route(self, raw: object, path: str, queues: Mapping[str, Queue]) -> Route:
        r = self.obj(raw, path, {"area", "queue"}, {"region", "urgent"})
        queue_id = self.text(r["queue"], f"{path}.queue")
        if queue_id not in queues:
            raise self.fail(f"{path}.queue", f"no queue {queue_id!r}")
        region = r.get("region")
        urgent = r.get("urgent")
        if urgent is not None and not isinstance(urgent, bool):
            raise self.fail(f"{path}.urgent", "must be true, false or null")
        return Route(
            area=self.area(r["area"], f"{path}.area"),
            region=None if region is None else self.text(region, f"{path}.region"),
            urgent=urgent,
            queue_id=queue_id,
        )

    def agent(self, raw: object, path: str) -> AgentProfile:
        a = self.obj(raw, path, {"agent_id", "areas", "roles", "capacity"}, {"skills", "regions"})
        capacity = a["capacity"]
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise self.fail(f"{path}.capacity", "must be a whole number, 0 or more")
        return AgentProfile(
            agent_id=self.text(a["agent_id"], f"{path}.agent_id"),
            areas=self.choices(a["areas"], f"{path}.areas", AREAS),
            skills=self.texts(a.get("skills", []), f"{path}.skills"),
            regions=self.texts(a.get("regions", []), f"{path}.regions"),
            roles=self.choices(a["roles"], f"{path}.roles", ROLES),
            capacity=capacity,
        )
