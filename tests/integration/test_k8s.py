"""deploy/k8s: every manifest checked against the Kubernetes schemas and KEDA's CRD models.

No cluster runs here, so the manifests are validated offline: core objects with
kubernetes-validate (the API's JSON schemas, strict: an unknown field fails), KEDA's
ScaledObject and TriggerAuthentication with the models generated from KEDA's CRDs
(cloudcoil-models-keda; a field they drop is an unknown field), the triggers' metadata
against the scalers' documented parameters, and the whole against Hauler's queues.
"""

from __future__ import annotations

import copy
import functools
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from hauler.env import QUEUE_DEFAULTS
from hauler.recorder.metrics import Metrics
from tests.integration.services import missing
from tests.support.promql import LabelCheck, exported_names, metric_names, registry_labels

pytestmark = pytest.mark.integration

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
# The parameters KEDA 2.16 documents for the scalers used (keda.sh/docs/2.16/scalers/...).
SCALER_PARAMETERS = {
    "redis": {
        "address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv",
        "usernameFromEnv", "passwordFromEnv", "listName", "listLength",
        "activationListLength", "enableTLS", "unsafeSsl", "databaseIndex",
    },
    "prometheus": {
        "serverAddress", "query", "queryParameters", "threshold", "activationThreshold",
        "namespace", "customHeaders", "ignoreNullValues", "unsafeSsl", "authModes",
    },
}  # fmt: skip


def load(name: str) -> Any:
    """``name``'s module, or fail in CI / skip locally: a dev dependency."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"Python module {name} ({exc})")


@functools.cache
def _parsed() -> tuple[tuple[str, dict[str, Any]], ...]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return tuple(found)


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """Every object of deploy/k8s (a fresh copy each call: tests may change them)."""
    return copy.deepcopy(list(_parsed()))


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def keda_errors(doc: dict[str, Any]) -> list[str]:
    """What KEDA's CRD (as cloudcoil's models) refuses or does not know in ``doc``."""
    models = load("cloudcoil.models.keda.v1alpha1")
    pydantic = load("pydantic")
    try:
        model = getattr(models, doc["kind"]).model_validate(doc)
    except pydantic.ValidationError as exc:
        return [str(exc)]
    kept = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [] if kept == doc else [f"fields KEDA does not know: {_diff(doc, kept)}"]


def _diff(given: Any, kept: Any, where: str = "") -> list[str]:
    if isinstance(given, dict) and isinstance(kept, dict):
        return [
            p
            for key, value in given.items()
            for p in (
                [f"{where}.{key}"] if key not in kept else _diff(value, kept[key], f"{where}.{key}")
            )
        ]
    if isinstance(given, list) and isinstance(kept, list):
        return [
            p
            for i, (a, b) in enumerate(zip(given, kept, strict=False))
            for p in _diff(a, b, f"{where}[{i}]")
        ]
    return [] if given == kept else [where]


def test_every_manifest_is_valid_against_the_kubernetes_and_keda_schemas() -> None:
    validate = load("kubernetes_validate")
    problems = []
    docs = manifests()
    for name, doc in docs:
        where = f"{name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("kind") in KEDA_KINDS:
            problems += [f"{where}: {e}" for e in keda_errors(doc)]
            continue
        try:
            validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except validate.ValidationError as exc:
            problems.append(f"{where}: {exc.message} at {list(exc.path)}")
    assert not problems, "\n".join(problems)
    assert {doc["metadata"].get("namespace", "hauler") for _, doc in docs} == {"hauler"}
    assert len(docs) > 25


def test_the_validators_refuse_an_unknown_field_and_a_wrong_type() -> None:
    validate = load("kubernetes_validate")
    beat = dict(by_kind("Deployment")["hauler-beat"])
    beat["spec"] = {**beat["spec"], "replica": 1}
    with pytest.raises(validate.ValidationError, match="'replica' was unexpected"):
        validate.validate(beat, KUBERNETES_VERSION, strict=True)
    scaled = by_kind("ScaledObject")["hauler-worker-media"]
    assert keda_errors({**scaled, "spec": {**scaled["spec"], "minReplicas": 0}}) == [
        "fields KEDA does not know: ['.spec.minReplicas']"
    ]
    assert keda_errors({**scaled, "spec": {**scaled["spec"], "maxReplicaCount": "many"}})


def test_each_queue_has_a_worker_deployment_and_a_scaled_object_on_its_signals() -> None:
    deployments, scaled = by_kind("Deployment"), by_kind("ScaledObject")
    registry = Metrics().registry
    recorder_names = exported_names(generate_latest(registry).decode())
    check_labels = LabelCheck(registry_labels(registry))
    for queue, (_, _, hard_limit) in QUEUE_DEFAULTS.items():
        name = f"hauler-worker-{queue}"
        pod = deployments[name]["spec"]["template"]["spec"]
        # the worker consumes its queue and has the time to finish a task on scale-down
        assert pod["containers"][0]["command"][:3] == ["hauler", "worker", queue]
        assert pod["terminationGracePeriodSeconds"] > hard_limit
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        triggers = {t["type"]: t for t in spec["triggers"]}
        assert set(triggers) == {"redis", "prometheus"}, name
        for kind, trigger in triggers.items():
            unknown = set(trigger["metadata"]) - SCALER_PARAMETERS[kind]
            assert not unknown, f"{name} {kind}: {unknown}"
        assert triggers["redis"]["metadata"]["listName"] == queue
        assert triggers["redis"]["authenticationRef"]["name"] in by_kind("TriggerAuthentication")
        query = triggers["prometheus"]["metadata"]["query"]
        assert f'queue_name="{queue}"' in query
        assert metric_names(query) <= recorder_names, query
        assert check_labels(query) == [], query
    assert set(scaled) == {f"hauler-worker-{q}" for q in QUEUE_DEFAULTS}


def test_beat_runs_once_and_every_reference_resolves() -> None:
    beat = by_kind("Deployment")["hauler-beat"]["spec"]
    assert (beat["replicas"], beat["strategy"]["type"]) == (1, "Recreate")
    configs, secrets = by_kind("ConfigMap"), by_kind("Secret")
    claims = by_kind("PersistentVolumeClaim")
    for _, doc in manifests():
        pod = (doc.get("spec", {}).get("template") or {}).get("spec")
        if not pod:
            continue
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configs
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
        for volume in pod.get("volumes", []):
            assert volume["persistentVolumeClaim"]["claimName"] in claims
    for auth in by_kind("TriggerAuthentication").values():
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in secrets[ref["name"]]["stringData"], ref
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    shipped = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == shipped
