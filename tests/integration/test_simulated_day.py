"""A simulated day through the real broker: citizens write in, the bot triages, the router
assigns, agents come and go, the timer's tick drives inactivity and escalation. Every case
ends assigned, waiting with a reason, or closed by a rule; none is lost or silently dropped."""

from __future__ import annotations

from collections import Counter

from streams.demo.day import DayOutcome, run_day
from streams.demo.people import goes_silent, is_urgent
from streams.routing.config import load_config
from streams.shared.contract import Contract
from streams.shared.settings import Settings

CITIZENS = 2000
AREAS = {
    "familia",
    "criminal",
    "saude",
    "moradia",
    "previdencia",
    "consumidor",
    "violencia_domestica",
    "infancia_juventude",
    "idoso",
    "execucao_penal",
}


async def test_a_day_of_2000_citizens(settings: Settings, contract: Contract) -> None:
    day = await run_day(settings, contract, CITIZENS)

    every_case_ends_assigned_waiting_with_a_reason_or_closed_by_a_rule(day)
    silent_citizens_are_closed_by_the_inactivity_rule(day)
    urgent_citizens_are_triaged_urgent_and_never_left_unrouted(day)
    every_area_is_triaged_and_nobody_goes_above_capacity(day)
    agents_who_arrive_at_midday_take_cases_and_those_who_left_take_none_after(day)


def contact_number(contact_id: str) -> int:
    return int(contact_id.split("-")[1])


def every_case_ends_assigned_waiting_with_a_reason_or_closed_by_a_rule(
    day: DayOutcome,
) -> None:
    assert len(day.opened) == CITIZENS
    assert not day.unaccounted, f"{len(day.unaccounted)} cases neither assigned, waiting nor closed"
    assert day.assigned
    assert day.waiting
    assert all(reason for reason in day.waiting.values())


def silent_citizens_are_closed_by_the_inactivity_rule(day: DayOutcome) -> None:
    silent = {c for c, contact in day.opened.items() if goes_silent(contact_number(contact))}
    assert silent
    assert all(day.closed.get(c) == "auto_closed_inactivity" for c in silent)
    assert all(reason == "auto_closed_inactivity" for reason in day.closed.values())


def urgent_citizens_are_triaged_urgent_and_never_left_unrouted(day: DayOutcome) -> None:
    urgent = {c for c, t in day.triaged.items() if t["priority"] == "urgent"}
    expected = {c for c, contact in day.opened.items() if is_urgent(contact_number(contact))}
    assert urgent == expected
    assert urgent <= set(day.assigned) | set(day.waiting)


def every_area_is_triaged_and_nobody_goes_above_capacity(day: DayOutcome) -> None:
    assert {t["area"] for t in day.triaged.values()} >= AREAS
    per_agent = Counter(day.assigned.values())
    capacity = {a: p.capacity for a, p in load_config().agents.items()}
    assert all(n <= capacity[a] for a, n in per_agent.items())
    assert len(per_agent) > len(capacity) // 2  # the work is spread over the office
    assigned_events = [e.record["case_id"] for e in day.events if e.name == "CaseAssigned"]
    assert len(assigned_events) == len(set(assigned_events)), "a case was assigned twice"


def agents_who_arrive_at_midday_take_cases_and_those_who_left_take_none_after(
    day: DayOutcome,
) -> None:
    agents = sorted(load_config().agents)
    late = {a for i, a in enumerate(agents) if i % 4 == 3}
    gone = {a for i, a in enumerate(agents) if i % 8 in (1, 5)}
    noon = min(
        e.record["occurred_at"]
        for e in day.events
        if e.name == "CaseAssigned" and e.record["agent_id"] in late
    )
    assert set(day.assigned.values()) & late
    after_noon = [
        e.record["agent_id"]
        for e in day.events
        if e.name == "CaseAssigned" and e.record["occurred_at"] > noon
    ]
    assert not set(after_noon) & gone
