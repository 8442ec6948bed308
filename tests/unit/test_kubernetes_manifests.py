"""deploy/kubernetes is a kustomize base that runs acolhe as the code expects: real `acolhe`
commands, variables the code reads with values its readers accept, probes on the ports the
connectors listen on, secrets only from Secrets, the local stack's Kafka and PostgreSQL
versions and broker settings. No cluster here, so the manifests are checked as data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.catalog import TOPICS
from streams.cli import run as run_cmd
from streams.projections.folds import projections
from tests.unit.test_deploy_files import (
    DEPLOY,
    MIGRATE,
    compose_stack,
    connector_listeners,
    connectors_that,
    dockerfile_env,
    health_path,
    http_connectors,
    image_user,
    is_acolhe_command,
    local_kafka_version,
    local_postgres_major,
    long_running_commands,
    names_the_code_reads,
    project,
    secret_names,
    server_properties,
    stand_in,
)

K8S = DEPLOY / "kubernetes"
TEMPLATE = "secret.example.yaml"
"""Applying it would overwrite the real secrets with placeholders: kept out of the base."""
# The processors' input topics, as streams/cli/run.py wires them.
PROCESSOR_INPUTS = {
    "conversation": run_cmd.CONVERSATIONS,
    "sla": run_cmd.CONVERSATIONS,
    "router": run_cmd.ROUTING,
}


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@cache
def _kustomization() -> dict[str, Any]:
    data = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert isinstance(data, dict)
    return data


@cache
def _resources() -> tuple[dict[str, Any], ...]:
    """Every object the base applies."""
    return tuple(d for name in _kustomization()["resources"] for d in _load(K8S / name))


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [r for r in _resources() if r["kind"] == kind]


def _named(kind: str, name: str) -> dict[str, Any]:
    (found,) = [r for r in _of_kind(kind) if r["metadata"]["name"] == name]
    return found


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for r in _resources():
        if r["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield r["metadata"]["name"], r["spec"]["template"]["spec"]


def _acolhe_containers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every container of the acolhe image."""
    for r in _resources():
        if r["kind"] in ("Deployment", "StatefulSet", "Job"):
            for c in r["spec"]["template"]["spec"]["containers"]:
                if c["image"].split(":")[0] == "acolhe":
                    yield r, c


def _connector(container: dict[str, Any]) -> str | None:
    args = container["args"]
    return args[1] if args[0] == "run" and args[1] in run_cmd.CONNECTORS else None


def _container_env(container: dict[str, Any]) -> dict[str, str]:
    """What the container's process sees: the ConfigMaps it takes whole, then its own
    variables, with stand-ins for what comes from Secrets (an optional one left out)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(_named("ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif not var["valueFrom"]["secretKeyRef"].get("optional"):
            env[var["name"]] = stand_in(var["name"])
    return env


def _port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


def _probe_ports(container: dict[str, Any]) -> set[int]:
    ports = set()
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(kind)
        if probe:
            handler = probe.get("httpGet") or probe.get("tcpSocket")
            ports.add(_port_number(container, handler["port"]))
    return ports


def _quantity(value: str | int) -> float:
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * factor
    return float(text)


# -- the base ---------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_and_nothing_missing() -> None:
    listed = _kustomization()["resources"]
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert len(listed) == len(set(listed))
    assert all((K8S / name).is_file() for name in listed)
    assert set(listed) == on_disk - {TEMPLATE}
    assert TEMPLATE not in listed


def test_everything_lands_in_the_acolhe_namespace() -> None:
    assert _kustomization()["namespace"] == "acolhe"
    assert [n["metadata"]["name"] for n in _of_kind("Namespace")] == ["acolhe"]
    assert not [r for r in _resources() if r["metadata"].get("namespace") not in (None, "acolhe")]


def test_every_acolhe_container_runs_a_real_acolhe_command() -> None:
    commands = []
    for workload, container in _acolhe_containers():
        name = workload["metadata"]["name"]
        # The image's ENTRYPOINT is `acolhe`: `command` would replace it.
        assert "command" not in container, name
        assert is_acolhe_command(container["args"]), f"{name}: acolhe {container['args']}"
        commands.append((workload["kind"], tuple(container["args"])))
    deployments = [c for kind, c in commands if kind == "Deployment"]
    assert len(deployments) == len(set(deployments))
    assert set(deployments) == long_running_commands()
    assert [c for kind, c in commands if kind == "Job"] == [MIGRATE]


def test_images_are_pinned_and_match_the_local_stack_and_the_project() -> None:
    images = {c["image"] for _, spec in _pod_specs() for c in spec["containers"]}
    for image in images:
        _, _, tag = image.rpartition(":")
        assert tag, f"{image} is not pinned"
        assert tag != "latest", f"{image} is not pinned"
        assert "/" not in tag, f"{image} has no tag"
    assert f"apache/kafka:{local_kafka_version()}" in images
    assert f"postgres:{local_postgres_major()}" in images
    assert f"acolhe:{project()['version']}" in images
    assert len(images) == 3


# -- settings and secrets ---------------------------------------------------------------------


def test_acolhe_containers_set_only_variables_the_code_reads() -> None:
    known = names_the_code_reads()
    for config_map in _of_kind("ConfigMap"):
        unknown = set(config_map["data"]) - known
        assert not unknown, f"ConfigMap {config_map['metadata']['name']}: {sorted(unknown)}"
    for workload, container in _acolhe_containers():
        unknown = {v["name"] for v in container.get("env", [])} - known
        assert not unknown, f"{workload['metadata']['name']} sets {sorted(unknown)}"


def test_the_settings_in_force_are_accepted_by_the_code() -> None:
    from streams.shared.settings import Settings

    for workload, container in _acolhe_containers():
        settings = Settings.from_env({**dockerfile_env(), **_container_env(container)})
        if tuple(container["args"]) != MIGRATE:
            assert settings.kafka.bootstrap_servers.split(":")[0] in {
                s["metadata"]["name"] for s in _of_kind("Service")
            }, workload["metadata"]["name"]
        dsn_host = settings.postgres.dsn.reveal().split("@")[1].split(":")[0]
        assert dsn_host == "postgres"


def test_secrets_come_only_from_secrets_and_the_template_holds_no_real_value() -> None:
    secrets = secret_names()
    for config_map in _of_kind("ConfigMap"):
        assert not set(config_map["data"]) & secrets
    templates = {d["metadata"]["name"]: d["stringData"] for d in _load(K8S / TEMPLATE)}
    referenced = 0
    for _, spec in _pod_specs():
        for container in spec["containers"]:
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if var["name"] in secrets:
                    assert ref, f"{var['name']} must come from a Secret"
                if ref:
                    assert ref["key"] in templates[ref["name"]], f"{ref} is not in {TEMPLATE}"
                    referenced += 1
    assert referenced >= 20
    assert not [s for s in _resources() if s["kind"] == "Secret"], "secrets are made by hand"
    for values in templates.values():
        for key, value in values.items():
            assert "REPLACE_ME" in value, f"{key} must be a placeholder"
            assert not re.search(r"[A-Za-z0-9+/]{16,}={0,2}", value), f"{key} looks real"


def test_every_process_that_seals_data_gets_the_one_master_key_and_connectors_the_contact_key() -> (
    None
):
    contact_key_users = connectors_that("contact_id_key()")
    for workload, container in _acolhe_containers():
        refs = {
            v["name"]: v["valueFrom"]["secretKeyRef"]
            for v in container.get("env", [])
            if "valueFrom" in v
        }
        if tuple(container["args"]) == MIGRATE:
            continue
        # Without it each pod would make its own key, and no pod could open another's data.
        assert refs["ACOLHE_MASTER_KEY"] == {"name": "acolhe", "key": "ACOLHE_MASTER_KEY"}
        if _connector(container) in contact_key_users:
            assert not refs["ACOLHE_CONTACT_ID_KEY"].get("optional"), workload["metadata"]["name"]


# -- connectors: where they listen ------------------------------------------------------------


def test_connectors_listen_where_their_probes_and_services_point() -> None:
    seen = set()
    for workload, container in _acolhe_containers():
        name = _connector(container)
        if name is None:
            continue
        seen.add(name)
        listeners = connector_listeners(name, _container_env(container))
        listener = listeners[0]  # the one its probes ask
        for each in listeners:
            assert each.host == "0.0.0.0", f"{name} must listen beyond the pod"
            assert each.port == each.default_port
        ports = {each.port for each in listeners}
        declared = {int(p["containerPort"]) for p in container["ports"]}
        assert declared == ports, name
        assert _probe_ports(container) == {listener.port}, name
        if name in http_connectors():
            for kind in ("readinessProbe", "livenessProbe"):
                assert container[kind]["httpGet"]["path"] == health_path()
        labels = workload["spec"]["template"]["metadata"]["labels"]
        services = [
            s for s in _of_kind("Service") if s["spec"]["selector"].items() <= labels.items()
        ]
        assert len(services) == 1, f"{name} needs one Service"
        for port in services[0]["spec"]["ports"]:
            assert _port_number(container, port["targetPort"]) in ports, name
    assert seen == set(run_cmd.CONNECTORS)


def test_processors_and_projectors_open_only_their_metrics_port_and_have_no_probe() -> None:
    from streams.shared.settings import Settings

    for workload, container in _acolhe_containers():
        if _connector(container) is None:
            name = workload["metadata"]["name"]
            port = Settings.from_env(_container_env(container)).metrics_port
            declared = [p["containerPort"] for p in container.get("ports", [])]
            assert declared == ([port] if port else []), name
            # /healthz says only that the loop answers; a long restore would fail a probe.
            assert not _probe_ports(container), name


def test_service_links_are_off_so_they_cannot_shadow_settings() -> None:
    # A Service named acolhe-webchat would give every pod ACOLHE_WEBCHAT_PORT=tcp://...,
    # which the web chat reads as its port; kafka's would give KAFKA_PORT to the broker.
    for name, spec in _pod_specs():
        assert spec.get("enableServiceLinks") is False, name


def test_workloads_select_their_own_pods() -> None:
    for r in _resources():
        if r["kind"] in ("Deployment", "StatefulSet"):
            selector = r["spec"]["selector"]["matchLabels"]
            labels = r["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), r["metadata"]["name"]
            assert selector["app.kubernetes.io/name"] == r["metadata"]["name"]


def test_services_select_pods_and_name_their_ports() -> None:
    pods = [
        (r["spec"]["template"]["metadata"]["labels"], r["spec"]["template"]["spec"])
        for r in _resources()
        if r["kind"] in ("Deployment", "StatefulSet")
    ]
    for service in _of_kind("Service"):
        selector = service["spec"]["selector"]
        matched = [spec for labels, spec in pods if selector.items() <= labels.items()]
        assert len(matched) == 1, service["metadata"]["name"]
        (container,) = matched[0]["containers"]
        for port in service["spec"]["ports"]:
            assert _port_number(container, port["targetPort"])


# -- Kafka and PostgreSQL ---------------------------------------------------------------------


def test_kafka_broker_settings_match_server_properties() -> None:
    (container,) = _named("StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"]
    env = {v["name"]: v["value"] for v in container["env"]}
    # Addresses differ on purpose (the pod's names); everything else must agree.
    skip = {
        "listeners",
        "advertised.listeners",
        "controller.quorum.voters",
        "log.dirs",
        "num.network.threads",
        "num.io.threads",
        "num.recovery.threads.per.data.dir",
        "background.threads",
        "log.retention.check.interval.ms",
    }
    compared = 0
    for key, value in server_properties().items():
        if key not in skip:
            env_key = "KAFKA_" + key.upper().replace(".", "_")
            assert env.get(env_key) == value, f"{env_key} differs from server.properties {key}"
            compared += 1
    assert compared >= 15
    # What clients are told must be where the headless Service puts the pod.
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split("//")[1]
    assert advertised == "kafka-0.kafka:9092"
    kafka = _named("StatefulSet", "kafka")
    assert kafka["spec"]["serviceName"] == "kafka"
    assert kafka["spec"]["replicas"] == 1
    assert _named("Service", "kafka")["spec"]["clusterIP"] == "None"
    bootstrap = _named("ConfigMap", "acolhe-settings")["data"]["ACOLHE_KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap == "kafka:9092"


def test_postgres_runs_with_the_server_settings_of_compose() -> None:
    compose = compose_stack()
    (container,) = _named("StatefulSet", "postgres")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == compose["services"]["postgres"]["command"]
    env = {v["name"]: v for v in container["env"]}
    assert env["POSTGRES_DB"]["value"] == "acolhe"
    assert "secretKeyRef" in env["POSTGRES_PASSWORD"]["valueFrom"]


@pytest.mark.parametrize("name", ["kafka", "postgres"])
def test_servers_keep_their_data_on_a_persistent_volume(name: str) -> None:
    spec = _named("StatefulSet", name)["spec"]
    (claim,) = spec["volumeClaimTemplates"]
    (container,) = spec["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert claim["metadata"]["name"] in mounts
    if name == "kafka":
        assert mounts["data"] == {v["name"]: v["value"] for v in container["env"]}["KAFKA_LOG_DIRS"]


# -- running unprivileged, with bounded resources ---------------------------------------------


def test_pods_run_unprivileged_and_acolhe_as_the_images_user_on_a_read_only_root() -> None:
    for name, spec in _pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["capabilities"]["drop"] == ["ALL"], name
    for workload, container in _acolhe_containers():
        spec = workload["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsUser"] == image_user()
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/tmp" in mounts, "Python needs a writable temporary directory"


def test_the_connectors_that_keep_files_share_one_writable_media_store() -> None:
    media_dir = f"{dockerfile_env()['ACOLHE_STATE_DIR']}/media"
    keepers = connectors_that("FileMediaStore(")
    claims = {c["metadata"]["name"]: c for c in _of_kind("PersistentVolumeClaim")}
    for workload, container in _acolhe_containers():
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        if _connector(container) not in keepers:
            assert media_dir not in mounts
            continue
        # The root file system is read-only: files anywhere else could not be written.
        claim = volumes[mounts[media_dir]]["persistentVolumeClaim"]["claimName"]
        assert claims[claim]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_every_container_asks_for_resources_within_its_limits() -> None:
    for name, spec in _pod_specs():
        for container in spec["containers"]:
            resources = container["resources"]
            for kind in ("cpu", "memory"):
                request = _quantity(resources["requests"][kind])
                assert 0 < request <= _quantity(resources["limits"][kind]), f"{name} {kind}"


# -- replicas ---------------------------------------------------------------------------------


def _deployments() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    return {
        w["metadata"]["name"]: (w, c) for w, c in _acolhe_containers() if w["kind"] == "Deployment"
    }


def test_consumers_run_no_more_replicas_than_their_input_has_partitions() -> None:
    inputs = {**PROCESSOR_INPUTS, **{n: p.topic for n, p in projections().items()}}
    checked = 0
    for name, (workload, container) in _deployments().items():
        args = container["args"]
        role = args[-1]
        if args[0] == "run" and role not in PROCESSOR_INPUTS:
            continue
        partitions = TOPICS[inputs[role]].partitions
        assert 1 <= workload["spec"]["replicas"] <= partitions, name
        checked += 1
    assert checked == len(PROCESSOR_INPUTS) + len(projections())


@pytest.mark.parametrize("service", ["timer"])
def test_single_process_services_run_one_replica_and_never_two_at_once(service: str) -> None:
    # timer: a second one would only write the same ticks again. (The web chat scales: its
    # replicas hear of every message through Postgres, connectors/webchat/listener.py.)
    (workload,) = [w for w, c in _deployments().values() if c["args"] == ["run", service]]
    assert workload["spec"]["replicas"] == 1
    assert workload["spec"]["strategy"]["type"] == "Recreate"


def test_disruption_budgets_protect_replicated_workloads_without_blocking_a_drain() -> None:
    deployments = [w for w, _ in _deployments().values()]
    budgets = _of_kind("PodDisruptionBudget")
    assert budgets
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        (target,) = [
            d
            for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        replicas = target["spec"]["replicas"]
        if "minAvailable" in budget["spec"]:
            assert budget["spec"]["minAvailable"] < replicas, budget["metadata"]["name"]
        else:
            assert 1 <= budget["spec"]["maxUnavailable"] < replicas, budget["metadata"]["name"]


def test_the_migration_job_needs_only_the_database() -> None:
    (job,) = _of_kind("Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert tuple(container["args"]) == MIGRATE
    assert [v["name"] for v in container["env"]] == ["ACOLHE_POSTGRES_DSN"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 3, "retried while Postgres starts"
