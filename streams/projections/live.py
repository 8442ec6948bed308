"""Live updates for agent apps: LISTEN to what concerns an agent instead of polling.

The read model's triggers (0003_access.sql) NOTIFY, when the projector's transaction
commits, on one channel per agent (a case assigned to them, changed, taken from them, a
new message in their case: its last message time moved) and one per queue (a case entered
it, changed its place or its counts, left it). A channel is named by a hash of the schema
and the id (`channel`), so two read-model schemas (a rebuild beside the live one) never mix
and any id fits Postgres' 63-byte limit; after the rebuild's switch renames a schema, its
channels follow the new name. A notification is a hint, not data: NOTIFY is not
access-controlled, so its payload holds ids, status, priority and version only; the app
reads the rows themselves under row-level security. One change comes from elsewhere: the
web chat NOTIFYs `typing` (with `case_id` and `active`) on the agent's channel when the
visitor of a case the agent holds starts or stops typing (connectors.webchat.indicators);
it names no row to read and is stored nowhere. A blocked citizen's cases notify nothing
(0005_blocking_live_updates.sql): when the block lands each of their cases is `hidden` on
its holder's and its queue's channels (drop it: reading it again returns nothing), and when
it is lifted `visible` (read it again); these carry the case id only. The pattern, in
order:
1. `async with listening(conn, schema, agent_id=..., queues=...) as changes:` (LISTEN is
   in place when the block starts; `conn` is a connection of its own, kept for this);
2. read the initial state (on another connection, with the agent set): nothing committed
   after the LISTEN is missed;
3. `async for change in changes:` read again what the change names; a `resync` change
   (the app fell too far behind and notifications were dropped) means read everything.
If the connection is lost, iteration raises `LiveUpdatesLost`: connect and start at 1.

`channel` and `parse` are pure; `listening` is the asyncpg shell. Must not import Kafka,
the settings or the projector.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from streams.projections.sqltext import check_schema_name
from streams.shared.errors import BadInput, RetriableInfrastructureError

Kind = Literal["agent", "queue"]
ChangeKind = Literal[
    "assigned",
    "changed",
    "taken",
    "entered",
    "left",
    "message",
    "typing",
    "hidden",
    "visible",
    "resync",
]
CHANGE_KINDS: Final[frozenset[str]] = frozenset(get_args(ChangeKind))
DEFAULT_MAX_PENDING: Final = 10_000
AGENT_ID_SETTING: Final = "acolhe.agent_id"
LIVE_UPDATES_SETTING: Final = "acolhe.live_updates"


class LiveUpdatesLost(RetriableInfrastructureError):
    """The listening connection closed: notifications from then on are lost."""


@dataclass(frozen=True, slots=True)
class Change:
    """One notification: on whose channel (`kind`, `subject`: the agent or queue id), what
    happened (`change`) to which case, and the case's shown state after it (`version`, the
    row's log offset, orders the notices of one case). `direction` (in, out) says who wrote
    a `message`. `active` says whether the citizen is typing, in a `typing` change (its
    case is the one the agent holds; nothing to read). `hidden` (its citizen was blocked:
    drop the case) and `visible` (the block was lifted: read it again) carry the case id
    only. A `resync` names no case: read everything anew."""

    kind: Kind
    subject: str
    change: ChangeKind
    case_id: str | None = None
    version: int | None = None
    status: str | None = None
    queue_id: str | None = None
    priority: str | None = None
    direction: str | None = None
    active: bool | None = None


def channel(schema: str, kind: Kind, subject: str) -> str:
    """The NOTIFY channel of an agent or a queue in `schema`: `acolhe_<kind>_` and 40 hex
    digits of SHA-256 of schema, US (0x1f), id; the same as SQL `{schema}.live_channel`."""
    digest = hashlib.sha256(f"{check_schema_name(schema)}\x1f{subject}".encode()).hexdigest()
    return f"acolhe_{kind}_{digest[:40]}"


def parse(payload: str, *, kind: Kind, subject: str) -> tuple[str, Change]:
    """(schema, change) of a notification payload; `BadInput` if it is not one."""
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise BadInput(f"notification payload is not JSON: {payload[:200]!r}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"notification payload is not an object: {payload[:200]!r}")
    change = data.get("change")
    schema = data.get("schema")
    if change not in CHANGE_KINDS or not isinstance(schema, str):
        raise BadInput(f"notification payload without schema or change: {payload[:200]!r}")
    version = data.get("version")
    active = data.get("active")
    if change == "typing" and (not isinstance(active, bool) or not _text(data.get("case_id"))):
        raise BadInput(f"typing notification without case_id or active: {payload[:200]!r}")
    return schema, Change(
        kind=kind,
        subject=subject,
        change=change,
        case_id=_text(data.get("case_id")),
        version=version if isinstance(version, int) else None,
        status=_text(data.get("status")),
        queue_id=_text(data.get("queue_id")),
        priority=_text(data.get("priority")),
        direction=_text(data.get("direction")),
        active=active if change == "typing" else None,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class Changes:
    """The changes heard, in the order the database sent them (its commit order).

    At most `max_pending` wait to be read; past that the waiting ones are dropped and the
    next one read is a `resync` change: read everything anew."""

    def __init__(self, subject: str, max_pending: int) -> None:
        self._subject = subject
        self._queue: asyncio.Queue[Change | BaseException] = asyncio.Queue(max_pending)
        self._overflowed = False

    def __aiter__(self) -> Changes:
        return self

    async def __anext__(self) -> Change:
        if self._overflowed:
            self._overflowed = False
            return Change(kind="agent", subject=self._subject, change="resync")
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def deliver(self, item: Change | BaseException) -> None:
        """Called by the connection's listener: queue `item` for the reader."""
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._overflowed = True
            if isinstance(item, BaseException):
                self._queue.put_nowait(item)


@asynccontextmanager
async def listening(
    conn: Any,
    schema: str,
    *,
    agent_id: str | None = None,
    queues: Iterable[str] = (),
    max_pending: int = DEFAULT_MAX_PENDING,
) -> AsyncIterator[Changes]:
    """LISTEN on the agent's channel and the queues' channels of `schema` on `conn` (an
    asyncpg connection used for nothing else meanwhile); UNLISTEN on leaving."""
    subjects: dict[str, tuple[Kind, str]] = {}
    if agent_id is not None:
        subjects[channel(schema, "agent", agent_id)] = ("agent", agent_id)
    for queue_id in queues:
        subjects[channel(schema, "queue", queue_id)] = ("queue", queue_id)
    changes = Changes(agent_id or "", max_pending)

    def heard(_conn: Any, _pid: int, name: str, payload: str) -> None:
        kind, subject = subjects[name]
        try:
            sent_by, change = parse(payload, kind=kind, subject=subject)
        except BadInput:
            return  # not ours: someone else NOTIFYing on the channel
        if sent_by == schema:
            changes.deliver(change)

    def lost(_conn: Any) -> None:
        changes.deliver(LiveUpdatesLost(f"the connection listening to schema {schema!r} closed"))

    conn.add_termination_listener(lost)
    listened: list[str] = []
    try:
        for name in subjects:
            await conn.add_listener(name, heard)
            listened.append(name)
        yield changes
    finally:
        conn.remove_termination_listener(lost)
        if not conn.is_closed():
            for name in listened:
                await conn.remove_listener(name, heard)
