"""The read model's projections: which events each reads and how a batch of them folds
into whole rows and counts.

A projection folds a batch of (offset, event) pairs, in log order, over the current rows it
needs, which it asks of a `RowSource`: the live projector's source reads them from Postgres
inside the batch's transaction (`PostgresRows`); a rebuild's holds every row in memory
(`streams.projections.rebuild_worker`). Either way the fold returns the rows it changed,
whole, and the counts to add (`Increment`), and the caller writes them with the offsets.

- `CaseProjection`: acolhe.conversations into cases, case_messages and daily_stats, and
  the erasures copied there (`ErasureRequested`) into a `Redaction` of the citizen's
  messages (`streams.projections.erasures`), and the blocks copied there
  (`CitizenBlocked`, `CitizenUnblocked`) into a `Blocking` of the citizen
  (`streams.projections.blocking`);
- `ClockProjection`: acolhe.sla into sla_clocks;
- `AgentProjection`: acolhe.routing into agents and agent_holds.

Imports no Kafka; Postgres only through the `RowSource` it is given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final, Protocol, get_args

from schemas.events import (
    CaseOpened,
    CitizenBlocked,
    CitizenUnblocked,
    DeliveryStatusChanged,
    ErasureRequested,
    MessageReceived,
    MessageSent,
)
from streams.projections import rows, rows_cases, rows_messages, rows_stats
from streams.projections.blocking import BLOCKING_EVENTS, Blocking
from streams.projections.erasures import Redaction
from streams.projections.writer import Increment, Upsert, quote

Row = dict[str, Any]
Change = Upsert | Increment | Redaction | Blocking
SLA_EVENTS: Final = frozenset(t.NAME for t in get_args(rows.SlaEvent))
AGENT_EVENTS: Final = frozenset(t.NAME for t in get_args(rows.AgentEvent))
CASE_EVENTS: Final = frozenset(t.NAME for t in get_args(rows_cases.CaseEvent))
MESSAGE_EVENTS: Final = frozenset({"DeliveryStatusChanged", "MessageReceived", "MessageSent"})
ERASURE_EVENTS: Final = frozenset({ErasureRequested.NAME})
HOLDS: Final = "agent_holds"


class RowSource(Protocol):
    """The current rows of the read model, as of the batch being folded."""

    async def rows(self, table: str, key: str, keys: Iterable[str]) -> dict[str, Row]:
        """The rows of `table` whose `key` column is one of `keys` (copies: the fold may
        change them)."""
        ...

    async def open_cases(self, contacts: Iterable[str]) -> list[Row]:
        """The cases of these contacts that are not closed."""
        ...


class Projection(Protocol):
    name: str
    topic: str
    reads: frozenset[str]

    async def fold(self, source: RowSource, events: list[tuple[int, Any]]) -> list[Change]:
        """The whole rows and the counts after these (offset, event) pairs, in log order,
        then the citizens' messages to redact (`Redaction`) after writing them."""
        ...


class PostgresRows:
    """A `RowSource` reading the read model's schema on one connection."""

    def __init__(self, conn: Any, schema: str) -> None:
        self._conn = conn
        self._schema = quote(schema)

    async def rows(self, table: str, key: str, keys: Iterable[str]) -> dict[str, Row]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        found = await self._conn.fetch(
            f"SELECT * FROM {self._schema}.{quote(table)} WHERE {quote(key)} = ANY($1::text[])",
            wanted,
        )
        return {r[key]: dict(r) for r in found}

    async def open_cases(self, contacts: Iterable[str]) -> list[Row]:
        wanted = sorted(set(contacts))
        if not wanted:
            return []
        found = await self._conn.fetch(
            f"SELECT * FROM {self._schema}.cases"
            " WHERE contact_id = ANY($1::text[]) AND status <> 'closed'",
            wanted,
        )
        return [dict(r) for r in found]


class ClockProjection:
    """acolhe.sla into sla_clocks (`rows.evolve_clock`)."""

    name = "sla_clocks"
    topic = "acolhe.sla"
    reads = SLA_EVENTS

    async def fold(self, source: RowSource, events: list[tuple[int, Any]]) -> list[Change]:
        by_clock: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        for offset, event in events:
            by_clock[event.clock_id].append((offset, event))
        current = await source.rows(rows.SLA_CLOCKS, "clock_id", by_clock)
        out: list[Change] = []
        for clock_id, mine in by_clock.items():
            row = current.get(clock_id)
            for offset, event in mine:
                row = rows.evolve_clock(row, event, offset)
            if row is not None:
                out.append(rows.upsert_clock(row))
        return out


class AgentProjection:
    """acolhe.routing into agents, and agent_holds (who holds each case: a CaseClosed
    names no agent) in the same transaction (`rows.fold_agents`)."""

    name = "agents"
    topic = "acolhe.routing"
    reads = AGENT_EVENTS

    async def fold(self, source: RowSource, events: list[tuple[int, Any]]) -> list[Change]:
        cases = {e.case_id for _, e in events if hasattr(e, "case_id")}
        held = await source.rows(HOLDS, "case_id", cases)
        holders = {c: r["agent_id"] for c, r in held.items() if r["agent_id"] is not None}
        named = {getattr(e, "agent_id", None) for _, e in events}
        named |= {getattr(e, "from_agent_id", None) for _, e in events}
        wanted = {a for a in named | set(holders.values()) if isinstance(a, str)}
        agents, after = rows.fold_agents(
            await source.rows(rows.AGENTS, "agent_id", wanted), holders, events
        )
        last: dict[str, int] = {}
        for offset, event in events:
            if hasattr(event, "case_id"):
                last[event.case_id] = offset
        out: list[Change] = [
            rows.upsert_agent(row) for row in agents.values() if row["version"] >= 0
        ]
        out += [
            Upsert(
                HOLDS,
                ("case_id",),
                {"case_id": case, "agent_id": after.get(case), "version": version},
            )
            for case, version in last.items()
        ]
        return out


class CaseProjection:
    """acolhe.conversations into cases, case_messages (`rows_cases`, `rows_messages`) and
    daily_stats (`rows_stats`).

    A citizen's message names no case: it goes to the contact's open case, known from the
    table or from the batch's own CaseOpened / CaseClosed / CaseReopened. The message that
    opens a case comes before its CaseOpened: the CaseOpened then files it in the case.
    A message already recorded (a duplicate event at a later offset) changes nothing, so
    it neither resets its delivery status nor counts twice.

    An erasure (`ErasureRequested`, copied into every partition) changes no row here: the
    batch ends with one `Redaction` per citizen it names, which the caller runs after
    writing the batch's rows (`streams.projections.erasures`). A block or its lifting
    (`CitizenBlocked`, `CitizenUnblocked`, copied the same way) neither: the batch ends with
    one `Blocking` per citizen, the latest it read, which the caller keeps in
    `blocked_citizens` (`streams.projections.blocking`)."""

    name = "cases"
    topic = "acolhe.conversations"
    reads = CASE_EVENTS | MESSAGE_EVENTS | ERASURE_EVENTS | BLOCKING_EVENTS

    async def fold(self, source: RowSource, events: list[tuple[int, Any]]) -> list[Change]:
        case_ids = {e.case_id for _, e in events if getattr(e, "case_id", None)}
        contacts = {e.contact_id for _, e in events if isinstance(e, MessageReceived)}
        cases = await source.rows(rows_cases.CASES, "case_id", case_ids)
        open_rows = await source.open_cases(contacts)
        for r in open_rows:
            cases.setdefault(r["case_id"], r)
        wanted = set()
        for _, e in events:
            if isinstance(e, DeliveryStatusChanged | MessageSent):
                wanted.add(e.message_id)
            elif isinstance(e, MessageReceived):
                wanted.add(e.event_id)
            elif isinstance(e, CaseOpened) and e.opened_by_message_id:
                wanted.add(e.opened_by_message_id)
        batch = _CaseBatch(
            cases,
            await source.rows(rows_messages.CASE_MESSAGES, "message_id", wanted),
            {r["contact_id"]: r["case_id"] for r in open_rows},
        )
        for offset, event in events:
            batch.apply(offset, event)
        return batch.changes()


class _CaseBatch:
    """The case projection's fold of one batch, over the rows it loaded."""

    def __init__(
        self, cases: dict[str, Row], messages: dict[str, Row], open_cases: dict[str, str]
    ) -> None:
        self.cases = cases
        self.messages = messages
        self.open_cases = open_cases
        self.changed_cases: set[str] = set()
        self.changed_messages: set[str] = set()
        self.counts: list[Change] = []
        self.erased: dict[str, None] = {}
        """The citizens the batch's erasures name, each once, in the order first named."""
        self.blockings: dict[str, Blocking] = {}
        """The latest block or unblock the batch read, per citizen."""

    def apply(self, offset: int, event: Any) -> None:
        if isinstance(event, ErasureRequested):
            self.erased.setdefault(event.citizen_id)
            return
        if isinstance(event, CitizenBlocked | CitizenUnblocked):
            blocking = Blocking.of(event)
            if blocking.is_after(self.blockings.get(event.citizen_id)):
                self.blockings[event.citizen_id] = blocking
            return
        if isinstance(event, DeliveryStatusChanged):
            held = self.messages.get(event.message_id)
            row = rows_messages.evolve_message(held, event, offset)
            if row is not None and row is not held:
                self.messages[event.message_id] = row
                self.changed_messages.add(event.message_id)
            return
        if isinstance(event, MessageReceived | MessageSent):
            case_id = getattr(event, "case_id", None) or self.open_cases.get(event.contact_id)
            self._file(offset, event, case_id)
        else:
            case_id = event.case_id
        if case_id is not None:
            self._evolve(offset, event, case_id)

    def _file(self, offset: int, event: MessageReceived | MessageSent, case_id: str | None) -> None:
        """Record a message once: a duplicate event changes nothing and counts nothing."""
        message_id = event.event_id if isinstance(event, MessageReceived) else event.message_id
        if message_id in self.messages:
            return
        message = rows_messages.message_row(event, offset, case_id=case_id)
        self.messages[message_id] = message
        self.changed_messages.add(message_id)
        case = self.cases.get(case_id) if case_id else None
        self.counts.append(rows_stats.message_counts(message, case))

    def _evolve(self, offset: int, event: Any, case_id: str) -> None:
        before = self.cases.get(case_id)
        after = rows_cases.evolve_case(before, event, offset)
        if after is None:
            return
        self.counts += rows_stats.case_counts(before, after)
        self.cases[case_id] = after
        self.changed_cases.add(case_id)
        if after["status"] == "closed":
            self.open_cases.pop(after["contact_id"], None)
        else:
            self.open_cases[after["contact_id"]] = case_id
        if isinstance(event, CaseOpened) and event.opened_by_message_id in self.messages:
            first = self.messages[event.opened_by_message_id]
            if first["case_id"] is None:
                first["case_id"], first["version"] = case_id, offset
                self.changed_messages.add(event.opened_by_message_id)

    def changes(self) -> list[Change]:
        return [
            *(rows_cases.upsert_case(self.cases[c]) for c in sorted(self.changed_cases)),
            *(
                rows_messages.upsert_message(self.messages[m])
                for m in sorted(self.changed_messages)
            ),
            *self.counts,
            *(Redaction(citizen) for citizen in self.erased),  # after the rows: they cover them
            *(self.blockings[c] for c in sorted(self.blockings)),
        ]


def projections() -> dict[str, Projection]:
    """Every projection of the read model, by name."""
    return {p.name: p for p in (AgentProjection(), CaseProjection(), ClockProjection())}
