"""Which events a queue or area filter keeps.

An event that names a queue (an area) of its own is kept by it: CaseQueued, CaseAssigned,
CaseReleased, CaseTransferred (from or to), RoutingDecided, the SLA events and
SlaPolicyChanged by their queue; CaseTriaged and CaseQueued by their area. Any other event
of a case is kept when its case was ever in one of the queues (areas) asked for, as the
whole log says at the time of the export: a citizen's first messages come before their
case is triaged, and an analyst who asks for an area wants them too. An event of no case
and no queue of its own (an agent's presence, a calendar, linked contacts) is left out
once a queue or area filter is given. With both, an event must pass both.

Hence two passes over the log when a queue or area filter is given:
1. `CaseIndex` learns from the case facts (in the conversations topic) which cases match
   and which message opened or reopened each of them;
2. `Conversations` follows each contact's current case in log order while the export
   reads, so that a citizen's message (which names a contact, not a case) and a delivery
   status are filed in their case: the case the message opened or reopened, else the
   contact's open case (for a delivery status, the contact's latest case).

Memory: the matching cases, their openers and the contacts whose current case matches;
never the events. Pure: no Kafka, Postgres or files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

QUEUE_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "CaseQueued": ("queue_id",),
    "CaseAssigned": ("queue_id",),
    "CaseReleased": ("queue_id",),
    "CaseTransferred": ("from_queue_id", "to_queue_id"),
    "RoutingDecided": ("queue_id",),
    "SlaStarted": ("queue_id",),
    "SlaPaused": ("queue_id",),
    "SlaResumed": ("queue_id",),
    "SlaWarned": ("queue_id",),
    "SlaBreached": ("queue_id",),
    "SlaMet": ("queue_id",),
    "SlaPolicyChanged": ("queue_id",),
}
"""The events kept by a queue of their own, and the fields that name it. TransferCase (a
command) names the queue asked for, not one the case was in: it goes by its case."""
AREA_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "CaseTriaged": ("area",),
    "CaseQueued": ("area",),
}
"""The events kept by an area of their own."""
CASE_FACTS: Final = frozenset(
    {"CaseOpened", "CaseReopened", "CaseTriaged", "CaseQueued", "CaseAssigned"}
    | {"CaseReleased", "CaseTransferred"}
)
"""What `CaseIndex` learns from: the queues and areas of each case, and its openers."""
CONTACT_FACTS: Final = frozenset({"CaseOpened", "CaseReopened", "CaseClosed"})
"""What `Conversations` follows: which case is each contact's current one."""
_BY_CONTACT: Final = frozenset({"MessageReceived", "MessageSent", "DeliveryStatusChanged"})


class CaseIndex:
    """Which cases a queue and an area filter keep (pass 1 over the case facts)."""

    def __init__(self, queues: frozenset[str] | None, areas: frozenset[str] | None) -> None:
        self.queues = queues
        self.areas = areas
        self._in_queue: set[str] = set()
        self._in_area: set[str] = set()
        self._openers: dict[str, str] = {}  # event_id of an opening message -> its case

    def learn(self, name: str, record: Mapping[str, Any]) -> None:
        """Take in one case fact of the log (any other event is ignored)."""
        case = record.get("case_id")
        if not isinstance(case, str) or name not in CASE_FACTS:
            return
        opener = record.get(
            "opened_by_message_id" if name == "CaseOpened" else "reopened_by_message_id"
        )
        if name in ("CaseOpened", "CaseReopened") and isinstance(opener, str):
            self._openers[opener] = case
        if self.queues is not None and _names_one(record, QUEUE_FIELDS.get(name), self.queues):
            self._in_queue.add(case)
        if self.areas is not None and _names_one(record, AREA_FIELDS.get(name), self.areas):
            self._in_area.add(case)

    def settle(self) -> None:
        """Forget the openers of cases no filter keeps, once every case fact is in."""
        self._openers = {m: c for m, c in self._openers.items() if self.keeps_case(c)}

    def keeps_case(self, case_id: str | None) -> bool:
        """Whether the case passes every filter given."""
        return case_id is not None and (
            (self.queues is None or case_id in self._in_queue)
            and (self.areas is None or case_id in self._in_area)
        )

    def opened_by(self, message_event_id: str) -> str | None:
        """The kept case that this message opened or reopened, if any."""
        return self._openers.get(message_event_id)

    def keeps(self, name: str, record: Mapping[str, Any], case_id: str | None) -> bool:
        """Whether the filters keep this event, `case_id` being the case it belongs to."""
        return _passes(
            name, record, case_id, wanted=self.queues, own=QUEUE_FIELDS, cases=self._in_queue
        ) and _passes(
            name, record, case_id, wanted=self.areas, own=AREA_FIELDS, cases=self._in_area
        )


class Conversations:
    """Each contact's current case among the kept ones, in log order (pass 2)."""

    def __init__(self, index: CaseIndex) -> None:
        self._index = index
        self._current: dict[str, tuple[str, bool]] = {}  # contact -> (case, is open)

    def follow(self, name: str, record: Mapping[str, Any]) -> None:
        """Take in one case fact; call it for every CONTACT_FACTS event, in log order."""
        contact, case = record.get("contact_id"), record.get("case_id")
        if not isinstance(contact, str) or not isinstance(case, str):
            return
        if name == "CaseClosed":
            current = self._current.get(contact)
            if current is not None and current[0] == case:
                self._current[contact] = (case, False)
        elif name in ("CaseOpened", "CaseReopened"):
            if self._index.keeps_case(case):
                self._current[contact] = (case, True)
            else:
                self._current.pop(contact, None)

    def case_of(self, name: str, record: Mapping[str, Any]) -> str | None:
        """The case an event belongs to: its own case_id, else as described above."""
        case = record.get("case_id")
        if isinstance(case, str):
            return case
        if name not in _BY_CONTACT:
            return None
        event_id = record.get("event_id")
        if name == "MessageReceived" and isinstance(event_id, str):
            opened = self._index.opened_by(event_id)
            if opened is not None:
                return opened
        contact = record.get("contact_id")
        current = self._current.get(contact) if isinstance(contact, str) else None
        if current is None:
            return None
        case, is_open = current
        return case if is_open or name == "DeliveryStatusChanged" else None


def _names_one(
    record: Mapping[str, Any], fields: tuple[str, ...] | None, wanted: frozenset[str]
) -> bool:
    return fields is not None and any(record.get(f) in wanted for f in fields)


def _passes(
    name: str,
    record: Mapping[str, Any],
    case_id: str | None,
    *,
    wanted: frozenset[str] | None,
    own: Mapping[str, tuple[str, ...]],
    cases: set[str],
) -> bool:
    if wanted is None:
        return True
    fields = own.get(name)
    if fields is not None:
        return _names_one(record, fields, wanted)
    return case_id is not None and case_id in cases
