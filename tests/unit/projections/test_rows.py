"""Given a clock's or an agent's row, when an event of the log is folded over it, then the
row is the table's whole row as it should stand; a redelivered event changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import (
    AgentCapacityChanged,
    AgentPresenceChanged,
    CaseAssigned,
    CaseClosed,
    CaseReleased,
    CaseTransferred,
    SlaBreached,
    SlaMet,
    SlaPaused,
    SlaResumed,
    SlaStarted,
    SlaWarned,
)
from streams.projections.rows import (
    AGENT_COLUMNS,
    CLOCK_STATUSES,
    SLA_CLOCK_COLUMNS,
    AgentEvent,
    SlaEvent,
    agent_of,
    evolve_agent,
    evolve_clock,
    evolve_holders,
    fold_agents,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TARGET_MS = 7 * 3_600_000


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def terms(minutes: int, elapsed_ms: int, deadline: datetime | None) -> dict[str, Any]:
    return {
        "event_id": f"e-{minutes}-{elapsed_ms}",
        "occurred_at": at(minutes),
        "correlation_id": "corr",
        "case_id": "case-1",
        "clock_id": "clock-1",
        "queue_id": "familia-capital",
        "metric": "first_response",
        "priority": "normal",
        "policy_id": "atendimento-geral",
        "policy_version": 1,
        "calendar_id": "office-hours",
        "target_ms": TARGET_MS,
        "elapsed_ms": elapsed_ms,
        "deadline_at": deadline,
    }


def started(minutes: int = 0, *, paused: bool = False) -> SlaStarted:
    return SlaStarted(**terms(minutes, 0, None if paused else at(minutes + 420)))


def fold(events: list[tuple[int, SlaEvent]], row: Mapping[str, Any] | None = None) -> Any:
    for version, event in events:
        row = evolve_clock(row, event, version)
    return row


def check_constraints(row: Mapping[str, Any]) -> None:
    """The CHECKs and NOT NULLs of sla_clocks, in Python."""
    assert tuple(row) == SLA_CLOCK_COLUMNS
    assert row["status"] in CLOCK_STATUSES
    assert (row["status"] == "met") == (row["met_at"] is not None)
    assert (row["met_at"] is None) == (row["within_target"] is None)
    assert row["status"] != "breached" or row["breached_at"] is not None
    assert row["target_ms"] > 0
    assert row["elapsed_ms"] >= 0
    assert row["paused_ms"] >= 0
    assert row["version"] >= 0
    assert row["started_at"] is not None
    assert (row["pause_reason"] is None) or row["status"] == "paused"


# -- sla_clocks -------------------------------------------------------------------------------


def test_a_started_clock_is_a_running_row_with_the_events_terms() -> None:
    row = evolve_clock(None, started(), 10)

    check_constraints(row)
    assert row == {
        "clock_id": "clock-1",
        "case_id": "case-1",
        "metric": "first_response",
        "queue_id": "familia-capital",
        "priority": "normal",
        "policy_id": "atendimento-geral",
        "policy_version": 1,
        "calendar_id": "office-hours",
        "status": "running",
        "pause_reason": None,
        "target_ms": TARGET_MS,
        "warning_ms": None,
        "elapsed_ms": 0,
        "paused_ms": 0,
        "deadline_at": at(420),
        "started_at": T0,
        "warned_at": None,
        "breached_at": None,
        "met_at": None,
        "within_target": None,
        "version": 10,
    }


def test_a_clock_started_without_a_deadline_started_paused() -> None:
    row = evolve_clock(None, started(paused=True), 10)

    assert row["status"] == "paused"
    assert row["pause_reason"] is None
    assert row["deadline_at"] is None


def test_a_pause_then_a_resume_counts_the_wall_time_paused() -> None:
    paused = SlaPaused(**terms(60, 3_600_000, None), pause_reason="waiting_on_citizen")
    resumed = SlaResumed(**terms(90, 3_600_000, at(450)), paused_ms=1_800_000)
    again = SlaPaused(**terms(100, 4_200_000, None), pause_reason="documents_pending")

    after_pause = fold([(1, started()), (2, paused)])
    after_resume = evolve_clock(after_pause, resumed, 3)
    after_second = evolve_clock(after_resume, again, 4)

    assert (after_pause["status"], after_pause["pause_reason"]) == ("paused", "waiting_on_citizen")
    assert after_pause["deadline_at"] is None
    assert after_pause["elapsed_ms"] == 3_600_000
    assert (after_resume["status"], after_resume["pause_reason"]) == ("running", None)
    assert after_resume["paused_ms"] == 1_800_000
    assert after_resume["deadline_at"] == at(450)
    assert after_second["pause_reason"] == "documents_pending"
    assert after_second["paused_ms"] == 1_800_000


def test_a_warning_sets_when_and_at_what_count_and_keeps_the_status() -> None:
    warned = SlaWarned(**terms(300, 5 * 3_600_000, at(420)), warning_ms=5 * 3_600_000)

    row = fold([(1, started()), (2, warned)])

    assert row["status"] == "running"
    assert (row["warned_at"], row["warning_ms"]) == (at(300), 5 * 3_600_000)


def test_a_breach_sets_breached_and_a_resume_after_it_stays_breached() -> None:
    breached = SlaBreached(**terms(420, TARGET_MS, None))
    paused = SlaPaused(**terms(430, TARGET_MS + 600_000, None), pause_reason="external")
    resumed = SlaResumed(**terms(500, TARGET_MS + 600_000, None), paused_ms=4_200_000)

    after_breach = fold([(1, started()), (2, breached)])
    after_pause = evolve_clock(after_breach, paused, 3)
    after_resume = evolve_clock(after_pause, resumed, 4)

    assert (after_breach["status"], after_breach["breached_at"]) == ("breached", at(420))
    assert after_breach["deadline_at"] is None
    assert (after_pause["status"], after_pause["breached_at"]) == ("paused", at(420))
    assert (after_resume["status"], after_resume["breached_at"]) == ("breached", at(420))


def test_a_breach_while_paused_keeps_the_clock_paused_with_breached_at() -> None:
    paused = SlaPaused(**terms(60, 3_600_000, None), pause_reason="waiting_on_citizen")
    breached = SlaBreached(**terms(70, TARGET_MS, None))  # new, shorter terms

    row = fold([(1, started()), (2, paused), (3, breached)])

    assert (row["status"], row["pause_reason"], row["breached_at"]) == (
        "paused",
        "waiting_on_citizen",
        at(70),
    )


def test_met_in_time_and_met_late() -> None:
    met = SlaMet(**terms(120, 7_200_000, None), within_target=True)
    breached = SlaBreached(**terms(420, TARGET_MS, None))
    late = SlaMet(**terms(480, TARGET_MS + 3_600_000, None), within_target=False)

    in_time = fold([(1, started()), (2, met)])
    too_late = fold([(1, started()), (2, breached), (3, late)])

    assert (in_time["status"], in_time["met_at"], in_time["within_target"]) == (
        "met",
        at(120),
        True,
    )
    assert (too_late["status"], too_late["met_at"], too_late["within_target"]) == (
        "met",
        at(480),
        False,
    )
    assert too_late["breached_at"] == at(420)


def test_met_is_final() -> None:
    met = fold([(1, started()), (2, SlaMet(**terms(120, 7_200_000, None), within_target=True))])

    after = evolve_clock(met, SlaPaused(**terms(130, 0, None), pause_reason="external"), 3)

    assert after == met


def test_every_event_carries_the_current_terms() -> None:
    requeued = {**terms(30, 1_800_000, at(60)), "queue_id": "saude-urgente", "priority": "urgent"}
    warned = SlaWarned(**{**requeued, "target_ms": 3_600_000}, warning_ms=2_700_000)

    row = fold([(1, started()), (2, warned)])

    assert (row["queue_id"], row["priority"], row["target_ms"]) == (
        "saude-urgente",
        "urgent",
        3_600_000,
    )
    assert (row["elapsed_ms"], row["deadline_at"]) == (1_800_000, at(60))


@pytest.mark.parametrize("redelivered_at", [5, 4])
def test_a_redelivered_clock_event_changes_nothing(redelivered_at: int) -> None:
    paused = SlaPaused(**terms(60, 3_600_000, None), pause_reason="waiting_on_citizen")
    row = fold([(4, started()), (5, paused)])

    again = evolve_clock(row, paused, redelivered_at)
    older = evolve_clock(row, started(), redelivered_at)

    assert again == row
    assert older == row


def test_a_clock_first_seen_after_its_start_starts_at_that_event() -> None:
    row = evolve_clock(None, SlaWarned(**terms(300, 5, at(420)), warning_ms=5), 9)

    check_constraints(row)
    assert (row["status"], row["started_at"], row["warned_at"]) == ("running", at(300), at(300))


def test_a_clock_first_seen_at_its_breach_is_breached() -> None:
    row = evolve_clock(None, SlaBreached(**terms(420, TARGET_MS, None)), 9)

    check_constraints(row)
    assert (row["status"], row["breached_at"]) == ("breached", at(420))


def test_an_event_of_another_clock_is_refused() -> None:
    row = evolve_clock(None, started(), 1)

    with pytest.raises(ValueError, match="clock-2"):
        evolve_clock(row, SlaStarted(**{**terms(1, 0, None), "clock_id": "clock-2"}), 2)


def clock_events() -> st.SearchStrategy[SlaEvent]:
    minute = st.integers(0, 10_000)
    elapsed = st.integers(0, 2 * TARGET_MS)
    deadline = st.one_of(st.none(), minute.map(at))
    base = st.builds(terms, minute, elapsed, deadline)
    return st.one_of(
        base.map(lambda t: SlaStarted(**t)),
        st.builds(
            lambda t, r: SlaPaused(**t, pause_reason=r),
            base,
            st.sampled_from(["waiting_on_citizen", "documents_pending", "external"]),
        ),
        st.builds(lambda t, p: SlaResumed(**t, paused_ms=p), base, st.integers(0, 10**8)),
        st.builds(lambda t, w: SlaWarned(**t, warning_ms=w), base, st.integers(1, TARGET_MS)),
        base.map(lambda t: SlaBreached(**t)),
        st.builds(lambda t, w: SlaMet(**t, within_target=w), base, st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(clock_events(), min_size=1, max_size=12), st.integers(0, 1000))
def test_folding_a_clocks_log_twice_gives_the_same_row_and_every_row_is_allowed(
    events: list[SlaEvent], first_offset: int
) -> None:
    log = list(enumerate(events, start=first_offset))

    rows = []
    row: dict[str, Any] | None = None
    for version, event in log:
        row = evolve_clock(row, event, version)
        rows.append(row)
    replayed = fold(log, row)
    halfway = fold(log[len(log) // 2 :], fold(log))

    for each in rows:
        check_constraints(each)
    assert replayed == row
    assert halfway == row
    assert row is not None
    assert row["version"] <= log[-1][0]


# -- agents -----------------------------------------------------------------------------------


def common(minutes: int) -> dict[str, Any]:
    return {"event_id": f"r-{minutes}", "occurred_at": at(minutes), "correlation_id": "corr"}


def presence(agent: str, value: Any, minutes: int = 0) -> AgentPresenceChanged:
    return AgentPresenceChanged(
        **common(minutes), agent_id=agent, presence=value, changed_at=at(minutes)
    )


def capacity(agent: str, value: int, minutes: int = 0) -> AgentCapacityChanged:
    return AgentCapacityChanged(
        **common(minutes), agent_id=agent, capacity=value, changed_at=at(minutes)
    )


def assigned(case: str, agent: str, minutes: int = 0) -> CaseAssigned:
    return CaseAssigned(
        **common(minutes),
        case_id=case,
        agent_id=agent,
        queue_id="familia-capital",
        routing_decision_id=f"d-{case}",
    )


def released(case: str, agent: str, minutes: int = 0) -> CaseReleased:
    return CaseReleased(
        **common(minutes),
        case_id=case,
        agent_id=agent,
        queue_id="familia-capital",
        reason="agent_request",
    )


def transferred(case: str, agent: str | None, to: str | None, minutes: int = 0) -> CaseTransferred:
    return CaseTransferred(
        **common(minutes),
        subject_id="citizen",
        case_id=case,
        from_queue_id="familia-capital",
        from_agent_id=agent,
        to_queue_id="saude-urgente",
        to_agent_id=to,
    )


def closed(case: str, minutes: int = 0) -> CaseClosed:
    return CaseClosed(**common(minutes), case_id=case, reason="resolved")


def agents(events: list[AgentEvent], **start: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    rows, _ = fold_agents(start, {}, list(enumerate(events)))
    return rows


def test_an_agent_first_seen_gets_presence_and_the_tables_defaults() -> None:
    row = evolve_agent(None, presence("ana", "available", 5), 3)

    assert row == {
        "agent_id": "ana",
        "presence": "available",
        "presence_since": at(5),
        "capacity": 0,
        "open_cases": 0,
        "last_assigned_at": None,
        "version": 3,
    }
    assert tuple(row) == AGENT_COLUMNS


def test_capacity_changes_only_the_capacity() -> None:
    rows = agents([presence("ana", "available"), capacity("ana", 5)])

    assert (rows["ana"]["presence"], rows["ana"]["capacity"]) == ("available", 5)


def test_assignments_count_open_cases_and_the_last_assignment() -> None:
    rows = agents([assigned("c1", "ana", 1), assigned("c2", "ana", 7), assigned("c3", "bia", 8)])

    assert (rows["ana"]["open_cases"], rows["ana"]["last_assigned_at"]) == (2, at(7))
    assert rows["bia"]["open_cases"] == 1


def test_a_case_assigned_twice_to_its_holder_counts_once() -> None:
    rows = agents([assigned("c1", "ana", 1), assigned("c1", "ana", 2)])

    assert rows["ana"]["open_cases"] == 1
    assert rows["ana"]["last_assigned_at"] == at(2)


def test_release_transfer_and_close_end_the_hold_of_who_held_the_case() -> None:
    rows = agents(
        [
            assigned("c1", "ana"),
            assigned("c2", "ana"),
            assigned("c3", "ana"),
            assigned("c4", "bia"),
            released("c1", "ana"),
            transferred("c2", "ana", "bia"),
            assigned("c2", "bia"),
            closed("c3"),
            closed("c4"),
        ]
    )

    assert (rows["ana"]["open_cases"], rows["bia"]["open_cases"]) == (0, 1)


def test_closing_a_case_nobody_holds_changes_no_agent() -> None:
    holder = evolve_holders({}, released("c1", "ana"))

    assert agent_of(closed("c1"), holder.get("c1")) is None
    assert evolve_agent(None, closed("c1"), 5, holder=None) is None
    assert (
        agents([assigned("c1", "ana"), released("c1", "ana"), closed("c1")])["ana"]["open_cases"]
        == 0
    )


def test_a_transfer_from_a_queue_changes_no_agent() -> None:
    assert agent_of(transferred("c1", None, "ana"), None) is None


def test_open_cases_never_go_below_zero() -> None:
    rows = agents([released("c9", "ana"), transferred("c8", "ana", None)])

    assert rows["ana"]["open_cases"] == 0


@pytest.mark.parametrize("redelivered_at", [2, 1])
def test_a_redelivered_routing_event_changes_nothing(redelivered_at: int) -> None:
    row = evolve_agent(None, assigned("c1", "ana"), 1)
    row = evolve_agent(row, assigned("c2", "ana"), 2)

    again = evolve_agent(row, assigned("c2", "ana"), redelivered_at)
    released_again = evolve_agent(row, released("c1", "ana"), redelivered_at, holder="ana")

    assert again == row
    assert released_again == row


def test_a_redelivered_batch_folds_to_the_same_rows_and_holders() -> None:
    log: list[tuple[int, AgentEvent]] = list(
        enumerate([assigned("c1", "ana"), assigned("c2", "ana"), closed("c1")], start=10)
    )
    rows, held = fold_agents({}, {}, log)

    again, held_again = fold_agents(rows, {"c1": "ana", "c2": "ana"}, log)

    assert (again, held_again) == (rows, held)
    assert held == {"c2": "ana"}
    assert rows["ana"]["open_cases"] == 1


def test_an_event_of_another_agent_is_refused() -> None:
    row = evolve_agent(None, presence("ana", "away"), 1)

    with pytest.raises(ValueError, match="bia"):
        evolve_agent(row, presence("bia", "away"), 2)


def routing_events() -> st.SearchStrategy[AgentEvent]:
    agent = st.sampled_from(["ana", "bia"])
    case = st.sampled_from(["c1", "c2", "c3"])
    return st.one_of(
        st.builds(assigned, case, agent),
        st.builds(released, case, agent),
        st.builds(transferred, case, st.one_of(st.none(), agent), st.one_of(st.none(), agent)),
        st.builds(closed, case),
        st.builds(capacity, agent, st.integers(0, 10)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(routing_events(), max_size=30))
def test_open_cases_are_never_negative_and_a_replayed_log_changes_nothing(
    events: list[AgentEvent],
) -> None:
    log = list(enumerate(events))
    rows: dict[str, dict[str, Any]] = {}
    held: dict[str, str] = {}
    for entry in log:
        rows, held = fold_agents(rows, held, [entry])
        assert all(row["open_cases"] >= 0 for row in rows.values())

    replayed, held_again = fold_agents(rows, {}, log)

    assert (replayed, held_again) == (rows, held)
