"""Wiring of the SLA clocks into the runtime: keys, the policy in force, alarms.

The SLA processor reads `acolhe.conversations`, like the conversation processor: every
event its clocks depend on (case facts, citizens' and agents' messages, ticks) is there,
in one order per contact. Its state is kept per contact: the clocks of the contact's open
cases (one, nearly always). A citizen's message names no case (`MessageReceived.case_id` is
null); it belongs to the contact's latest open case. When a contact has no clock left the
key is deleted (a tombstone in the changelog), so memory follows the open cases, not every
citizen ever served.

The policy in force, calendars included, is the partition's context
(`streams.shared.runtime`): the changes of policy (`SlaPolicyChanged`) and of calendar
(`CalendarChanged`), written into every partition of the topic, are folded into it in log
order over the files' policy and calendars, and each reaches every open case of the
partition, so a replay applies each change at the same point of every case's history. The
context is written to the changelog with the states, so a restart keeps the changes.

A change of calendar is handed to the cases with the policy before it and the policy after
it: the clocks keep the time counted in the old calendar up to the change. Only the change
just folded moves clocks; a later copy of it (published again: same id, another instant)
moves none, because the cases took it already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from schemas.events import CalendarChanged, ClockTicked, MessageReceived, SlaPolicyChanged
from streams.shared.frozen import replace
from streams.sla import clocks, domain
from streams.sla.calendar_change import apply_calendar_change
from streams.sla.clocks import CaseClocks
from streams.sla.policy import SlaPolicy, apply_change, default_policy


@dataclass(frozen=True, slots=True)
class ContactClocks:
    """The clocks of one contact's open cases, oldest first."""

    contact_id: str
    cases: tuple[CaseClocks, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """The changes of policy and of calendar seen so far in a partition, in log order (rare
    events: a few a year). The policy in force is the base policy with each folded in."""

    changes: tuple[SlaPolicyChanged | CalendarChanged, ...] = ()


class SlaCore:
    name = "streams.sla"
    state_type = ContactClocks
    context_type = PolicyContext
    reads = frozenset(t.NAME for t in get_args(clocks.Input))

    def __init__(self, policy: SlaPolicy | None = None) -> None:
        self.base = policy or default_policy()
        self._folded: dict[tuple[str, ...], SlaPolicy] = {(): self.base}

    # -- the runtime's Core -----------------------------------------------------------------

    def key_of(self, event: Any) -> str | None:
        contact = getattr(event, "contact_id", None)
        return contact if isinstance(contact, str) and contact else None

    def initial(self, key: str) -> ContactClocks:
        return ContactClocks(contact_id=key)

    def handle(self, state: ContactClocks, event: Any) -> tuple[ContactClocks | None, list[Any]]:
        return self.handle_in(PolicyContext(), state, event)

    def wakes_at(self, state: ContactClocks) -> datetime | None:
        due = [d for case in state.cases if (d := domain.next_deadline(case)) is not None]
        return min(due, default=None)

    # -- the partition's context ------------------------------------------------------------

    def initial_context(self) -> PolicyContext:
        return PolicyContext()

    def changes_context(self, event: Any) -> bool:
        return isinstance(event, SlaPolicyChanged | CalendarChanged)

    def evolve_context(
        self, context: PolicyContext, event: SlaPolicyChanged | CalendarChanged
    ) -> PolicyContext:
        if any(c.event_id == event.event_id for c in context.changes):
            return context  # a redelivered change
        changed = PolicyContext((*context.changes, event))
        self.policy(changed)  # refused here if it cannot apply
        return changed

    def policy(self, context: PolicyContext) -> SlaPolicy:
        ids = tuple(c.event_id for c in context.changes)
        folded = self._folded.get(ids)
        if folded is None:
            folded = self.policy(PolicyContext(context.changes[:-1]))
            last = context.changes[-1]
            if isinstance(last, CalendarChanged):
                folded = apply_calendar_change(folded, last)
            else:
                folded = apply_change(folded, last)
            if len(self._folded) > 64:
                self._folded = {(): self.base}
            self._folded[ids] = folded
        return folded

    def handle_in(
        self, context: PolicyContext, state: ContactClocks, event: Any
    ) -> tuple[ContactClocks | None, list[Any]]:
        """Hand the event to the clocks of the case(s) it concerns; None when no clock is
        left for the contact."""
        policy = before = self.policy(context)
        if isinstance(event, CalendarChanged):
            last = context.changes[-1] if context.changes else None
            if last is not event and last != event:
                return state, []  # a copy of a change the cases took already
            before = self.policy(PolicyContext(context.changes[:-1]))
        cases: list[CaseClocks | None] = list(state.cases)
        case_id = getattr(event, "case_id", None)
        if isinstance(event, ClockTicked | SlaPolicyChanged | CalendarChanged):
            targets = list(range(len(cases)))
        elif isinstance(event, MessageReceived) and case_id is None:
            targets = [len(cases) - 1] if cases else []
        else:
            targets = [i for i, c in enumerate(state.cases) if c.case_id == case_id]
        outputs: list[Any] = []
        if not targets and not isinstance(event, ClockTicked | SlaPolicyChanged | CalendarChanged):
            opened, outputs = domain.handle(None, event, policy)  # opens clocks, or nothing
            if opened is not None:
                cases.append(opened)
        for i in targets:
            cases[i], produced = domain.handle(state.cases[i], event, policy, before=before)
            outputs.extend(produced)  # a case whose clocks all stopped is None: dropped below
        kept = tuple(c for c in cases if c is not None)
        if not kept:
            return None, outputs
        return replace(state, cases=kept), outputs
