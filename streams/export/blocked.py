"""Which events an export leaves out because their citizen is blocked (bloqueio, LGPD art. 5
XIII; docs/privacy.md, "Blocking").

The exporter learns who is blocked from acolhe.privacy, read to its end when the export
starts (`streams.privacy.blocking.read_privacy`, `blocks.blocked_citizens`): the log is the
record, and an export reads the log anyway. A block recorded after that point does not
change the export under way.

An event is a blocked citizen's when it names them (`citizen_id`, or `subject_id`: the
citizen whose key seals its personal fields), or names a contact or a case of theirs. The
contacts and cases come from the CaseOpened events of the conversations topic (`learn`, in
a pass before the export's own: an SLA clock or a routing decision names only its case).
Left out therefore: their messages (both ways) and delivery statuses, their cases' facts
and commands, their SLA clocks' events, the routing decisions on their cases.
Not followed: a contact linked to the citizen by ContactsLinked that opened no case under
the citizen's id, and a case opened under another citizen id before the link.

Pure: no Kafka, Postgres or files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

LEARNS_FROM: Final = frozenset({"CaseOpened"})


class BlockedIndex:
    """The blocked citizens, and the contacts and cases learnt to be theirs."""

    def __init__(self, citizens: frozenset[str]) -> None:
        self.citizens = citizens
        self.contacts: set[str] = set()
        self.cases: set[str] = set()
        self.left_out = 0

    def learn(self, name: str, record: Mapping[str, Any]) -> None:
        if name in LEARNS_FROM and record.get("citizen_id") in self.citizens:
            self.contacts.add(record["contact_id"])
            self.cases.add(record["case_id"])

    def hides(self, record: Mapping[str, Any]) -> bool:
        """Whether the event is a blocked citizen's (counted in `left_out` when it is)."""
        hidden = (
            record.get("citizen_id") in self.citizens
            or record.get("subject_id") in self.citizens
            or record.get("contact_id") in self.contacts
            or record.get("case_id") in self.cases
        )
        if hidden:
            self.left_out += 1
        return hidden
