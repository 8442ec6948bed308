"""The event contract's own rules: every schema file, the catalog and docs/events.md agree."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest

from schemas.catalog import BY_NAME, CATALOG, COMPONENTS, TOPICS, EventSpec
from schemas.docs_gen import AVRO_DIR, render_events_md

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILES = sorted(AVRO_DIR.glob("*.avsc"))
ENVELOPE = ["event_id", "occurred_at", "correlation_id", "causation_id"]
PERSONAL_SUFFIX = " Personal: encrypted with the subject's data key."
SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
TIMESTAMP = {"type": "long", "logicalType": "timestamp-micros"}

Node = Mapping[str, Any]


def load(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def walk_types(avro_type: Any) -> Iterator[Any]:
    """Every type inside `avro_type`, itself included, depth first."""
    yield avro_type
    if isinstance(avro_type, list):
        for branch in avro_type:
            yield from walk_types(branch)
    elif isinstance(avro_type, Mapping):
        kind = avro_type.get("type")
        if kind == "record":
            for field in avro_type["fields"]:
                yield from walk_types(field["type"])
        elif kind == "array":
            yield from walk_types(avro_type["items"])
        elif kind == "map":
            yield from walk_types(avro_type["values"])


def named(schema: Node, kind: str) -> list[Node]:
    return [t for t in walk_types(schema) if isinstance(t, Mapping) and t.get("type") == kind]


def all_fields(schema: Node) -> Iterator[tuple[str, Node]]:
    """Every field of the record and of its nested records, with its record's name."""
    for record in named(schema, "record"):
        for field in record["fields"]:
            yield str(record["name"]), field


def has_personal(schema: Node) -> bool:
    return any(field.get("acolhe.personal") is True for _, field in all_fields(schema))


def can_encode_to_nothing(avro_type: Any, defined: Mapping[str, Node]) -> bool:
    if isinstance(avro_type, str):
        if avro_type == "null":
            return True
        target = defined.get(avro_type)
        return target is not None and can_encode_to_nothing(target, defined)
    if isinstance(avro_type, list):
        return False  # the branch index always takes at least one byte
    kind = avro_type["type"]
    if kind == "record":
        return all(can_encode_to_nothing(f["type"], defined) for f in avro_type["fields"])
    if kind == "fixed":
        return int(avro_type["size"]) == 0
    if isinstance(kind, str) and kind not in ("enum", "array", "map"):
        return can_encode_to_nothing(kind, defined)
    return False


schema_files = pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.stem)


def test_given_the_avro_folder_then_it_holds_the_schemas() -> None:
    assert len(SCHEMA_FILES) >= 30


@schema_files
def test_given_a_schema_file_when_parsed_alone_then_fastavro_and_avro_accept_it(
    path: Path,
) -> None:
    text = path.read_text(encoding="utf-8")

    fastavro.parse_schema(json.loads(text), named_schemas={})
    parsed = avro.schema.parse(text)

    assert isinstance(parsed, avro.schema.RecordSchema)


@schema_files
def test_given_a_schema_file_then_it_names_its_one_record_after_itself(path: Path) -> None:
    schema = load(path)

    assert schema["type"] == "record"
    assert schema["name"] == path.stem
    assert schema["namespace"] == "acolhe.events"
    assert isinstance(schema["acolhe.version"], int)
    assert schema["acolhe.version"] >= 1
    assert not path.stem.endswith("Event")


@schema_files
def test_given_a_schema_file_then_it_is_written_with_two_space_indent(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    assert text == json.dumps(load(path), indent=2, ensure_ascii=False) + "\n"


@schema_files
def test_given_a_schema_then_every_record_field_and_enum_has_a_doc(path: Path) -> None:
    schema = load(path)

    undocumented = [
        str(t["name"])
        for kind in ("record", "enum")
        for t in named(schema, kind)
        if not str(t.get("doc", "")).strip()
    ]
    undocumented += [
        f"{record}.{field['name']}"
        for record, field in all_fields(schema)
        if not str(field.get("doc", "")).strip()
    ]

    assert undocumented == []


@schema_files
def test_given_a_schema_then_the_envelope_comes_first_in_order(path: Path) -> None:
    fields = load(path)["fields"]

    assert [f["name"] for f in fields[:4]] == ENVELOPE
    assert [f["type"] for f in fields[:4]] == ["string", TIMESTAMP, "string", ["null", "string"]]
    assert fields[3]["default"] is None


@schema_files
def test_given_a_personal_field_then_it_is_bytes_documented_as_encrypted(path: Path) -> None:
    schema = load(path)

    for record, field in all_fields(schema):
        if field.get("acolhe.personal") is True:
            where = f"{record}.{field['name']}"
            assert field["type"] in ("bytes", ["null", "bytes"]), where
            assert str(field["doc"]).endswith(PERSONAL_SUFFIX), where
            if isinstance(field["type"], list):
                assert field["default"] is None, where


@schema_files
def test_given_a_bytes_field_then_it_says_whether_it_is_personal(path: Path) -> None:
    schema = load(path)

    undeclared = [
        f"{record}.{field['name']}"
        for record, field in all_fields(schema)
        if field["type"] in ("bytes", ["null", "bytes"])
        and not isinstance(field.get("acolhe.personal"), bool)
    ]

    assert undeclared == []


@schema_files
def test_given_an_event_with_personal_fields_then_subject_id_follows_the_envelope(
    path: Path,
) -> None:
    schema = load(path)
    names = [f["name"] for f in schema["fields"]]

    if has_personal(schema):
        assert names[4] == "subject_id"
        assert schema["fields"][4]["type"] == "string"
    else:
        assert "subject_id" not in names


@schema_files
def test_given_a_record_with_personal_fields_then_it_is_defined_where_it_is_used(
    path: Path,
) -> None:
    """The codec finds personal fields by walking inline definitions, not name references."""
    schema = load(path)
    sensitive = {str(r["name"]) for r in named(schema, "record") if has_personal(r)}

    referenced = [t for t in walk_types(schema) if isinstance(t, str) and t in sensitive]

    assert referenced == []


@schema_files
def test_given_an_enum_then_its_symbols_are_snake_case_and_it_defaults_to_unknown(
    path: Path,
) -> None:
    for enum in named(load(path), "enum"):
        assert "unknown" in enum["symbols"], enum["name"]
        assert enum.get("default") == "unknown", enum["name"]
        assert all(SNAKE.fullmatch(s) for s in enum["symbols"]), enum["name"]


@schema_files
def test_given_a_field_then_times_and_durations_follow_the_conventions(path: Path) -> None:
    for record, field in all_fields(load(path)):
        name, avro_type = str(field["name"]), field["type"]
        branches = avro_type if isinstance(avro_type, list) else [avro_type]
        where = f"{record}.{name}"
        if name.endswith("_at") or name in ("until", "effective_from"):
            assert TIMESTAMP in branches, where
        if name.endswith("_ms"):
            assert avro_type == "long", where
        if name.endswith("_id") or name.endswith("_ids"):
            assert "string" in branches or avro_type == {"type": "array", "items": "string"}, where


@schema_files
def test_given_an_optional_field_then_null_comes_first_and_is_the_default(path: Path) -> None:
    for record, field in all_fields(load(path)):
        if isinstance(field["type"], list) and "null" in field["type"]:
            assert field["type"][0] == "null", f"{record}.{field['name']}"
            assert "default" in field, f"{record}.{field['name']}"
            assert field["default"] is None, f"{record}.{field['name']}"


@schema_files
def test_given_an_array_or_map_then_its_items_never_encode_to_nothing(path: Path) -> None:
    schema = load(path)
    defined = {
        str(t["name"]): t for kind in ("record", "enum", "fixed") for t in named(schema, kind)
    }

    for avro_type in walk_types(schema):
        if isinstance(avro_type, Mapping) and avro_type.get("type") in ("array", "map"):
            items = avro_type["items"] if avro_type["type"] == "array" else avro_type["values"]
            assert not can_encode_to_nothing(items, defined), (path.stem, items)


def test_given_the_catalog_then_it_lists_exactly_the_schema_files() -> None:
    assert sorted(spec.name for spec in CATALOG) == sorted(p.stem for p in SCHEMA_FILES)
    assert len(BY_NAME) == len(CATALOG)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.name)
def test_given_a_catalogued_event_then_its_topic_key_and_components_exist(spec: EventSpec) -> None:
    schema = load(AVRO_DIR / f"{spec.name}.avsc")
    fields = {f["name"]: f for f in schema["fields"]}

    assert spec.topic in TOPICS
    assert set(spec.copies) <= set(TOPICS) - {spec.topic}
    # A key added in a later version is optional in the schema (old records lack it); the
    # publisher refuses an event whose key is missing.
    assert fields[spec.key_field]["type"] in ("string", ["null", "string"])
    assert spec.emitted_by
    assert set(spec.emitted_by) <= set(COMPONENTS)
    assert set(spec.consumed_by) <= set(COMPONENTS)
    assert spec.description
    assert BY_NAME[spec.name] is spec


def test_given_the_topics_then_each_carries_at_least_one_event() -> None:
    carried = {spec.topic for spec in CATALOG} | {t for spec in CATALOG for t in spec.copies}
    assert carried == set(TOPICS)


def test_given_the_catalog_module_then_it_does_not_import_fastavro() -> None:
    source = (ROOT / "schemas" / "catalog.py").read_text(encoding="utf-8")

    assert "fastavro" not in source.split('"""', 2)[2]


def test_given_the_schemas_then_docs_events_md_is_up_to_date() -> None:
    page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")

    assert page == render_events_md(), (
        "docs/events.md is stale: run `python -m schemas.docs_gen > docs/events.md`"
    )
