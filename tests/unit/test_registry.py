"""The schema registry client against the local stand-in registry on loopback (no Kafka)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
import pytest

from schemas.registry import (
    FramingError,
    IncompatibleSchema,
    InvalidSchema,
    RegistryError,
    RegistryUnavailable,
    SchemaNotFound,
    SchemaRegistryClient,
    frame_confluent,
    parse_confluent,
)
from streams.shared.errors import BadInput, RetriableInfrastructureError
from tests.standins.schema_registry import (
    REGISTRY,
    StandInRegistry,
    closed_port,
    start_registry,
)

SUBJECT = "citizen.messages-value"


def record(*fields: dict[str, object]) -> str:
    return orjson.dumps(
        {"type": "record", "name": "MessageReceived", "namespace": "acolhe", "fields": fields}
    ).decode()


V1 = record({"name": "message_id", "type": "string"})
V2 = record(
    {"name": "message_id", "type": "string"},
    {"name": "channel", "type": "string", "default": "email"},
)
V2_NO_DEFAULT = record(
    {"name": "message_id", "type": "string"},
    {"name": "channel", "type": "string"},
)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, StandInRegistry]]:
    url, runner = await start_registry()
    try:
        yield url, runner.app[REGISTRY]
    finally:
        await runner.cleanup()


@pytest.fixture
async def client(served: tuple[str, StandInRegistry]) -> AsyncIterator[SchemaRegistryClient]:
    async with SchemaRegistryClient(served[0], timeout_s=5.0) as registry_client:
        yield registry_client


async def test_register_returns_an_id_and_version_one(client: SchemaRegistryClient) -> None:
    schema_id = await client.register(SUBJECT, V1)

    assert schema_id >= 1
    assert await client.list_versions(SUBJECT) == [1]
    latest = await client.get_version(SUBJECT, "latest")
    assert (latest.id, latest.version, latest.subject) == (schema_id, 1, SUBJECT)


async def test_same_schema_again_gives_same_id_and_no_new_version(
    served: tuple[str, StandInRegistry],
) -> None:
    async with SchemaRegistryClient(served[0]) as first, SchemaRegistryClient(served[0]) as second:
        first_id = await first.register(SUBJECT, V1)
        # A second client has no cache: the registry itself must answer with the same id.
        assert await second.register(SUBJECT, V1) == first_id

        assert await second.list_versions(SUBJECT) == [1]
        assert await second.register("other-value", V1) == first_id
        found = await second.lookup(SUBJECT, V1)
        assert (found.id, found.version) == (first_id, 1)


async def test_compatible_change_becomes_version_two(client: SchemaRegistryClient) -> None:
    first_id = await client.register(SUBJECT, V1)

    second_id = await client.register(SUBJECT, V2)

    assert second_id != first_id
    assert await client.list_versions(SUBJECT) == [1, 2]
    assert (await client.get_version(SUBJECT, 2)).id == second_id
    assert orjson.loads(await client.get_schema(second_id)) == orjson.loads(V2)


async def test_field_without_default_is_refused_under_backward(
    client: SchemaRegistryClient,
) -> None:
    await client.register(SUBJECT, V1)

    with pytest.raises(IncompatibleSchema) as caught:
        await client.register(SUBJECT, V2_NO_DEFAULT)

    message = str(caught.value)
    assert "HTTP 409" in message
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in message
    assert "channel" in message
    assert isinstance(caught.value, BadInput)
    assert await client.list_versions(SUBJECT) == [1]


async def test_check_compatibility_explains_the_refusal(client: SchemaRegistryClient) -> None:
    await client.register(SUBJECT, V1)

    refused = await client.check_compatibility(SUBJECT, V2_NO_DEFAULT)
    accepted = await client.check_compatibility(SUBJECT, V2, version=1)

    assert refused.is_compatible is False
    assert any("channel" in m for m in refused.messages)
    assert accepted.is_compatible is True


async def test_compatibility_level_decides_what_is_accepted(
    client: SchemaRegistryClient,
) -> None:
    await client.register(SUBJECT, V1)
    assert await client.get_compatibility() == "BACKWARD"

    await client.set_compatibility("NONE", subject=SUBJECT)

    assert await client.get_compatibility(SUBJECT) == "NONE"
    assert await client.get_compatibility() == "BACKWARD"
    assert await client.register(SUBJECT, V2_NO_DEFAULT) >= 1
    assert await client.list_versions(SUBJECT) == [1, 2]


async def test_forward_refuses_removing_a_field_without_default(
    client: SchemaRegistryClient,
) -> None:
    await client.set_compatibility("FORWARD", subject=SUBJECT)
    await client.register(SUBJECT, V2_NO_DEFAULT)

    with pytest.raises(IncompatibleSchema, match="version 1 cannot read"):
        await client.register(SUBJECT, V1)


async def test_unknown_subject_and_version_are_not_found(client: SchemaRegistryClient) -> None:
    with pytest.raises(SchemaNotFound, match="40401"):
        await client.list_versions("nobody-value")
    with pytest.raises(SchemaNotFound, match="40401"):
        await client.get_version("nobody-value", "latest")
    await client.register(SUBJECT, V1)
    with pytest.raises(SchemaNotFound, match="40402"):
        await client.get_version(SUBJECT, 7)
    with pytest.raises(SchemaNotFound, match="40403"):
        await client.lookup(SUBJECT, V2)


async def test_unknown_schema_id_is_not_found(client: SchemaRegistryClient) -> None:
    with pytest.raises(SchemaNotFound) as caught:
        await client.get_schema(4242)

    assert "HTTP 404" in str(caught.value)
    assert caught.value.error_code == 40403


async def test_invalid_schema_is_refused(client: SchemaRegistryClient) -> None:
    not_avro = orjson.dumps({"type": "record", "name": "X", "fields": [{"name": "a"}]}).decode()

    with pytest.raises(InvalidSchema) as caught:
        await client.register(SUBJECT, not_avro)

    assert caught.value.error_code == 42201
    assert "HTTP 422" in str(caught.value)


async def test_registry_down_is_retriable_and_quick() -> None:
    started = time.monotonic()
    async with SchemaRegistryClient(
        f"http://127.0.0.1:{closed_port()}", timeout_s=2.0
    ) as registry_client:
        with pytest.raises(RegistryUnavailable) as caught:
            await registry_client.register(SUBJECT, V1)

    assert time.monotonic() - started < 2.0
    assert isinstance(caught.value, RetriableInfrastructureError)
    assert "ACOLHE_SCHEMA_REGISTRY_URL" in str(caught.value)


async def test_registry_that_never_answers_times_out() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with SchemaRegistryClient(
            f"http://127.0.0.1:{port}", timeout_s=0.3
        ) as registry_client:
            with pytest.raises(RegistryUnavailable, match=r"within 0\.3s"):
                await asyncio.wait_for(registry_client.get_schema(1), timeout=5.0)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_second_get_schema_is_served_from_the_cache(
    served: tuple[str, StandInRegistry],
) -> None:
    url, state = served
    async with SchemaRegistryClient(url) as writer_side:
        schema_id = await writer_side.register(SUBJECT, V1)
        await writer_side.register(SUBJECT, V1)
        assert state.count("POST", f"/subjects/{SUBJECT}/versions") == 1

    async with SchemaRegistryClient(url) as reader_side:
        first = await reader_side.get_schema(schema_id)
        second = await reader_side.get_schema(schema_id)

    assert first == second
    assert state.count("GET", f"/schemas/ids/{schema_id}") == 1


async def test_subjects_are_url_encoded(client: SchemaRegistryClient) -> None:
    odd = "ação/caixa de entrada-value"

    schema_id = await client.register(odd, V1)

    found = await client.get_version(odd, 1)
    assert (found.subject, found.id) == (odd, schema_id)


async def test_basic_auth_is_sent_and_bad_credentials_say_what_to_check() -> None:
    url, runner = await start_registry(username="acolhe", password="s3cr3t-pw")
    try:
        async with SchemaRegistryClient(url, username="acolhe", password="s3cr3t-pw") as good:
            assert await good.register(SUBJECT, V1) >= 1
        async with SchemaRegistryClient(url, username="acolhe", password="wrong-pw") as bad:
            with pytest.raises(RegistryError) as caught:
                await bad.get_schema(1)
    finally:
        await runner.cleanup()

    assert caught.value.status == 401
    assert "credentials" in str(caught.value)
    assert "wrong-pw" not in str(caught.value)


def test_password_never_appears_in_repr() -> None:
    explicit = SchemaRegistryClient(
        "https://registry.example:8081", username="acolhe", password="s3cr3t-pw"
    )
    in_url = SchemaRegistryClient("https://acolhe:s3cr3t-pw@registry.example:8081/")

    for registry_client in (explicit, in_url):
        text = repr(registry_client)
        assert "s3cr3t-pw" not in text
        assert "acolhe" in text
        assert "registry.example:8081" in text


def test_frame_and_parse_round_trip() -> None:
    body = b"\x02\x0ahello"

    framed = frame_confluent(258, body)
    schema_id, parsed = parse_confluent(framed)

    assert framed[:5] == b"\x00\x00\x00\x01\x02"
    assert schema_id == 258
    assert bytes(parsed) == body


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "0 bytes"),
        (b"\x00\x00\x01", "3 bytes"),
        (b"\x01\x00\x00\x00\x01body", "magic byte is 0x01"),
    ],
)
def test_parse_refuses_what_is_not_framed(data: bytes, reason: str) -> None:
    with pytest.raises(FramingError, match=reason) as caught:
        parse_confluent(data)

    assert isinstance(caught.value, BadInput)


def test_frame_refuses_an_id_the_registry_cannot_have() -> None:
    with pytest.raises(FramingError):
        frame_confluent(-1, b"")
