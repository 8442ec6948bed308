"""With the `confluent` framing, events carry a schema registry's ids instead of fingerprints."""

from __future__ import annotations

import struct

import pytest

from schemas.codec import Codec, SchemaSet, load_schema
from schemas.errors import DecodeError, UnknownEvent
from schemas.personal import InMemoryKeyRing
from schemas.registered import learn_ids, register_all
from schemas.registry import SchemaRegistryClient
from tests.standins.schema_registry import start_registry
from tests.unit.test_codec import NOTE_V1, NOTE_V2, note


def _schemas() -> SchemaSet:
    return SchemaSet([load_schema(NOTE_V2)], released=[load_schema(NOTE_V1)])


async def test_registered_schemas_frame_events_with_magic_byte_and_id() -> None:
    url, runner = await start_registry()
    try:
        async with SchemaRegistryClient(url) as client:
            writer = Codec(_schemas(), framing="confluent")
            ids = await register_all(writer, client)
            ring = InMemoryKeyRing()

            data = writer.encode("NoteTaken", {**note(), "priority": "high"}, ring)

            assert data[0] == 0
            assert struct.unpack(">I", data[1:5])[0] == ids["NoteTaken"]
            # A reader that starts cold learns the id from the registry.
            reader = Codec(_schemas(), framing="confluent")
            with pytest.raises(UnknownEvent, match="schema id"):
                reader.decode(data, ring)
            await learn_ids(reader, client, [ids["NoteTaken"]])
            assert reader.decode(data, ring).record["priority"] == "high"
    finally:
        await runner.cleanup()


async def test_old_versions_keep_their_own_ids_and_still_decode() -> None:
    url, runner = await start_registry()
    try:
        async with SchemaRegistryClient(url) as client:
            old_writer = Codec(SchemaSet([load_schema(NOTE_V1)]), framing="confluent")
            await register_all(old_writer, client)
            ring = InMemoryKeyRing()
            old = old_writer.encode("NoteTaken", note(), ring)

            reader = Codec(_schemas(), framing="confluent")
            ids = await register_all(reader, client)

            assert struct.unpack(">I", old[1:5])[0] != ids["NoteTaken"]
            decoded = reader.decode(old, ring)
            assert decoded.version == 1
            assert decoded.record["priority"] == "normal"
    finally:
        await runner.cleanup()


def test_encoding_before_registering_says_what_to_do() -> None:
    with pytest.raises(UnknownEvent, match="register the schemas first"):
        Codec(_schemas(), framing="confluent").encode("NoteTaken", note(), InMemoryKeyRing())


@pytest.mark.parametrize("data", [b"", b"\x00\x00", b"\x05\x00\x00\x00\x01\x02"])
def test_bad_registry_frames_are_decode_errors(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Codec(_schemas(), framing="confluent").decode(data)
