"""Schema evolution: may the current event schemas replace the versions already released?

The log keeps events written with every schema version ever released, and producers and
consumers are upgraded one at a time, so a schema may only change in ways the Apache Avro
reference checker accepts:

- BACKWARD: a reader on the new schema reads events written with an old one (replay, rebuild).
- FORWARD: a reader still on an old schema reads events written with the new one (rollout).
- FULL: both. `_TRANSITIVE`: against every released version, not only the latest one.

The catalog aims at FULL_TRANSITIVE; BACKWARD_TRANSITIVE is the floor: a pair that is only
backward compatible is a warning (every consumer must be upgraded before a producer writes the
new version), a pair that is not even backward compatible is an error.

Layout: the current version of each record is `avro/<Record>.avsc`, carrying the record property
`"acolhe.version": N`; each released version stays, byte for byte, in
`releases/<Record>/v<N>.avsc`. Events are never removed and a released version is never edited.

Depends on the Apache `avro` package and the file system only: not on fastavro, Kafka or streams.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

AVRO_DIR = Path(__file__).parent / "avro"
RELEASES_DIR = Path(__file__).parent / "releases"
VERSION_PROPERTY = "acolhe.version"

Direction = Literal["BACKWARD", "FORWARD"]
Level = Literal[
    "NONE",
    "BACKWARD",
    "FORWARD",
    "FULL",
    "BACKWARD_TRANSITIVE",
    "FORWARD_TRANSITIVE",
    "FULL_TRANSITIVE",
]
Status = Literal["ok", "warning", "error"]
SchemaSource = Mapping[str, Any] | str
"""A schema as parsed JSON or as JSON text."""

_RELEASE_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")
_TYPE_MISMATCH = re.compile(r"reader type: (\w+) not compatible with writer type: (\w+)")
_UNION_BRANCH = re.compile(r"lacking writer type:? (\w+)")


class SchemaEvolutionError(ValueError):
    """A schema cannot be read, or a release is refused; the message says what to fix."""


@dataclass(frozen=True)
class PairReport:
    """How a new version of a record relates to an old one: the reasons per direction."""

    backward: tuple[str, ...]
    forward: tuple[str, ...]

    @property
    def level(self) -> Literal["FULL", "BACKWARD", "FORWARD", "NONE"]:
        if not self.backward:
            return "BACKWARD" if self.forward else "FULL"
        return "NONE" if self.forward else "FORWARD"

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the pair is not FULL compatible; empty when it is."""
        return self.backward + self.forward

    def failures(self, direction: Direction) -> tuple[str, ...]:
        return self.backward if direction == "BACKWARD" else self.forward


@dataclass(frozen=True)
class RecordReport:
    """The verdict on one record: its current version and the versions released so far."""

    name: str
    version: int | None
    releases: tuple[int, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def status(self) -> Status:
        return "error" if self.errors else ("warning" if self.warnings else "ok")

    @property
    def is_released(self) -> bool:
        return self.version in self.releases


@dataclass(frozen=True)
class CatalogReport:
    records: tuple[RecordReport, ...]

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(reason for record in self.records for reason in record.errors)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(reason for record in self.records for reason in record.warnings)

    @property
    def has_errors(self) -> bool:
        return any(record.errors for record in self.records)

    def count(self, status: Status) -> int:
        return sum(record.status == status for record in self.records)


def check_compatibility(
    new: SchemaSource, old: SchemaSource, direction: Direction = "BACKWARD"
) -> list[str]:
    """Why `new` may not replace `old` in one direction; an empty list means compatible.

    BACKWARD: `new` reads what `old` wrote. FORWARD: `old` reads what `new` writes.
    """
    roles = ("new", "old") if direction == "BACKWARD" else ("old", "new")
    reader, writer = (_document(new if role == "new" else old) for role in roles)
    reader_tag, writer_tag = _tag(reader, roles[0]), _tag(writer, roles[1])
    # One checker per check (it memoizes pairs); avro leaves its constructor unannotated.
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(_parse(reader), _parse(writer))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    prefix = f"{reader.get('name', 'schema')} {reader_tag} cannot read {writer_tag}"
    return [
        f"{prefix}: {reason}"
        for reason in _explain(result.messages, result.locations, reader, reader_tag, direction)
    ]


def check_pair(new: SchemaSource, old: SchemaSource) -> PairReport:
    """Both directions at once: the pair is FULL compatible when `.reasons` is empty."""
    return PairReport(
        backward=tuple(check_compatibility(new, old, "BACKWARD")),
        forward=tuple(check_compatibility(new, old, "FORWARD")),
    )


def check_catalog(
    avro_dir: Path,
    releases_dir: Path,
    level: Level = "FULL_TRANSITIVE",
    minimum: Level = "BACKWARD_TRANSITIVE",
) -> CatalogReport:
    """Check every current schema against the released versions of its record.

    Steps: read the current schemas and the releases (a file that cannot be read is an error
    on its record); then, per record: a release without a current schema (a removed event); a
    missing or lowered acolhe.version; a release edited in place; and the compatibility with
    each release older than the current version: short of `level` is a warning, short of
    `minimum` an error.
    """
    for value in (level, minimum):
        if value not in get_args(Level):
            raise SchemaEvolutionError(f"unknown compatibility level {value!r}")
    if not avro_dir.is_dir():
        raise SchemaEvolutionError(
            f"{avro_dir} is not a directory: pass the schemas/avro directory"
        )
    problems: dict[str, list[str]] = defaultdict(list)
    current: dict[str, _SchemaFile | None] = {}
    for path in sorted(avro_dir.glob("*.avsc")):
        current[path.stem] = _read(path, avro_dir, path.stem, problems[path.stem])
    released: dict[str, dict[int, _SchemaFile]] = defaultdict(dict)
    for directory in sorted(releases_dir.iterdir()) if releases_dir.is_dir() else []:
        for path in sorted(directory.glob("*.avsc")) if directory.is_dir() else []:
            _read_release(path, releases_dir, released[directory.name], problems[directory.name])
    names = sorted(set(current) | set(released))
    return CatalogReport(
        tuple(
            _check_record(
                name,
                is_present=name in current,
                schema=current.get(name),
                releases=released[name],
                problems=problems[name],
                level=level,
                minimum=minimum,
            )
            for name in names
        )
    )


def release(
    avro_dir: Path,
    releases_dir: Path,
    names: Iterable[str] | None = None,
    level: Level = "FULL_TRANSITIVE",
    minimum: Level = "BACKWARD_TRANSITIVE",
) -> list[Path]:
    """Copy each current schema whose version has no release yet to releases/<Name>/v<N>.avsc.

    Steps: check the whole catalog; pick the named records (all by default) whose current
    version is not released; if any of them has an error, refuse them all and write nothing;
    then copy each file byte for byte. Returns the files written.
    """
    report = {
        record.name: record
        for record in check_catalog(avro_dir, releases_dir, level, minimum).records
    }
    wanted = list(names) if names is not None else sorted(report)
    unknown = [name for name in wanted if not (avro_dir / f"{name}.avsc").is_file()]
    if names is None:  # every current schema; a removed event is the check's business
        wanted = [name for name in wanted if name not in unknown]
    elif unknown:
        raise SchemaEvolutionError(f"no current schema for {', '.join(unknown)} in {avro_dir}")
    pending = [report[name] for name in dict.fromkeys(wanted) if not report[name].is_released]
    refused = [reason for record in pending for reason in record.errors]
    if refused:
        raise SchemaEvolutionError(
            "release refused, nothing written; fix these first:\n"
            + "\n".join(f"  {reason}" for reason in refused)
        )
    written = []
    for record in pending:
        target = releases_dir / record.name / f"v{record.version}.avsc"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(avro_dir / f"{record.name}.avsc", target)
        written.append(target)
    return written


@dataclass(frozen=True)
class _SchemaFile:
    shown: str
    document: dict[str, Any]
    version: int | None


def _read(path: Path, base: Path, name: str, problems: list[str]) -> _SchemaFile | None:
    shown = str(path.relative_to(base.parent))
    try:
        document = _document(path.read_text(encoding="utf-8"))
        _parse(document)
    except (OSError, SchemaEvolutionError) as exc:
        problems.append(f"{shown}: {exc}")
        return None
    if document.get("type") != "record" or document.get("name") != name:
        problems.append(f"{shown}: must hold one record named {name}")
    raw = document.get(VERSION_PROPERTY)
    version = raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1 else None
    return _SchemaFile(shown, document, version)


def _read_release(
    path: Path, releases_dir: Path, releases: dict[int, _SchemaFile], problems: list[str]
) -> None:
    match = _RELEASE_FILE.fullmatch(path.name)
    shown = str(path.relative_to(releases_dir.parent))
    if match is None:
        problems.append(f"{shown}: a release file is named v<N>.avsc after its acolhe.version")
        return
    schema = _read(path, releases_dir, path.parent.name, problems)
    if schema is None:
        return
    number = int(match[1])
    if schema.version != number:
        problems.append(
            f"{shown}: the file name says v{number} but its acolhe.version is {schema.version}; "
            "a release is an exact copy of the schema as released: restore it"
        )
    releases[number] = schema


def _check_record(
    name: str,
    *,
    is_present: bool,
    schema: _SchemaFile | None,
    releases: dict[int, _SchemaFile],
    problems: list[str],
    level: Level,
    minimum: Level,
) -> RecordReport:
    numbers = tuple(sorted(releases))
    errors, warnings = list(problems), list[str]()
    version = schema.version if schema else None
    if not is_present:
        errors.append(
            f"{name} was released ({', '.join(f'v{n}' for n in numbers)}) but has no current "
            f"schema: events are never removed; restore avro/{name}.avsc"
        )
    if schema is None:
        return RecordReport(name, None, numbers, tuple(errors))
    if version is None:
        errors.append(f'{name} has no "{VERSION_PROPERTY}" (a positive integer): add it')
        return RecordReport(name, None, numbers, tuple(errors))
    if numbers and version < numbers[-1]:
        errors.append(
            f"{name} is at acolhe.version {version}, lower than its release v{numbers[-1]}: "
            f"versions never go down; set it to {numbers[-1] + 1}"
        )
    if version in releases and releases[version].document != schema.document:
        errors.append(
            f"{name} v{version} differs from its release {releases[version].shown}: a released "
            f"version is never edited; bump acolhe.version to {version + 1}"
        )
    older = [n for n in numbers if n < version]
    for n in older:
        pair = check_pair(schema.document, releases[n].document)
        required = _directions(minimum, is_latest=n == older[-1])
        wished = _directions(level, is_latest=n == older[-1]) - required
        for direction in sorted(required):
            errors.extend(pair.failures(direction))
        if any(pair.failures(direction) for direction in required):
            continue
        for direction in sorted(wished):
            hint = f"upgrade every reader of v{n} before any producer writes v{version}"
            if direction == "BACKWARD":
                hint = f"readers of v{version} cannot replay events written with v{n}"
            warnings.extend(
                f"{reason}; allowed by the {minimum} floor: {hint}"
                for reason in pair.failures(direction)
            )
    return RecordReport(name, version, numbers, tuple(errors), tuple(warnings))


def _directions(level: Level, *, is_latest: bool) -> frozenset[Direction]:
    base, _, transitive = level.partition("_")
    if base == "NONE" or not (transitive or is_latest):
        return frozenset()
    directions: dict[str, frozenset[Direction]] = {
        "BACKWARD": frozenset({"BACKWARD"}),
        "FORWARD": frozenset({"FORWARD"}),
        "FULL": frozenset({"BACKWARD", "FORWARD"}),
    }
    return directions[base]


def _document(source: SchemaSource) -> dict[str, Any]:
    if not isinstance(source, str):
        return dict(source)
    try:
        document = json.loads(source)
    except json.JSONDecodeError as exc:
        raise SchemaEvolutionError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SchemaEvolutionError("a schema file holds one JSON object, a record")
    return document


def _parse(document: Mapping[str, Any]) -> avro.schema.Schema:
    try:
        return avro.schema.parse(json.dumps(document))
    except (avro.errors.AvroException, TypeError, ValueError) as exc:
        raise SchemaEvolutionError(f"not a valid Avro schema: {exc}") from exc


def _tag(document: Mapping[str, Any], fallback: str) -> str:
    version = document.get(VERSION_PROPERTY)
    return f"v{version}" if isinstance(version, int) else f"({fallback})"


# The checker returns its messages and locations as two unordered sets; each message's kind
# and the shape of its location tell which location belongs to which message.
def _explain(
    messages: Iterable[str],
    locations: Iterable[str],
    reader: Mapping[str, Any],
    reader_tag: str,
    direction: Direction,
) -> list[str]:
    def order(location: str) -> list[tuple[int, int, str]]:
        return [(0, int(s), "") if s.isdigit() else (1, 0, s) for s in location.split("/")]

    free = sorted(locations, key=order)
    reasons = []
    for message in sorted(messages):
        kind = _kind(message)
        candidates = [loc for loc in free if _belongs(kind, message, loc, reader)]
        if len(candidates) == 1:
            free.remove(candidates[0])
        where = f" (at {', '.join(candidates)})" if candidates else ""
        place = order(candidates[0]) if candidates else [(2, 0, "")]
        reasons.append((place, _describe(kind, message, reader_tag, direction) + where))
    return [reason for _, reason in sorted(reasons)]


def _kind(message: str) -> str:
    if message.startswith("reader type:"):
        return "type"
    if message.startswith("reader union lacking"):
        return "union"
    if message.startswith("expected:"):
        return "size" if "found:" in message else "name"
    return "symbols" if message.startswith("{") else "field"


def _belongs(kind: str, message: str, location: str, reader: Mapping[str, Any]) -> bool:
    tail = location.rsplit("/", 2)
    if kind == "field":
        node = _resolve(reader, location)
        return tail[-2:-1] == ["fields"] and isinstance(node, dict) and node.get("name") == message
    if kind in ("symbols", "name", "size"):
        return tail[-1] == kind
    return tail[-1] not in ("symbols", "name", "size") and tail[-2:-1] != ["fields"]


def _resolve(document: Any, location: str) -> Any:
    node = document
    for step in filter(None, location.split("/")):
        if isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        elif isinstance(node, dict):
            node = node.get(step)
        else:
            return None
    return node


_DESCRIPTIONS = {
    "added": "field '{message}' added without a default",
    "field": "field '{message}' removed or renamed, and {reader} has no default for it",
    "type": "{second} cannot be read as {first}",
    "union": "the union in {reader} has no branch for {first}",
    "symbols": "enum symbols {symbols} unknown to {reader}, whose enum has no default",
    "name": "named type renamed from {renamed} without an alias",
    "size": "fixed size changed ({message})",
}


def _describe(kind: str, message: str, reader_tag: str, direction: Direction) -> str:
    match = _TYPE_MISMATCH.fullmatch(message) or _UNION_BRANCH.search(message)
    if kind in ("type", "union") and match is None:
        return message
    first, second = (
        (match.group(1).lower(), match.group(match.re.groups).lower()) if match else ("", "")
    )
    return _DESCRIPTIONS["added" if (kind, direction) == ("field", "BACKWARD") else kind].format(
        message=message,
        reader=reader_tag,
        first=first,
        second=second,
        symbols=message.strip("{}"),
        renamed=message.removeprefix("expected: "),
    )
