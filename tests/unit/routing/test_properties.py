"""Properties over random days at the office: agents come and go, capacity changes, cases are
triaged, claimed, released, transferred, closed and reopened, agents ask to transfer cases and
to change their presence and capacity, facts and commands are redelivered, and time passes.

After every fact: nobody above capacity, never two agents on one case, and no waiting case
(outside manual queues) while an agent who could take it sits free. Over the whole day:
the same log gives the same decisions, and replaying the log rebuilds the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import Codec, SchemaSet
from schemas.events import (
    AgentCapacityChanged,
    AgentPresenceChanged,
    CaseAssigned,
    CaseClosed,
    CaseQueued,
    CaseReleased,
    CaseReopened,
    CaseTransferred,
    CaseTriaged,
    ChangeCapacity,
    ChangePresence,
    ClockTicked,
    CommandRefused,
    RoutingDecided,
    TransferCase,
)
from schemas.personal import InMemoryKeyRing
from streams.routing.claims import ClaimRefused, claim
from streams.routing.config import RoutingConfig, parse_config
from streams.routing.domain import RouterInput, RouterOutput, RouterState, handle, replay
from streams.routing.policies import view
from streams.routing.state import RouterCommand, RouterEvent, evolve

from .builders import OFFICE, T0

# the test office with one case per generalist, so that agents fill up and free up often
CONFIG = parse_config(
    {**OFFICE, "agents": [{**a, "capacity": min(a["capacity"], 1)} for a in OFFICE["agents"]]},
    source="tight office",
)

AGENTS = ["ana", "bia", "caio", "vd-spec", "vd-gen", "vd-sup", "ghost"]  # ghost has no profile
AREAS = ["familia", "saude", "consumidor", "previdencia", "moradia", "other", "violencia_domestica"]
CASES = [f"c{n}" for n in range(5)]

presence = st.tuples(
    st.just("presence"),
    st.sampled_from(AGENTS),
    st.sampled_from(["available", "available", "available", "away", "offline"]),
)
triage = st.tuples(
    st.just("triage"),
    st.sampled_from(CASES),
    st.sampled_from(AREAS),
    st.sampled_from(["urgent", "high", "normal", "low"]),
    st.sampled_from(["s0", "s1", "s2"]),
)
# an agent asks to transfer a case: its holder (True), mostly, or someone else
ask_transfer = st.tuples(
    st.just("ask_transfer"),
    st.sampled_from(CASES),
    st.sampled_from([*sorted(CONFIG.queues), "nowhere"]),
    st.sampled_from([None, None, None, *AGENTS]),
    st.sampled_from([True, True, True, False]),
)
action = st.one_of(
    presence,
    presence,
    triage,
    triage,
    triage,
    st.tuples(st.just("capacity"), st.sampled_from(AGENTS), st.integers(0, 3)),
    st.tuples(st.just("close"), st.sampled_from(CASES)),
    st.tuples(st.just("release"), st.sampled_from(CASES)),
    st.tuples(
        st.just("transfer"),
        st.sampled_from(CASES),
        st.sampled_from(sorted(CONFIG.queues)),
        st.sampled_from([None, *AGENTS]),
    ),
    st.tuples(st.just("reopen"), st.sampled_from(CASES)),
    st.tuples(st.just("claim"), st.sampled_from(CASES), st.sampled_from(AGENTS)),
    st.tuples(st.just("tick")),
    st.tuples(st.just("tick")),
    st.tuples(st.just("redeliver"), st.integers(0, 1000)),
    # agents' commands
    ask_transfer,
    ask_transfer,
    st.tuples(
        st.just("ask_presence"),
        st.sampled_from(AGENTS),
        st.sampled_from(["available", "available", "away", "offline", "unknown"]),
    ),
    st.tuples(st.just("ask_capacity"), st.sampled_from(AGENTS), st.integers(-1, 3)),
)
day = st.builds(
    lambda opening, rest: [((("presence", a, "available")), 0) for a in opening] + rest,
    st.lists(st.sampled_from(AGENTS), unique=True),  # who is online when the day starts
    st.lists(st.tuples(action, st.integers(0, 120)), min_size=10, max_size=80),
)


@dataclass
class Day:
    """One run: each step is an input and its outputs, or a claim (no input) and its outputs."""

    state: RouterState = field(default_factory=RouterState)
    inputs: list[RouterInput] = field(default_factory=list)
    steps: list[tuple[RouterInput | None, list[RouterOutput]]] = field(default_factory=list)

    @property
    def log(self) -> list[RouterEvent]:
        """Inputs and outputs in log order."""
        return [e for event, outputs in self.steps for e in ([event] if event else []) + outputs]

    @property
    def outputs(self) -> list[list[RouterOutput]]:
        return [outputs for _, outputs in self.steps]


def live(actions: list[tuple[tuple[Any, ...], int]], config: RoutingConfig = CONFIG) -> Day:
    run = Day()
    now = T0
    for n, (act, seconds) in enumerate(actions):
        now += timedelta(seconds=seconds)
        if act[0] == "claim":
            result = claim(
                run.state, act[1], act[2], now, config, command_id=f"claim-{n}", correlation_id="k"
            )
            outputs = [] if isinstance(result, ClaimRefused) else result
            before = run.state
            run.state = replay(outputs, run.state)
            check_step(before, outputs, run.state, config)
            run.steps.append((None, outputs))
            continue
        fact = materialize(act, n, now, run)
        if fact is None:
            continue
        applied = evolve(run.state, fact)  # the fact itself, before the router's reaction
        run.state, outputs = handle(run.state, fact, config)
        check_step(applied, outputs, run.state, config)
        run.inputs.append(fact)
        run.steps.append((fact, outputs))
    return run


def materialize(act: tuple[Any, ...], n: int, now: datetime, run: Day) -> RouterInput | None:
    eid, kind = f"e{n}", act[0]
    if kind == "presence":
        return AgentPresenceChanged(
            event_id=eid,
            occurred_at=now,
            correlation_id="a",
            agent_id=act[1],
            presence=act[2],
            changed_at=now,
        )
    if kind == "capacity":
        return AgentCapacityChanged(
            event_id=eid,
            occurred_at=now,
            correlation_id="a",
            agent_id=act[1],
            capacity=act[2],
            changed_at=now,
        )
    if kind == "triage":
        return CaseTriaged(
            event_id=eid,
            occurred_at=now,
            correlation_id=act[1],
            subject_id=act[4],
            case_id=act[1],
            area=act[2],
            priority=act[3],
            rules_version="r",
        )
    if kind == "close":
        return CaseClosed(
            event_id=eid, occurred_at=now, correlation_id=act[1], case_id=act[1], reason="resolved"
        )
    if kind == "release":
        holder = run.state.assignments.get(
            act[1], "ana"
        )  # not the holder: a release that changes nothing
        info = run.state.cases.get(act[1])
        return CaseReleased(
            event_id=eid,
            occurred_at=now,
            correlation_id=act[1],
            case_id=act[1],
            agent_id=holder,
            queue_id=(info.queue_id if info else None) or "balanced",
            reason="agent_request",
        )
    if kind == "transfer":
        return CaseTransferred(
            event_id=eid,
            occurred_at=now,
            correlation_id=act[1],
            subject_id="s0",
            case_id=act[1],
            from_queue_id="balanced",
            from_agent_id=run.state.assignments.get(act[1]),
            to_queue_id=act[2],
            to_agent_id=act[3],
        )
    if kind == "reopen":
        return CaseReopened(
            event_id=eid,
            occurred_at=now,
            correlation_id=act[1],
            case_id=act[1],
            previous_closed_at=now,
            previous_close_reason="resolved",
        )
    if kind == "tick":
        return ClockTicked(
            event_id=eid,
            occurred_at=now,
            correlation_id="t",
            source="timer-0",
            sequence=n,
            tick_at=now,
            interval_ms=1000,
        )
    if kind.startswith("ask_"):
        return ask(act, eid, now, run)
    if kind == "redeliver" and run.inputs:
        redelivered: RouterInput = run.inputs[int(act[1]) % len(run.inputs)]
        return redelivered
    return None


def ask(act: tuple[Any, ...], eid: str, now: datetime, run: Day) -> RouterInput:
    envelope: dict[str, Any] = {"event_id": eid, "occurred_at": now, "correlation_id": "g"}
    if act[0] == "ask_transfer":
        held = sorted(run.state.assignments.items())
        # by a holder, of one of their cases; or by bia, of any case (hers or not)
        case_id, agent_id = (
            held[CASES.index(act[1]) % len(held)] if act[4] and held else (act[1], "bia")
        )
        return TransferCase(
            **envelope,
            subject_id="s0",
            case_id=case_id,
            contact_id=f"contact-{case_id}",
            agent_id=agent_id,
            to_queue_id=act[2],
            to_agent_id=act[3],
            note="nota",
        )
    if act[0] == "ask_presence":
        return ChangePresence(**envelope, agent_id=act[1], presence=act[2])
    return ChangeCapacity(**envelope, agent_id=act[1], capacity=act[2])


def check_step(
    before: RouterState, outputs: list[RouterOutput], after: RouterState, config: RoutingConfig
) -> None:
    state = before
    decided: dict[str, RoutingDecided] = {}
    queued_now: set[str] = set()
    for event in outputs:
        if isinstance(event, CaseQueued):
            queued_now.add(event.case_id)
        if isinstance(event, RoutingDecided):
            decided[event.event_id] = event
            if event.chosen_agent_id is None:  # a case keeps waiting: said once, not every pass
                step_before = state.waiting[event.case_id].step
                assert event.case_id in queued_now or step_before != event.escalation_step
        if isinstance(event, CaseAssigned):
            agent = view(state, config, event.agent_id)
            assert agent.open_cases < agent.capacity, f"{event.agent_id} above capacity"
            assert event.case_id not in state.assignments, f"{event.case_id} already has an agent"
            decision = decided[event.routing_decision_id]
            assert (decision.case_id, decision.chosen_agent_id) == (event.case_id, event.agent_id)
        state = evolve(state, event)
    one_agent_per_case(after)
    no_idle_agent_while_a_case_waits(after, config)


def one_agent_per_case(state: RouterState) -> None:
    seen: dict[str, str] = {}
    for agent_id, agent in state.agents.items():
        for case_id in agent.open_cases:
            assert case_id not in seen, f"{case_id} held by {seen[case_id]} and {agent_id}"
            seen[case_id] = agent_id
    assert seen == dict(state.assignments)
    assert not set(state.waiting) & set(state.assignments)


def no_idle_agent_while_a_case_waits(state: RouterState, config: RoutingConfig) -> None:
    """An oracle written apart from the policies: who could take each waiting case right now."""
    for entry in state.waiting.values():
        queue = config.queues[entry.queue_id]
        if queue.rule == "manual":
            continue
        step = queue.steps[entry.step]
        excluded = state.cases[entry.case_id].excluded
        for profile in config.agents.values():
            live_agent = state.agents.get(profile.agent_id)
            if live_agent is None or live_agent.presence != "available":
                continue
            capacity = profile.capacity if live_agent.capacity is None else live_agent.capacity
            could = (
                bool(profile.areas & queue.areas)
                and (not step.roles or bool(profile.roles & step.roles))
                and (queue.required_skills | step.skills) <= profile.skills
                and profile.agent_id not in excluded
                and len(live_agent.open_cases) < capacity
            )
            assert not could, (
                f"{profile.agent_id} is free while {entry.case_id} waits in {entry.queue_id}"
            )


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(day)
def test_invariants_hold_after_every_fact(actions: list[tuple[tuple[Any, ...], int]]) -> None:
    live(actions)  # check_step asserts after each fact


@SETTINGS
@given(day)
def test_the_same_log_gives_the_same_decisions(actions: list[tuple[tuple[Any, ...], int]]) -> None:
    first, second = live(actions), live(actions)

    assert first.outputs == second.outputs
    assert first.state == second.state


@SETTINGS
@given(day)
def test_replaying_the_log_rebuilds_the_state(actions: list[tuple[tuple[Any, ...], int]]) -> None:
    run = live(actions)

    assert replay(run.log) == run.state
    assert replay(run.log + run.log) == run.state  # a log read twice: every fact once


@SETTINGS
@given(day, st.integers(0, 80))
def test_a_router_restarted_from_the_replayed_log_decides_the_same(
    actions: list[tuple[tuple[Any, ...], int]], cut: int
) -> None:
    run = live(actions)
    cut = min(cut, len(run.steps))
    restarted = replay(
        e for event, outputs in run.steps[:cut] for e in [*([event] if event else []), *outputs]
    )

    for event, outputs in run.steps[cut:]:
        if event is None:  # a claim: its outputs are the facts
            restarted = replay(outputs, restarted)
            continue
        restarted, again = handle(restarted, event, CONFIG)
        assert again == outputs

    assert restarted == run.state


@settings(max_examples=30, deadline=None)
@given(day)
def test_every_output_fits_the_event_contract(actions: list[tuple[tuple[Any, ...], int]]) -> None:
    codec = Codec(SchemaSet.from_dirs())
    ring = InMemoryKeyRing()  # a transfer's note is personal
    ids = set()
    for outputs in live(actions).outputs:
        for event in outputs:
            codec.encode(event.NAME, event.to_record(), ring)
            assert event.event_id not in ids
            ids.add(event.event_id)


@SETTINGS
@given(day)
def test_a_command_is_answered_once_and_a_redelivery_adds_no_second_fact(
    actions: list[tuple[tuple[Any, ...], int]],
) -> None:
    answered: set[str] = set()

    for event, outputs in live(actions).steps:
        if not isinstance(event, RouterCommand):
            continue
        if event.event_id in answered:
            assert outputs == [], f"{event.NAME} {event.event_id} redelivered and decided again"
            continue
        answered.add(event.event_id)
        refused = [o for o in outputs if isinstance(o, CommandRefused)]
        assert outputs
        assert outputs[0].causation_id == event.event_id
        assert refused in ([], [outputs[0]])  # refused: that is all; accepted: its fact first
