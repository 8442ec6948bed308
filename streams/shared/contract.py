"""The event contract as a running component uses it: codec, key store and registry, from
the settings, in one object.

Steps of `Contract.open`, in order:
1. load every schema version (current and released) and build the codec with the framing
   the settings choose;
2. with `confluent` framing, register every version with the schema registry, oldest
   first, and learn their ids;
3. open the key store in Postgres (tables created if missing) under the master key.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.codec import Codec, SchemaSet
from schemas.registered import learn_ids, register_all
from schemas.registry import FramingError, SchemaRegistryClient, parse_confluent
from streams.shared.events import (
    EventPublisher,
    EventRoute,
    KeySource,
    Received,
    Rejected,
    decode_batch,
    read_events,
)
from streams.shared.keystore import PostgresKeyStore
from streams.shared.postgres import create_pool
from streams.shared.settings import Settings


@dataclass
class Contract:
    codec: Codec
    keys: KeySource
    registry: SchemaRegistryClient | None = None
    pool: Any = None

    @classmethod
    async def open(cls, settings: Settings, *, keys: KeySource | None = None) -> Contract:
        codec = Codec(SchemaSet.from_dirs(), framing=settings.contract.framing)
        registry = None
        if settings.contract.framing == "confluent":
            assert settings.contract.schema_registry_url is not None  # checked by Settings
            password = settings.contract.schema_registry_password
            registry = SchemaRegistryClient(
                settings.contract.schema_registry_url,
                username=settings.contract.schema_registry_username,
                password=password.reveal() if password else None,
            )
            await register_all(codec, registry)
        pool = None
        if keys is None:
            pool = await create_pool(settings.postgres)
            store = PostgresKeyStore(pool, settings.master_key())
            await store.create_tables()
            keys = store
        return cls(codec, keys, registry, pool)

    def publisher(
        self, producer: Any, *, source: str, routes: Mapping[str, EventRoute] | None = None
    ) -> EventPublisher:
        """A publisher; `routes` overrides the catalog's topics (tests, replays elsewhere)."""
        return EventPublisher(producer, self.codec, self.keys, source=source, routes=routes)

    async def decode(self, messages: Sequence[Any]) -> list[Received | Rejected]:
        """Decode a batch of Kafka records (learning unseen registry ids first)."""
        await self._learn_ids(messages)
        return await decode_batch(self.codec, self.keys, messages)

    async def read(
        self, messages: Sequence[Any], wanted: Container[str]
    ) -> tuple[list[tuple[int, Any]], list[Rejected]]:
        """The events of the `wanted` types in a batch of Kafka records, as (offset, event),
        and the records that are not events (`streams.shared.events.read_events`)."""
        await self._learn_ids(messages)
        return await read_events(self.codec, self.keys, messages, wanted)

    async def _learn_ids(self, messages: Sequence[Any]) -> None:
        if self.registry is not None:
            unseen = set()
            for m in messages:
                try:
                    schema_id, _ = parse_confluent(m.value)
                except FramingError:
                    continue  # decode_batch rejects it with the reason
                if not self.codec.knows_id(schema_id):
                    unseen.add(schema_id)
            if unseen:
                await learn_ids(self.codec, self.registry, unseen)

    async def close(self) -> None:
        if self.registry is not None:
            await self.registry.close()
        if self.pool is not None:
            await self.pool.close()
