"""Every rendered object validates against its API schema: Kubernetes kinds with
kubernetes-validate (strict: unknown fields fail) for the oldest and newest Kubernetes we support,
OpenShift kinds against OpenShift's strict JSON schemas and the Route CRD's openAPIV3Schema (which
has the enums the strict schemas lack). An object with no schema is a failure, not a warning."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

from tests.deploy.conftest import Manifest, find

# Oldest: the Kubernetes of OpenShift 4.17, whose schemas ../shared holds. Newest: the newest
# that kubernetes-validate ships (raise it with the pin in requirements/constraints.txt).
OLDEST_KUBERNETES = "1.30.0"
NEWEST_KUBERNETES = kubernetes_validate.latest_version()
SUPPORTED = [OLDEST_KUBERNETES, NEWEST_KUBERNETES]

OPENSHIFT_SCHEMA_FILES = {
    ("route.openshift.io/v1", "Route"): "route-route-v1.json",
    ("image.openshift.io/v1", "ImageStream"): "imagestream-image-v1.json",
    ("build.openshift.io/v1", "BuildConfig"): "buildconfig-build-v1.json",
}
DROPPED_CRD_KEYWORDS = {"allOf", "anyOf", "not"}


def is_openshift(manifest: Manifest) -> bool:
    return ".openshift.io/" in manifest["apiVersion"]


def validate_kubernetes(manifest: Manifest, version: str) -> None:
    """Raise kubernetes-validate's ValidationError, or SchemaNotFoundError for an unknown kind."""
    kubernetes_validate.validate(manifest, version, strict=True)


def crd_schema_as_json_schema(node: Any) -> Any:
    """An openAPIV3Schema as plain JSON schema (see ../shared/data/README.md): int-or-string and
    nullable become types, other x-kubernetes-* keys and cross-field allOf/anyOf/not go."""
    if isinstance(node, list):
        return [crd_schema_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED_CRD_KEYWORDS or key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "properties":
            converted[key] = {name: crd_schema_as_json_schema(s) for name, s in value.items()}
        else:
            converted[key] = crd_schema_as_json_schema(value)
    if node.get("x-kubernetes-int-or-string"):
        converted["type"] = ["integer", "string"]
    if node.get("nullable") and "type" in converted:
        types = converted["type"] if isinstance(converted["type"], list) else [converted["type"]]
        converted["type"] = [*types, "null"]
    return converted


@cache
def route_crd_schema(directory: Path) -> dict[str, Any]:
    crd = yaml.safe_load((directory / "routes.crd.yaml").read_text(encoding="utf-8"))
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = crd_schema_as_json_schema(v1["schema"]["openAPIV3Schema"])
    return schema


def validate_openshift(manifest: Manifest, directory: Path) -> None:
    """Raise jsonschema.ValidationError (KeyError for a kind we hold no schema of)."""
    key = (manifest["apiVersion"], manifest["kind"])
    strict = json.loads((directory / OPENSHIFT_SCHEMA_FILES[key]).read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(strict).validate(manifest)
    if manifest["kind"] == "Route":
        jsonschema.Draft4Validator(route_crd_schema(directory)).validate(manifest)


@pytest.mark.parametrize("version", SUPPORTED)
def test_every_kubernetes_object_validates_strictly(
    manifests: list[Manifest], version: str
) -> None:
    checked = [m for m in manifests if not is_openshift(m)]
    for manifest in checked:
        validate_kubernetes(manifest, version)

    kinds = {m["kind"] for m in checked}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap"} <= kinds


def test_every_openshift_object_validates(
    openshift_manifests: list[Manifest], openshift_schemas: Path
) -> None:
    checked = [m for m in openshift_manifests if is_openshift(m)]
    for manifest in checked:
        validate_openshift(manifest, openshift_schemas)

    assert sorted(m["kind"] for m in checked) == ["BuildConfig", "ImageStream", "Route"]


def test_the_kubernetes_base_has_every_object_the_deployment_needs(
    kubernetes_manifests: list[Manifest],
) -> None:
    kinds = sorted(m["kind"] for m in kubernetes_manifests)

    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
        ]
    )


# The validators themselves: each must reject what it exists to catch.


def test_an_unknown_field_fails_kubernetes_validation(kubernetes_manifests: list[Manifest]) -> None:
    deployment = copy.deepcopy(find(kubernetes_manifests, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}

    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        validate_kubernetes(deployment, NEWEST_KUBERNETES)


def test_a_kind_without_a_schema_is_a_failure_not_a_warning() -> None:
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "pipeserve"},
    }

    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate_kubernetes(monitor, NEWEST_KUBERNETES)


def test_a_bad_route_enum_fails_through_the_crd_schema(
    openshift_manifests: list[Manifest], openshift_schemas: Path
) -> None:
    route = copy.deepcopy(find(openshift_manifests, "Route"))
    route["spec"]["tls"]["insecureEdgeTerminationPolicy"] = "redirect"

    with pytest.raises(jsonschema.ValidationError, match="redirect"):
        validate_openshift(route, openshift_schemas)


def test_an_unknown_route_field_fails_through_the_strict_schema(
    openshift_manifests: list[Manifest], openshift_schemas: Path
) -> None:
    route = copy.deepcopy(find(openshift_manifests, "Route"))
    route["spec"]["tls"]["insecureEdgePolicy"] = "Redirect"

    with pytest.raises(jsonschema.ValidationError, match="insecureEdgePolicy"):
        validate_openshift(route, openshift_schemas)
