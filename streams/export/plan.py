"""What an export asks for, checked and resolved before anything is read or written.

`ExportOptions` is the request (time range, event types, queues, areas, citizens, formats,
folder, personal-data policy, topics); `resolve` checks it and says, per event type, the
topic its events are taken from. An event is taken from one topic only: its home topic in the
catalog, or, when the export does not read that topic, the first of its copies it reads.
Copies (the routing topic's CaseQueued, the commands topic's SendReply, an SLA policy
broadcast into every conversations partition) carry the same event again and are skipped,
so each event is exported once.

Only the events the catalog lists for analysts are exported (not ClockTicked, nor
ErasureRequested, nor the dead letters, which hold raw personal input in clear).

Pure: no Kafka, Postgres or files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, get_args

from schemas.catalog import ANALYSTS, BY_NAME, CATALOG, TOPICS
from schemas.events import Area
from streams.export.scope import check_citizen_id
from streams.shared.errors import BadInput

Format = Literal["avro", "parquet", "csv"]
Personal = Literal["omit", "pseudonymize"]

FORMATS: Final[tuple[Format, ...]] = get_args(Format)
DEFAULT_FORMATS: Final[tuple[Format, ...]] = ("avro", "parquet")
AREAS: Final[frozenset[str]] = frozenset(get_args(Area))
ANALYST_TYPES: Final[tuple[str, ...]] = tuple(
    spec.name for spec in CATALOG if ANALYSTS in spec.consumed_by
)
"""The event types an export may hold: those the catalog lists analysts as reading."""
DEFAULT_TOPICS: Final[tuple[str, ...]] = tuple(
    t for t in TOPICS if any(BY_NAME[n].topic == t for n in ANALYST_TYPES)
)
"""Every topic that is the home of an analysts' event: not acolhe.clock (ticks) nor
acolhe.deadletter (raw inputs, possibly personal and in clear)."""
CHUNK_ROWS: Final = 50_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ExportOptions:
    """One export: which events, into which files, with what done to personal data.

    `since`/`until` bound the events' `occurred_at`, half-open [since, until), UTC-aware;
    None leaves that side open (until None: up to the end of the log when the export
    starts). `event_types`, `queues`, `areas`: None exports all. `topics` are catalog
    topic names; `topic_names` maps one to the Kafka topic that actually holds it (a copy
    of the log elsewhere, a test's fresh topics).
    """

    out_dir: Path
    since: datetime | None = None
    until: datetime | None = None
    event_types: frozenset[str] | None = None
    queues: frozenset[str] | None = None
    areas: frozenset[str] | None = None
    formats: tuple[Format, ...] = DEFAULT_FORMATS
    personal: Personal = "pseudonymize"
    authorized_key: bytes | None = field(default=None, repr=False)
    topics: tuple[str, ...] = DEFAULT_TOPICS
    topic_names: Mapping[str, str] = field(default_factory=dict)
    force: bool = False
    chunk_rows: int = CHUNK_ROWS
    include_blocked: bool = False
    """Export blocked citizens' events too (docs/privacy.md, "Blocking"): only with the
    authorized key; by default they are left out (`streams.export.scope`)."""
    citizens: frozenset[str] | None = None
    """Keep only the events about these citizens (`streams.export.scope`; a data subject's
    access request). None: everyone's. A blocked one needs `include_blocked`."""

    @property
    def filters_cases(self) -> bool:
        """Whether a queue or area filter asks which case an event belongs to."""
        return self.queues is not None or self.areas is not None


@dataclass(frozen=True)
class Resolved:
    """An export's options, checked: the types it holds and where each is read."""

    types: tuple[str, ...]  # sorted
    explicit: bool  # the types were asked for by name: each gets its files, even empty
    sources: Mapping[str, str]  # event type -> the catalog topic it is taken from
    since_us: int | None
    until_us: int | None

    def topics(self) -> tuple[str, ...]:
        """The catalog topics to read, in catalog order."""
        wanted = set(self.sources.values())
        return tuple(t for t in TOPICS if t in wanted)


@dataclass(frozen=True)
class TypeReport:
    """What an export wrote for one event type."""

    events: int
    files: tuple[Path, ...]


@dataclass(frozen=True)
class ExportReport:
    """What an export did: events and files per event type, and how it went."""

    out_dir: Path
    personal: Literal["clear", "pseudonymize", "omit"]
    types: Mapping[str, TypeReport]
    records_read: int  # Kafka records read in the export's pass (copies and ticks included)
    rejected: int  # records the export wanted that are not valid events: left out
    missing_topics: tuple[str, ...]  # topics to read that do not exist (nothing from them)
    seconds: float
    manifest: Path
    blocked_citizens: int = 0  # citizens blocked when the export started
    blocked_left_out: int = 0  # their events the export left out
    citizens: int = 0  # citizens asked for (`ExportOptions.citizens`); 0: no such filter

    @property
    def events(self) -> int:
        return sum(t.events for t in self.types.values())


def resolve(options: ExportOptions) -> Resolved:
    """Check `options`; BadInput says what is wrong and what is allowed."""
    _check_range(options.since, options.until)
    _check_values(options)
    types = _types(options)
    sources: dict[str, str] = {}
    for name in types:
        source = _source(name, options.topics)
        if source is not None:
            sources[name] = source
        elif options.event_types is not None:
            spec = BY_NAME[name]
            raise BadInput(
                f"{name} lives in {spec.topic}"
                + (f" (copied to {', '.join(spec.copies)})" if spec.copies else "")
                + ", which this export does not read"
            )
    return Resolved(
        types=tuple(sorted(sources)),
        explicit=options.event_types is not None,
        sources=sources,
        since_us=_micros(options.since),
        until_us=_micros(options.until),
    )


def _check_range(since: datetime | None, until: datetime | None) -> None:
    for moment, flag in ((since, "since"), (until, "until")):
        if moment is not None and moment.utcoffset() is None:
            raise BadInput(f"{flag} must carry a time zone (UTC is assumed only by the CLI)")
    if since is not None and until is not None and until <= since:
        raise BadInput(
            f"until ({until.isoformat()}) must be after since ({since.isoformat()}): "
            "the range is [since, until)"
        )


def _check_values(options: ExportOptions) -> None:
    if not options.formats:
        raise BadInput(f"at least one format is needed: {', '.join(FORMATS)}")
    unknown_formats = sorted(set(options.formats) - set(FORMATS))
    if unknown_formats:
        raise BadInput(f"unknown format {unknown_formats[0]!r}; use {', '.join(FORMATS)}")
    if options.personal not in get_args(Personal):
        raise BadInput(f"personal must be one of {', '.join(get_args(Personal))}")
    if options.include_blocked and options.authorized_key is None:
        raise BadInput(
            "--include-blocked exports blocked citizens' events, whose processing is "
            "suspended: it needs the authorized key (--authorized-key)"
        )
    if options.citizens is not None:
        if not options.citizens:
            raise BadInput("no citizen asked for")
        for citizen in sorted(options.citizens):
            check_citizen_id(citizen)
    if options.chunk_rows < 1:
        raise BadInput("chunk_rows must be at least 1")
    if options.areas is not None:
        unknown = sorted(options.areas - AREAS)
        if unknown:
            raise BadInput(f"unknown area {unknown[0]!r}; the areas are {', '.join(sorted(AREAS))}")
    unknown_topics = sorted(set(options.topics) - set(TOPICS))
    if unknown_topics:
        raise BadInput(
            f"{unknown_topics[0]!r} is not a topic of the catalog; use catalog names "
            f"({', '.join(TOPICS)}) and topic_names for where they actually are"
        )


def kafka_topic(options: ExportOptions, catalog_topic: str) -> str:
    """The Kafka topic that holds `catalog_topic` for this export."""
    return options.topic_names.get(catalog_topic, catalog_topic)


def _types(options: ExportOptions) -> tuple[str, ...]:
    if options.event_types is None:
        return ANALYST_TYPES
    if not options.event_types:
        raise BadInput("no event type asked for")
    for name in sorted(options.event_types):
        if name not in BY_NAME:
            raise BadInput(
                f"unknown event type {name!r}; the exported types are {', '.join(ANALYST_TYPES)}"
            )
        if name not in ANALYST_TYPES:
            raise BadInput(
                f"{name} is not exported (the catalog lists it for no analyst); the exported "
                f"types are {', '.join(ANALYST_TYPES)}"
            )
    return tuple(sorted(options.event_types))


def _source(name: str, topics: tuple[str, ...]) -> str | None:
    spec = BY_NAME[name]
    for topic in (spec.topic, *spec.copies):
        if topic in topics:
            return topic
    return None


def _micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    delta = moment - _EPOCH
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
