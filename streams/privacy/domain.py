"""The pure part of an erasure: the request checked, its events and their ids, and its report.

An erasure is identified by what was asked: the citizen, the legal basis and the office's
protocol number (`reference`). Its `ErasureRequested` and `ErasureCompleted` ids derive
from those, so running the same erasure again (after a crash between its steps, or by
mistake) publishes the same ids, which readers drop as duplicates; who ran it does not
change which request it is.

Must not import Kafka, Postgres, logging or a clock: the time comes as an argument.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from schemas.envelope import derive_event_id
from schemas.events import ErasureCompleted, ErasureRequested
from streams.shared.errors import BadInput
from streams.shared.keystore import Shredded

PROCESSOR: Final = "streams.privacy"
SOURCE: Final = f"/acolhe/{PROCESSOR}"
Basis = Literal["data_subject_request", "end_of_processing"]
BASES: Final[tuple[Basis, ...]] = get_args(Basis)
"""The legal bases an erasure may be requested on (the schema's `unknown` is for readers)."""
MAX_ID_CHARS: Final = 200

WITH_A_KEY: Final[frozenset[Shredded]] = frozenset({"destroyed", "already_destroyed"})
"""Outcomes of a subject that had a data key: it is gone now, by this run or an earlier one."""


class InvalidErasure(BadInput):
    """An erasure asked with a missing or malformed citizen id, agent, reference or basis."""


@dataclass(frozen=True)
class Request:
    """One erasure, as asked and checked."""

    citizen_id: str
    legal_basis: Basis
    requested_by: str | None = None
    reference: str | None = None

    @property
    def event_id(self) -> str:
        """The id of its ErasureRequested: the same for the same citizen, basis and reference."""
        parts = [PROCESSOR, "ErasureRequested", self.citizen_id, self.legal_basis]
        return derive_event_id(*parts, *([self.reference] if self.reference else []))

    @property
    def completed_id(self) -> str:
        return derive_event_id(self.event_id, PROCESSOR, "ErasureCompleted")


def request(
    citizen_id: str,
    *,
    legal_basis: str,
    requested_by: str | None = None,
    reference: str | None = None,
) -> Request:
    """The erasure asked, checked: `InvalidErasure` says what is wrong."""
    if legal_basis not in BASES:
        raise InvalidErasure(
            f"legal basis {legal_basis!r} is not one of {', '.join(BASES)} "
            "(LGPD art. 18: the citizen asked; art. 16: processing ended)"
        )
    return Request(
        citizen_id=_checked_id("citizen id", citizen_id),
        legal_basis=legal_basis,  # narrowed by the check above
        requested_by=None if requested_by is None else _checked_id("agent", requested_by),
        reference=None if reference is None else _checked_id("reference", reference),
    )


def _checked_id(what: str, value: str) -> str:
    if not value or value.strip() != value:
        raise InvalidErasure(f"{what} {value!r} is empty or has spaces around it")
    if len(value) > MAX_ID_CHARS:
        raise InvalidErasure(f"{what} is {len(value)} characters long; at most {MAX_ID_CHARS}")
    if not value.isprintable():
        raise InvalidErasure(f"{what} {value!r} has control characters")
    return value


def requested(req: Request, *, now: datetime) -> ErasureRequested:
    return ErasureRequested(
        event_id=req.event_id,
        occurred_at=now,
        correlation_id=req.event_id,
        citizen_id=req.citizen_id,
        requested_by_agent_id=req.requested_by,
        legal_basis=req.legal_basis,
        request_reference=req.reference,
        requested_at=now,
    )


def subjects_of(citizen_id: str, found: Iterable[str]) -> tuple[str, ...]:
    """The subjects whose keys the erasure destroys: the citizen first, then the others the
    read model files under it (contacts merged into it), in order; each once."""
    return (citizen_id, *sorted(set(found) - {citizen_id}))


@dataclass(frozen=True)
class Redacted:
    """What redacting one read-model schema found and did."""

    schema: str
    held: int  # the subjects' messages in it
    redacted: int  # of those, rows this run cleared (0 when already redacted)
    gone: bool = False  # the schema was dropped while the erasure ran: nothing to redact


@dataclass(frozen=True)
class ErasureReport:
    request: Request
    keys: tuple[tuple[str, Shredded], ...]
    schemas: tuple[Redacted, ...]
    topic: str
    conversations: str = "acolhe.conversations"
    """The contacts' topic, into every partition of which the request was also written."""
    partitions: int = 0
    """How many partitions of `conversations` got it (0: none, in an older report)."""

    @property
    def keys_destroyed(self) -> int:
        """Data keys the citizen's subjects had, now destroyed (by this run or an earlier one)."""
        return sum(1 for _, outcome in self.keys if outcome in WITH_A_KEY)

    @property
    def projections_redacted(self) -> int:
        """Read-model schemas that held the citizen's messages (all now redacted)."""
        return sum(1 for r in self.schemas if r.held)

    @property
    def is_known(self) -> bool:
        """Whether anything of the citizen was found: a data key or a message."""
        return self.keys_destroyed > 0 or self.projections_redacted > 0


def completed(report: ErasureReport, *, now: datetime) -> ErasureCompleted:
    """The erasure's completion, as `report` says it went; the same id on every run."""
    req = report.request
    return ErasureCompleted(
        event_id=req.completed_id,
        occurred_at=now,
        correlation_id=req.event_id,
        causation_id=req.event_id,
        citizen_id=req.citizen_id,
        keys_destroyed=report.keys_destroyed,
        projections_redacted=report.projections_redacted,
        completed_at=now,
    )


_OUTCOME_WORDS: Final[dict[Shredded, str]] = {
    "destroyed": "destroyed",
    "already_destroyed": "already destroyed by an earlier erasure",
    "tombstoned": "none existed; a tombstone now keeps one from ever being made",
    "already_tombstoned": "none existed; tombstone already recorded",
}


def describe(report: ErasureReport) -> list[str]:
    """What the erasure did, line by line, for the operator who ran it."""
    req = report.request
    lines = [
        f"erasure of citizen {req.citizen_id} ({req.legal_basis}"
        + (f", reference {req.reference}" if req.reference else "")
        + f"), request {req.event_id}",
        f"  recorded: ErasureRequested in {report.topic}",
    ]
    if report.partitions:
        lines.append(
            f"  copied: ErasureRequested into the {report.partitions} partition(s) of "
            f"{report.conversations} (the citizen's open cases close: citizen_erased)"
        )
    lines += [f"  data key of {subject}: {_OUTCOME_WORDS[o]}" for subject, o in report.keys]
    if not report.schemas:
        lines.append("  read model: no schema with messages found")
    for r in report.schemas:
        if r.gone:
            lines.append(f"  read model {r.schema}: dropped while erasing; nothing to redact")
        else:
            lines.append(
                f"  read model {r.schema}: {r.held} message(s) of the citizen, "
                f"{r.redacted} redacted now"
            )
    lines.append(
        f"  recorded: ErasureCompleted in {report.topic} ({report.keys_destroyed} key(s) "
        f"destroyed, {report.projections_redacted} projection(s) redacted)"
    )
    if not report.is_known:
        lines.append(
            f"note: citizen {req.citizen_id} is unknown here (no data key, no messages in "
            "the read model); check the id. The tombstone stands either way."
        )
    return lines
