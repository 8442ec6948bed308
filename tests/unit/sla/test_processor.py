"""The SLA processor's wiring: a contact's messages reach its open case, closed cases leave
no state, a tick that rings many cases gives each its own ids, and the policy in force is
the partition's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas.events import SlaBreached, SlaStarted
from streams.sla.processor import ContactClocks, PolicyContext, SlaCore

from . import builders as b

CORE = SlaCore(b.POLICY)
MONDAY_9 = b.sp(3, 2, 9, 0)


def run(events: list[Any], context: PolicyContext | None = None) -> tuple[Any, list[Any]]:
    state: ContactClocks | None = CORE.initial(b.CONTACT)
    outputs: list[Any] = []
    for event in events:
        assert state is not None
        state, produced = CORE.handle_in(context or PolicyContext(), state, event)
        outputs.extend(produced)
        if state is None:
            state = CORE.initial(b.CONTACT)
    return state, outputs


def test_a_citizens_message_without_a_case_reaches_the_contacts_open_case() -> None:
    state, outputs = run(
        [
            b.opened(MONDAY_9),
            b.replied(MONDAY_9 + timedelta(minutes=10)),
            b.wrote(MONDAY_9 + timedelta(minutes=20)),  # MessageReceived.case_id is null
        ]
    )

    started = [o.metric for o in outputs if isinstance(o, SlaStarted)]
    assert started == ["first_response", "resolution", "next_response"]
    assert [c.case_id for c in state.cases] == [b.CASE]


def test_a_closed_case_leaves_no_state_for_the_contact() -> None:
    state, _ = CORE.handle(CORE.initial(b.CONTACT), b.opened(MONDAY_9))
    assert state is not None

    after, outputs = CORE.handle(state, b.closed(MONDAY_9 + timedelta(hours=1)))

    assert after is None  # the runtime deletes the key and writes a tombstone
    assert {o.NAME for o in outputs} == {"SlaMet"}


def test_one_tick_ringing_two_cases_gives_each_breach_its_own_id() -> None:
    def opened_for(contact: str) -> Any:
        event = b.opened(MONDAY_9)
        record = event.to_record() | {
            "contact_id": contact,
            "case_id": f"case-of-{contact}",
            "event_id": f"opened-{contact}",
        }
        return type(event).from_record(record)

    tick = b.tick(MONDAY_9 + timedelta(days=2))
    breaches: list[SlaBreached] = []
    for contact in ("contact-a", "contact-b"):
        state, _ = CORE.handle(CORE.initial(contact), opened_for(contact))
        assert state is not None
        assert CORE.wakes_at(state) is not None  # the runtime's alarm for this key
        _, outputs = CORE.handle(state, tick)
        breaches += [o for o in outputs if isinstance(o, SlaBreached)]

    assert len(breaches) == 2
    assert breaches[0].event_id != breaches[1].event_id
    assert breaches[0].causation_id == breaches[1].causation_id == tick.event_id


def test_the_partitions_policy_decides_a_new_cases_targets() -> None:
    tight = b.policy_changed(MONDAY_9, [("unknown", "first_response", b.HOUR, 10 * b.MINUTE)])
    context = CORE.evolve_context(CORE.initial_context(), tight)

    _, outputs = run([b.opened(MONDAY_9 + timedelta(minutes=1))], context)

    first = next(o for o in outputs if isinstance(o, SlaStarted) and o.metric == "first_response")
    assert first.target_ms == b.HOUR
    assert CORE.evolve_context(context, tight) is context  # a redelivered change is no news
