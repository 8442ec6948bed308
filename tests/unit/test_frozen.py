"""The cores' `replace` gives what `dataclasses.replace` gives, and refuses what it refuses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.cases.state import CaseView, ContactState
from streams.shared.frozen import replace


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checked:
    low: int
    high: int
    seen: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


@given(
    st.text(),
    st.integers(),
    st.lists(st.text(), max_size=3).map(tuple),
    st.sets(st.sampled_from(["name", "count", "tags"])),
)
def test_a_copy_equals_the_standard_replace(
    name: str, count: int, tags: tuple[str, ...], which: set[str]
) -> None:
    original = Sample(name="before")
    given_values: dict[str, Any] = {"name": name, "count": count, "tags": tags}
    changes = {k: v for k, v in given_values.items() if k in which}

    copied = replace(original, **changes)

    assert copied == dataclasses.replace(original, **changes)
    assert type(copied) is Sample
    assert original == Sample(name="before")  # the original is untouched


def test_the_cores_state_copies_keep_every_other_field() -> None:
    state = ContactState(contact_id="contact-1", citizen_id="citizen-1")

    moved = replace(state, channel="email")

    assert moved.channel == "email"
    assert moved.citizen_id == "citizen-1"
    assert moved.contact_id == "contact-1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        moved.channel = "whatsapp"  # type: ignore[misc]


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="Sample has no field colour"):
        replace(Sample(name="x"), colour="red")


def test_a_class_that_checks_itself_still_checks_a_copy() -> None:
    with pytest.raises(ValueError, match="low above high"):
        replace(Checked(1, 2), low=3)
    assert replace(Checked(1, 2), high=5) == Checked(1, 5)


def test_not_a_dataclass_is_refused() -> None:
    with pytest.raises(TypeError, match="dataclass"):
        replace(CaseView)  # the class itself, not an instance
