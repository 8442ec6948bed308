"""Binding the codec's `confluent` framing to a schema registry.

Steps of `register_all`, in order: for each event, register every released version and
then the current one under the subject `<namespace>.<Record>` (Confluent's
RecordNameStrategy, since one topic carries several event types), oldest first, so the
registry's own compatibility rules see the real history; record each id in the codec.

`learn_ids` fetches schemas by id for records written by another producer (or before a
restart) and maps each to a version the codec knows by its fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from schemas.codec import Codec, load_schema
from schemas.errors import DecodeError, UnknownEvent
from schemas.registry import SchemaRegistryClient


def subject_of(raw_name: str, namespace: str) -> str:
    return f"{namespace}.{raw_name}" if namespace else raw_name


async def register_all(codec: Codec, client: SchemaRegistryClient) -> dict[str, int]:
    """Register every known schema version; returns event name -> id of its current version."""
    ids: dict[str, int] = {}
    versions = sorted(codec.schemas.versions(), key=lambda s: (s.name, s.version))
    for schema in versions:
        subject = subject_of(schema.name, str(schema.raw.get("namespace", "")))
        schema_id = await client.register(subject, orjson.dumps(dict(schema.raw)).decode())
        codec.learn_id(schema_id, schema)
        if codec.schemas.current(schema.name).fingerprint == schema.fingerprint:
            ids[schema.name] = schema_id
    return ids


async def learn_ids(codec: Codec, client: SchemaRegistryClient, ids: Iterable[int]) -> None:
    """Teach the codec the schema ids it has not seen; UnknownEvent for foreign schemas."""
    for schema_id in sorted(set(ids)):
        if codec.knows_id(schema_id):
            continue
        text = await client.get_schema(schema_id)
        try:
            fingerprint = load_schema(orjson.loads(text)).fingerprint
        except (ValueError, KeyError, TypeError) as exc:
            raise DecodeError(f"schema id {schema_id} holds an unreadable schema: {exc!r}") from exc
        known = codec.schemas.by_fingerprint(fingerprint)
        if known is None:
            raise UnknownEvent(
                f"schema id {schema_id} is not a version of any acolhe event this build knows"
            )
        codec.learn_id(schema_id, known)
