"""The routing configuration: the default office loads; mistakes are named by their path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.events import Area
from streams.routing.config import AREAS, RoutingConfigError, load_config, parse_config

from .builders import OFFICE


def test_the_default_office_loads_with_a_queue_for_every_area() -> None:
    config = load_config()

    served = {area for q in config.queues.values() for area in q.areas}
    assert set(AREAS) <= served
    assert len(config.agents) >= 24
    for queue in config.queues.values():
        last = len(queue.steps) - 1
        assert config.pool(queue.queue_id, last), f"{queue.queue_id} has nobody at its last step"


def test_routes_pick_the_most_specific_match() -> None:
    config = load_config()
    urgent_vd: Area = "violencia_domestica"

    assert config.queue_for(urgent_vd, "sao_paulo", True) == "violencia-domestica-urgente"
    assert config.queue_for(urgent_vd, None, False) == "violencia-domestica"
    assert config.queue_for("familia", "sao_paulo", True) == "familia-capital"
    assert config.queue_for("familia", "bauru", False) == "familia-interior"
    assert config.queue_for("other", None, False) == config.fallback_queue_id


def broken(path: list[str | int], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(OFFICE)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (broken(["queues", 1, "rule"], "fastest"), r"queues\[1\]\.rule: must be one of"),
        (broken(["queues", 0, "areas"], ["family"]), r"queues\[0\]\.areas\[0\]: must be one of"),
        (broken(["queues", 0, "queue_id"], KeyError), r"queues\[0\]: missing queue_id"),
        (broken(["queues", 0, "colour"], "red"), r"queues\[0\]: unknown key 'colour'"),
        (
            broken(["queues", 1, "queue_id"], "balanced"),
            r"queues\[1\]\.queue_id: 'balanced' appears twice",
        ),
        (broken(["routes", 2, "queue"], "nowhere"), r"routes\[2\]\.queue: no queue 'nowhere'"),
        (broken(["routes", 1, "area"], "familia"), r"routes\[1\]: the same area"),
        (broken(["fallback_queue"], "nowhere"), r"fallback_queue: no queue"),
        (broken(["agents", 0, "capacity"], -1), r"agents\[0\]\.capacity: must be a whole number"),
        (broken(["agents", 0, "roles"], ["boss"]), r"agents\[0\]\.roles\[0\]: must be one of"),
        (broken(["agents", 1, "agent_id"], "ana"), r"agents\[1\]\.agent_id: 'ana' appears twice"),
        (
            broken(["queues", 6, "escalation", 2, "timeout_seconds"], 60),
            r"queues\[6\]\.escalation\[2\]\.timeout_seconds: the last step has no next one",
        ),
        (
            broken(["queues", 6, "escalation", 0, "timeout_seconds"], None),
            r"queues\[6\]\.escalation\[0\]\.timeout_seconds: must be a positive",
        ),
        (broken(["version"], ""), r"version: must be a non-empty string"),
        ([], r"\$: must be an object"),
    ],
)
def test_a_mistake_is_named_by_its_path(data: object, message: str) -> None:
    with pytest.raises(RoutingConfigError, match=message):
        parse_config(data, source="office.json")


def test_a_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    path.write_text("{ not json")

    with pytest.raises(RoutingConfigError, match=r"routing\.json: not valid JSON"):
        load_config(path)
    with pytest.raises(RoutingConfigError, match="cannot read it"):
        load_config(tmp_path / "missing.json")


def test_a_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(OFFICE))

    config = load_config(path)

    assert config.version == "test-1"
    assert config.pool("vd", 0) == ("vd-spec",)
    assert config.pool("vd", 1) == ("vd-gen", "vd-spec")
