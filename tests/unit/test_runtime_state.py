"""A processor whose state holds personal values is built only when its core says whose they
are: otherwise its snapshots could not be sealed, and would have to keep them in clear."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from schemas.codec import Codec, SchemaSet
from schemas.personal import Erased, InMemoryKeyRing
from streams.conversation.processor import ConversationCore
from streams.shared.contract import Contract
from streams.shared.runtime import Processor
from streams.shared.settings import KafkaSettings

KAFKA = KafkaSettings("127.0.0.1:1")  # never contacted: nothing here starts


@dataclass(frozen=True)
class Note:
    contact_id: str
    text: str | Erased | None = None


class Notes:
    """A core whose state holds a personal value and does not say whose it is."""

    name = "test.notes"
    state_type = Note

    def key_of(self, event: Any) -> str | None:
        return None

    def initial(self, key: str) -> Note:
        return Note(key)

    def handle(self, state: Note, event: Any) -> tuple[Note | None, list[Any]]:
        return state, []

    def wakes_at(self, state: Note) -> datetime | None:
        return None


def contract() -> Contract:
    return Contract(Codec(SchemaSet.from_dirs()), InMemoryKeyRing())


def test_a_core_with_personal_state_must_name_its_subject() -> None:
    with pytest.raises(TypeError, match="subject_of"):
        Processor(Notes(), contract(), KAFKA, input_topic="in", routes={})


def test_the_conversation_core_names_its_subject() -> None:
    processor = Processor(ConversationCore(), contract(), KAFKA, input_topic="in", routes={})

    assert processor.core.name == "streams.conversation"
