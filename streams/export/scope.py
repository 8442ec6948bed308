"""Which events are about given citizens: the one notion an export uses both to leave
blocked citizens out (bloqueio, LGPD art. 5 XIII; docs/privacy.md, "Blocking") and to keep
only the citizens asked for (`--citizen`: a data subject's access or portability request,
LGPD art. 18 II and V; docs/export.md, "One citizen's data").

An event is about a citizen when it names them (`citizen_id`; `subject_id`, the citizen
whose key seals its personal fields; ContactsUnlinked's `new_citizen_id`, ContactsLinked's
`merged_citizen_ids`), or names a contact or a case of theirs (`contact_id`, ContactsLinked's
`contact_ids`, `case_id`). The contacts and cases come from the CaseOpened events of the
conversations topic (`learn`, in a pass before the export's own: an SLA clock or a routing
decision names only its case). About a citizen therefore: their messages (both ways) and
delivery statuses, their cases' facts and the agents' commands on them, their SLA clocks'
events, the routing decisions on their cases.
Not followed: a contact linked to the citizen by ContactsLinked that opened no case under
the citizen's id, and a case opened under another citizen id before the link.

Who the citizens are is the caller's: the blocked ones as acolhe.privacy says when the
export starts (`streams.privacy.blocks.blocked_citizens`), or the ones asked for by id
(`check_citizen_id`: the form `acolhe block` checks).

Pure: no Kafka, Postgres or files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streams.privacy.blocks import CITIZEN_ID
from streams.privacy.domain import MAX_ID_CHARS
from streams.shared.errors import BadInput, RuleViolation

LEARNS_FROM: Final = frozenset({"CaseOpened"})
"""The events `CitizenScope.learn` takes a citizen's contacts and cases from."""
_CITIZEN_FIELDS: Final = ("citizen_id", "subject_id", "new_citizen_id")


class CitizenScope:
    """Some citizens, and the contacts and cases learnt to be theirs."""

    def __init__(self, citizens: frozenset[str]) -> None:
        self.citizens = citizens
        self.contacts: set[str] = set()
        self.cases: set[str] = set()

    def learn(self, name: str, record: Mapping[str, Any]) -> None:
        """Take in one event of the conversations topic (only CaseOpened teaches)."""
        if name in LEARNS_FROM and record.get("citizen_id") in self.citizens:
            self.contacts.add(record["contact_id"])
            self.cases.add(record["case_id"])

    def is_about(self, record: Mapping[str, Any]) -> bool:
        """Whether the event names one of the citizens, their contacts or their cases."""
        return (
            any(record.get(f) in self.citizens for f in _CITIZEN_FIELDS)
            or record.get("contact_id") in self.contacts
            or record.get("case_id") in self.cases
            or _any_in(record.get("merged_citizen_ids"), self.citizens)
            or _any_in(record.get("contact_ids"), self.contacts)
        )


class BlockedCitizenAsked(RuleViolation):
    """An export asked for a blocked citizen's events by id without including the blocked."""


def check_citizen_id(citizen_id: str) -> None:
    """BadInput unless `citizen_id` has the form of a citizen id (as `acolhe block` checks)."""
    if len(citizen_id) > MAX_ID_CHARS:
        raise BadInput(f"citizen id is {len(citizen_id)} characters long; at most {MAX_ID_CHARS}")
    if not CITIZEN_ID.fullmatch(citizen_id):
        raise BadInput(
            f"citizen id {citizen_id!r} is not of the form citizen-<id> (the connectors make "
            "citizen-<32 hex digits>); check that it is the citizen's id, not a contact's"
        )


def refuse_blocked(asked: frozenset[str] | None, blocked: frozenset[str]) -> None:
    """BlockedCitizenAsked when a citizen asked for is blocked (and the export leaves the
    blocked out): an export of nothing would read as "we hold nothing about you"."""
    found = sorted((asked or frozenset()) & blocked)
    if found:
        raise BlockedCitizenAsked(
            f"{', '.join(found)} {'is' if len(found) == 1 else 'are'} blocked (LGPD art. 5 "
            "XIII): their processing is suspended and an export leaves their events out; to "
            "answer their own request (art. 18 II, V) or a court order, export with "
            "--include-blocked and --authorized-key"
        )


def _any_in(values: object, wanted: set[str] | frozenset[str]) -> bool:
    return isinstance(values, list | tuple) and any(v in wanted for v in values)
