"""The pure part of blocking (bloqueio, LGPD art. 5 XIII and art. 18 IV): the request
checked, a citizen's standing folded from acolhe.privacy, the decision to record a block or
an unblock (or to refuse it), and its report in words.

A block and an unblock are identified by what was asked: the citizen, the legal basis, the
office's protocol number (`reference`) and which of the two it is. Their event ids derive
from those, so running the same command again (after a crash between its steps, or by
mistake) records the same id, and the decision then hands back the event already recorded
(same time, same bytes) instead of a new one.

The order of a citizen's blocks and unblocks is the order of acolhe.privacy (keyed by the
citizen: one partition). The copies in acolhe.conversations are read partition by partition,
in no order across partitions, so the read model keeps the latest by `occurred_at`, which
`decide` makes strictly increasing per citizen (at least one microsecond after the citizen's
latest block or unblock, whatever the wall clock says).

Must not import Kafka, Postgres, logging or a clock: the time comes as an argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from schemas.envelope import derive_event_id
from schemas.events import CitizenBlocked, CitizenUnblocked, ErasureRequested
from streams.privacy.domain import PROCESSOR, InvalidErasure, _checked_id
from streams.shared.errors import BadInput, RuleViolation

Basis = Literal["data_subject_request", "authority_order", "court_order"]
BASES: Final[tuple[Basis, ...]] = get_args(Basis)
"""The legal bases a block may be recorded on (the schema's `unknown` is for readers)."""
Kind = Literal["block", "unblock"]
CITIZEN_ID: Final = re.compile(r"citizen-[A-Za-z0-9][A-Za-z0-9._:-]*")
"""The form of acolhe's citizen ids: `citizen-` then the id proper (the connectors make
`citizen-<32 hex digits>`); a contact id (`whatsapp-…`, `email-…`) is not one."""
BlockFact = CitizenBlocked | CitizenUnblocked
TICK: Final = timedelta(microseconds=1)


class InvalidBlock(BadInput):
    """A block or unblock asked with a missing or malformed citizen id, agent, reference or
    basis (bad input: nothing is recorded)."""


class BlockRefused(RuleViolation):
    """A block or unblock the citizen's standing refuses: not blocked, already blocked,
    erased, or a protocol number already used."""


@dataclass(frozen=True)
class Request:
    """One block or unblock, as asked and checked."""

    kind: Kind
    citizen_id: str
    legal_basis: Basis
    reference: str
    requested_by: str | None = None

    @property
    def name(self) -> str:
        return CitizenBlocked.NAME if self.kind == "block" else CitizenUnblocked.NAME

    @property
    def event_id(self) -> str:
        """The same for the same citizen, basis, reference and kind; not who asked."""
        return derive_event_id(
            PROCESSOR, self.name, self.citizen_id, self.legal_basis, self.reference
        )


def request(
    kind: Kind,
    citizen_id: str,
    *,
    legal_basis: str,
    reference: str,
    requested_by: str | None = None,
) -> Request:
    """The block or unblock asked, checked (the erasure's checks of ids, then the form of a
    citizen id): `InvalidBlock` says what is wrong."""
    if legal_basis not in BASES:
        raise InvalidBlock(
            f"legal basis {legal_basis!r} is not one of {', '.join(BASES)} "
            "(LGPD art. 18 IV: the citizen asked; art. 52 V: the authority ordered; a court order)"
        )
    try:
        citizen = _checked_id("citizen id", citizen_id)
        ref = _checked_id("reference", reference)
        agent = None if requested_by is None else _checked_id("agent", requested_by)
    except InvalidErasure as exc:
        raise InvalidBlock(str(exc)) from exc
    if not CITIZEN_ID.fullmatch(citizen):
        raise InvalidBlock(
            f"citizen id {citizen!r} is not of the form citizen-<id> (the connectors make "
            "citizen-<32 hex digits>); check that it is the citizen's id, not a contact's"
        )
    return Request(kind, citizen, legal_basis, ref, agent)  # basis narrowed by the check


@dataclass(frozen=True)
class Standing:
    """What acolhe.privacy says of one citizen: every block and unblock recorded, in log
    order (each id once), and whether an erasure was requested."""

    citizen_id: str
    facts: tuple[BlockFact, ...] = ()
    erased: bool = False

    @property
    def latest(self) -> BlockFact | None:
        return self.facts[-1] if self.facts else None

    @property
    def blocked_by(self) -> CitizenBlocked | None:
        """The block in force, if any."""
        latest = self.latest
        return latest if isinstance(latest, CitizenBlocked) else None

    @property
    def is_blocked(self) -> bool:
        return self.blocked_by is not None


def standings(events: Iterable[object]) -> dict[str, Standing]:
    """Each citizen's standing from acolhe.privacy's events, in log order; a duplicate id
    (a block recorded again) is dropped, as every reader of the log drops it."""
    out: dict[str, Standing] = {}
    seen: set[str] = set()
    for event in events:
        if isinstance(event, ErasureRequested):
            held = out.get(event.citizen_id, Standing(event.citizen_id))
            out[event.citizen_id] = replace(held, erased=True)
        elif isinstance(event, CitizenBlocked | CitizenUnblocked):
            if event.event_id in seen:
                continue
            seen.add(event.event_id)
            held = out.get(event.citizen_id, Standing(event.citizen_id))
            out[event.citizen_id] = replace(held, facts=(*held.facts, event))
    return out


def blocked_citizens(events: Iterable[object]) -> frozenset[str]:
    """The citizens blocked once these events (acolhe.privacy, in log order) are applied."""
    return frozenset(c for c, s in standings(events).items() if s.is_blocked)


@dataclass(frozen=True)
class Decision:
    """What to record: `event`, new (`again` False) or the one already recorded with the
    same id, recorded again (its copies may be missing: a run that stopped half-way)."""

    request: Request
    event: BlockFact
    again: bool
    lifts: CitizenBlocked | None = None
    """For an unblock: the block it lifts."""


def decide(req: Request, standing: Standing, *, now: datetime) -> Decision:
    """Record `req` given the citizen's standing, or refuse it (`BlockRefused`, the reason
    and what to do)."""
    who = req.citizen_id
    latest = standing.latest
    if latest is not None and latest.event_id == req.event_id:
        lifts = _lifted(standing, latest) if isinstance(latest, CitizenUnblocked) else None
        return Decision(req, latest, again=True, lifts=lifts)
    used = next((f for f in standing.facts if f.event_id == req.event_id), None)
    if used is not None:
        raise BlockRefused(
            f"{req.name} of {who} with basis {req.legal_basis} and reference {req.reference} "
            f"was already recorded at {used.occurred_at.isoformat()} and superseded since: "
            "give the new request's own protocol number (--reference)"
        )
    at = now if latest is None else max(now, latest.occurred_at + TICK)
    if req.kind == "block":
        if standing.erased:
            raise BlockRefused(
                f"citizen {who} was erased (ErasureRequested is recorded): their personal "
                "data is destroyed, there is nothing left to block"
            )
        held = standing.blocked_by
        if held is not None:
            raise BlockRefused(
                f"citizen {who} is already blocked ({held.legal_basis}, reference "
                f"{held.request_reference}, since {held.occurred_at.isoformat()}): unblock "
                "it first to record another block"
            )
        return Decision(req, _blocked(req, at), again=False)
    held = standing.blocked_by
    if held is None:
        raise BlockRefused(
            f"citizen {who} is not blocked"
            + (" (their last block was lifted)" if latest is not None else "")
            + ": there is nothing to unblock; check the id"
        )
    return Decision(req, _unblocked(req, at, held), again=False, lifts=held)


def _lifted(standing: Standing, unblock: CitizenUnblocked) -> CitizenBlocked | None:
    found = [f for f in standing.facts if f.event_id == unblock.causation_id]
    return found[0] if found and isinstance(found[0], CitizenBlocked) else None


def _blocked(req: Request, at: datetime) -> CitizenBlocked:
    return CitizenBlocked(
        event_id=req.event_id,
        occurred_at=at,
        correlation_id=req.event_id,
        citizen_id=req.citizen_id,
        requested_by_agent_id=req.requested_by,
        legal_basis=req.legal_basis,
        request_reference=req.reference,
    )


def _unblocked(req: Request, at: datetime, lifts: CitizenBlocked) -> CitizenUnblocked:
    return CitizenUnblocked(
        event_id=req.event_id,
        occurred_at=at,
        correlation_id=lifts.event_id,
        causation_id=lifts.event_id,
        citizen_id=req.citizen_id,
        requested_by_agent_id=req.requested_by,
        legal_basis=req.legal_basis,
        request_reference=req.reference,
    )


@dataclass(frozen=True)
class BlockReport:
    decision: Decision
    topic: str
    conversations: str
    partitions: int


def describe(report: BlockReport) -> list[str]:
    """What the block or unblock did, line by line, for the operator who ran it."""
    d = report.decision
    req, event = d.request, d.event
    lines = [
        f"{'block' if req.kind == 'block' else 'unblock'} of citizen {req.citizen_id} "
        f"({req.legal_basis}, reference {req.reference}), event {event.event_id}",
        f"  recorded: {event.NAME} in {report.topic}"
        + (
            f" (again: first recorded at {event.occurred_at.isoformat()}; readers drop the "
            "duplicate)"
            if d.again
            else ""
        ),
        f"  copied: {event.NAME} into the {report.partitions} partition(s) of "
        f"{report.conversations} (the case projection applies it)",
    ]
    if d.lifts is not None:
        lines.append(
            f"  lifts: the block of {d.lifts.occurred_at.isoformat()} "
            f"({d.lifts.legal_basis}, reference {d.lifts.request_reference})"
        )
    if req.kind == "block":
        lines.append(
            "  suspended: agents' access to the citizen's cases, messages and SLA clocks in "
            "the read model; exports without --include-blocked. Not suspended: new messages "
            "are still accepted and the processors still decide (docs/privacy.md, Blocking)"
        )
    else:
        lines.append("  agents see the citizen's cases again; exports include their events")
    return lines
