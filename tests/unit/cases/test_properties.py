"""Invariants of the lifecycle over any interleaving of messages, ticks, case facts and agents'
commands (some of them redelivered)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas.events import (
    CaseClosed,
    CaseOpened,
    CasePutOnHold,
    CaseReopened,
    ClockTicked,
    CloseReason,
    CommandRefused,
    HoldReason,
    MessageReceived,
    MessageSent,
)
from streams.cases.domain import decide, handle
from streams.cases.state import (
    Command,
    ContactState,
    Input,
    Output,
    evolve,
    reminder_message_id,
)

from . import builders as b

FACTS = ("triaged", "queued", "assigned", "released", "transferred", "hold", "resume", "close")
COMMANDS = ("reply", "ask_hold", "ask_close")
RECENT = 5  # a command is redelivered within this many inputs: well inside the fact window
HOLD_REASONS: tuple[HoldReason, ...] = ("documents_pending", "external", "waiting_on_citizen")
CLOSE_REASONS: tuple[CloseReason, ...] = ("resolved", "ineligible", "withdrawn")

minutes = st.one_of(st.just(0), st.integers(0, 10), st.integers(0, 60 * 24 * 4))
lag = st.one_of(st.just(0), st.integers(0, 30), st.integers(0, 180))  # an older event, late
step = st.one_of(
    st.tuples(st.just("message"), minutes, st.one_of(st.none(), st.integers(0, 50)), lag),
    st.tuples(st.just("tick"), minutes, st.none(), st.just(0)),
    st.tuples(st.just("agent"), minutes, st.none(), lag),
    st.tuples(st.sampled_from(FACTS), minutes, st.integers(0, 2), lag),
    # an agent's command: from whoever holds the case (None), or from agent-0..2
    st.tuples(st.sampled_from(COMMANDS), minutes, st.none() | st.integers(0, 2), st.just(0)),
    st.tuples(st.just("again"), minutes, st.integers(0, 50), st.just(0)),
)
Step = tuple[str, int, int | None, int]
steps = st.lists(step, max_size=40)
# a case opened and assigned to agent-0 first, so that many commands come from its holder
assigned_first: list[Step] = [("message", 0, None, 0), ("assigned", 5, 0, 0)]
steps_after_assignment = st.lists(step, max_size=40).map(lambda rest: [*assigned_first, *rest])


@dataclass
class Run:
    """What the processor saw and did: the inputs, the state before each, the outputs of each."""

    inputs: list[Input] = field(default_factory=list)
    before: list[ContactState] = field(default_factory=list)
    outputs: list[list[Output]] = field(default_factory=list)
    final: ContactState = field(default_factory=lambda: ContactState(contact_id=b.CONTACT))


def run(plan: Sequence[Step]) -> Run:
    """Turn a plan into concrete events against the live state, handling each in turn."""
    result = Run()
    now = b.T0
    messages: list[MessageReceived] = []
    for kind, advance, arg, late in plan:
        now += timedelta(minutes=advance)
        event = _event(
            kind, arg, now - timedelta(minutes=late), result.final, messages, result.inputs
        )
        if event is None:
            continue
        if isinstance(event, MessageReceived) and event not in messages:
            messages.append(event)
        result.before.append(result.final)
        result.inputs.append(event)
        result.final, out = handle(result.final, event, b.POLICY)
        result.outputs.append(out)
    return result


def _event(
    kind: str,
    arg: int | None,
    now: datetime,
    state: ContactState,
    messages: list[MessageReceived],
    inputs: list[Input],
) -> Input | None:
    if kind == "message":
        if arg is not None and messages:  # a provider redelivery, possibly much later
            return replace(messages[arg % len(messages)], occurred_at=now)
        return b.received(len(messages), now)
    if kind == "tick":
        return b.tick(now)
    if kind in COMMANDS or kind == "again":
        return _command(kind, arg, now, state, inputs)
    case = state.case
    if case is None:
        return None
    facts: dict[str, Input] = {
        "agent": b.agent_replied(case.case_id, now),
        "triaged": b.triaged(case.case_id, now),
        "queued": b.queued(case.case_id, now),
        "assigned": b.assigned(case.case_id, now, agent_id=f"agent-{arg}"),
        "released": b.released(case.case_id, now, agent_id=f"agent-{arg}"),
        "transferred": b.transferred(case.case_id, now, f"agent-{arg}" if arg else None),
        "hold": b.put_on_hold(case.case_id, now, HOLD_REASONS[(arg or 0) % 3]),
        "resume": b.resumed_by_agent(case.case_id, now),
        "close": b.closed_by_agent(case.case_id, now, CLOSE_REASONS[(arg or 0) % 3]),
    }
    return facts[kind]


def _command(
    kind: str, arg: int | None, now: datetime, state: ContactState, inputs: list[Input]
) -> Input | None:
    """An agent's command on the contact's case (or on a case it never had), from its holder
    (arg None) or agent-<arg>; or a recent command again, as the gateway would retry it."""
    if kind == "again":
        recent = [e for e in inputs[-RECENT:] if isinstance(e, Command)]
        return recent[(arg or 0) % len(recent)] if recent else None
    case = state.case
    case_id = case.case_id if case else "case-never-opened"
    holder = case.agent_id if case else None
    agent = f"agent-{arg}" if arg is not None else holder or "agent-0"
    n = arg or int(now.timestamp()) // 60
    if kind == "reply":
        return b.send_reply(case_id, now, agent_id=agent)
    if kind == "ask_hold":
        return b.ask_hold(case_id, now, HOLD_REASONS[n % 3], agent_id=agent)
    return b.ask_close(case_id, now, CLOSE_REASONS[n % 3], agent_id=agent)


@settings(max_examples=300, deadline=None)
@given(st.one_of(steps, steps_after_assignment))
def test_a_command_is_answered_once_and_a_redelivery_adds_no_second_fact(plan: list[Step]) -> None:
    result = run(plan)
    answered: set[str] = set()

    for event, out in zip(result.inputs, result.outputs, strict=True):
        if not isinstance(event, Command):
            continue
        if event.event_id in answered:
            assert out == [], f"{event.NAME} {event.event_id} redelivered and decided again"
            continue
        answered.add(event.event_id)
        assert len(out) == 1
        assert out[0].causation_id == event.event_id
        if isinstance(out[0], CommandRefused):
            assert out[0].command_id == event.event_id


@settings(max_examples=300, deadline=None)
@given(steps)
# a message written before its contact's case opened, taken after the case closed for good
@example([("message", 0, None, 0), ("close", 0, 1, 0), ("message", 0, None, 5)])
# the same close twice in one minute is one fact (one event id): the case reopened between
# them stays open
@example([("message", 0, None, 0), ("close", 0, 0, 0), ("message", 0, None, 0), ("close", 0, 0, 0)])
def test_a_contact_never_has_two_open_cases(plan: list[Step]) -> None:
    result = run(plan)
    open_cases: set[str] = set()
    after = [*result.before[1:], result.final][: len(result.outputs)]
    seen: set[str] = set()

    for event, out, state in zip(result.inputs, result.outputs, after, strict=True):
        redelivered = event.event_id in seen
        seen.add(event.event_id)
        for fact in (*(() if redelivered else (event,)), *out):
            if isinstance(fact, CaseOpened | CaseReopened):
                assert not open_cases, f"{fact.NAME} {fact.case_id} beside open {open_cases}"
                open_cases.add(fact.case_id)
            elif isinstance(fact, CaseClosed):
                open_cases.discard(fact.case_id)
        # and the state agrees with the log on which case is open
        assert open_cases == ({state.case.case_id} if state.case and state.case.is_open else set())


@settings(max_examples=300, deadline=None)
@given(steps, st.integers(0, 40))
def test_replaying_a_prefix_then_the_rest_equals_replaying_everything(
    plan: list[Step], cut: int
) -> None:
    inputs = run(plan).inputs
    cut = min(cut, len(inputs))

    whole, whole_out = _replay(ContactState(contact_id=b.CONTACT), inputs)
    prefix, prefix_out = _replay(ContactState(contact_id=b.CONTACT), inputs[:cut])
    rest, rest_out = _replay(prefix, inputs[cut:])

    assert rest == whole
    assert prefix_out + rest_out == whole_out


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_same_log_yields_the_same_outputs_with_distinct_ids(plan: list[Step]) -> None:
    inputs = run(plan).inputs

    first = _replay(ContactState(contact_id=b.CONTACT), inputs)
    second = _replay(ContactState(contact_id=b.CONTACT), inputs)

    assert first == second
    ids = [o.event_id for o in first[1]]
    assert len(ids) == len(set(ids))


@settings(max_examples=300, deadline=None)
@given(steps)
def test_an_inactivity_step_never_fires_twice_in_one_period(plan: list[Step]) -> None:
    result = run(plan)
    fired: dict[tuple[str, datetime, str | None], list[str]] = {}

    for event, before, out in zip(result.inputs, result.before, result.outputs, strict=True):
        if not isinstance(event, ClockTicked) or before.case is None:
            continue
        case = before.case
        actions = fired.setdefault((case.case_id, case.idle_since, case.ladder), [])
        actions.extend(_actions(out, case.case_id))
        ladder = [s.action for s in b.POLICY.steps_for(case.ladder)]
        assert actions == ladder[: len(actions)], f"{actions} is not a prefix of {ladder}"


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_processors_own_events_coming_back_change_nothing(plan: list[Step]) -> None:
    result = run(plan)
    after = [*result.before[1:], result.final][: len(result.outputs)]

    for state, out in zip(after, result.outputs, strict=True):
        for own in out:
            assert decide(state, own, b.POLICY) == []
            assert evolve(state, own) == state


def _replay(state: ContactState, inputs: Sequence[Input]) -> tuple[ContactState, list[Output]]:
    outputs: list[Output] = []
    for event in inputs:
        state, out = handle(state, event, b.POLICY)
        outputs.extend(out)
    return state, outputs


def _actions(outputs: Sequence[Output], case_id: str) -> list[str]:
    """The ladder steps these outputs carry out (notices belong to their hold or close)."""
    actions: list[str] = []
    for output in outputs:
        if isinstance(output, MessageSent) and output.sender_kind == "bot":
            assert any(output.message_id == reminder_message_id(case_id, n) for n in range(1, 99))
            actions.append("remind")
        elif isinstance(output, CasePutOnHold):
            actions.append("hold")
        elif isinstance(output, CaseClosed):
            actions.append("close")
    return actions
