"""The manifests `pipeserve init` writes render with kustomize and validate strictly, like the
repository's own (tests/deploy): a new project deploys without editing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeserve.project.init import init_project
from tests.deploy.conftest import OPENSHIFT_SCHEMAS, container, find, render
from tests.deploy.test_schemas import (
    OLDEST_KUBERNETES,
    is_openshift,
    validate_kubernetes,
    validate_openshift,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_project(tmp_path_factory.mktemp("init") / "rents").directory


def test_the_openshift_overlay_validates(project: Path) -> None:
    manifests = render(project / "deploy" / "openshift")

    for manifest in manifests:
        if is_openshift(manifest):
            validate_openshift(manifest, OPENSHIFT_SCHEMAS)
        else:
            validate_kubernetes(manifest, OLDEST_KUBERNETES)
    assert {m["kind"] for m in manifests} >= {"Deployment", "Service", "BuildConfig", "Route"}


def test_the_pod_runs_as_any_non_root_uid_read_only(project: Path) -> None:
    deployment = find(render(project / "deploy" / "kubernetes"), "Deployment", "rents")
    server = container(deployment)

    assert "runAsUser" not in deployment["spec"]["template"]["spec"]["securityContext"]
    assert server["securityContext"]["runAsNonRoot"] is True
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
