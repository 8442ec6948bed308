"""An agent ends a hold no reply would end: the clocks the hold paused run again.

The facts come from `streams.cases` itself, as on the contact's stream: the agent's
PutCaseOnHold and ResumeCase are decided there, and what it writes is what the clocks read.
"""

from __future__ import annotations

from schemas.events import CasePutOnHold, CaseResumed, PutCaseOnHold, ResumeCase, SlaResumed
from streams.cases.state import ContactState
from streams.sla.domain import next_deadline
from tests.unit.cases import builders as lifecycle

from .builders import CASE, HOUR, assigned, given, local, names, one, opened, queued, sp, when

OPENED = (opened(sp(3, 2, 9)), queued(sp(3, 2, 9)), assigned(sp(3, 2, 9, 30)))  # Monday 09:00


def decided(
    contact: ContactState, command: PutCaseOnHold | ResumeCase
) -> tuple[ContactState, list[CasePutOnHold | CaseResumed]]:
    """What streams.cases writes for an agent's command it accepts: the fact the clocks read."""
    contact, outputs = lifecycle.when(contact, [command])
    facts = [o for o in outputs if isinstance(o, CasePutOnHold | CaseResumed)]
    assert facts == outputs, outputs  # accepted, not refused
    return contact, facts


def test_a_case_held_on_a_court_counts_again_once_its_agent_resumes_it() -> None:
    # Monday 10:00 put on hold, waiting on a court; Wednesday 10:00 Ana resumes it.
    contact, hold = decided(
        lifecycle.given(*OPENED), lifecycle.ask_hold(CASE, sp(3, 2, 10), "external")
    )
    clocks, paused = when(given(*OPENED), hold)
    assert names(paused) == ["SlaPaused", "SlaPaused"]
    assert next_deadline(clocks) is None

    _, resume = decided(contact, lifecycle.ask_resume(CASE, sp(3, 4, 10)))
    clocks, outputs = when(clocks, resume)

    assert [(type(e), e.reason) for e in resume] == [(CaseResumed, "agent")]
    assert names(outputs) == ["SlaResumed", "SlaResumed"]
    first = one(SlaResumed, outputs, "first_response")
    assert (first.elapsed_ms, first.paused_ms) == (1 * HOUR, 48 * HOUR)
    assert local(first.deadline_at) == local(sp(3, 4, 17))  # the 6h left, from Wednesday 10:00
    assert next_deadline(clocks) is not None
