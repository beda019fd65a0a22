"""The Spark-on-Kubernetes example runs a `pipeserve predict --engine spark` that exists, on
paths every pod mounts, non-root on a read-only root; its pod parts are valid Kubernetes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

from pipeserve.cli import main

APPLICATION = Path(__file__).parents[2] / "deploy" / "examples" / "spark-application.yaml"


def application() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(APPLICATION.read_text(encoding="utf-8"))
    return loaded


def test_the_application_calls_predict_on_spark_with_real_options() -> None:
    spec = application()["spec"]
    arguments = spec["arguments"]
    options = {opt for param in main.commands["predict"].params for opt in param.opts}

    assert application()["kind"] == "SparkApplication"
    assert spec["mainApplicationFile"].endswith("/pipeserve/__main__.py")
    assert arguments[0] == "predict"
    assert {a for a in arguments if a.startswith("--")} <= options
    assert arguments[arguments.index("--engine") + 1] == "spark"
    assert arguments[arguments.index("--master") + 1].startswith("k8s://")
    assert arguments[arguments.index("--output") + 1].endswith(".parquet")


@pytest.mark.parametrize("role", ["driver", "executor"])
def test_every_pod_is_non_root_read_only_and_mounts_the_data(role: str) -> None:
    spec = application()["spec"]
    pod = spec[role]
    mounts = {m["mountPath"] for m in pod["volumeMounts"]}
    data_paths = [a for a in spec["arguments"] if a.startswith("/data/")]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert all(any(p.startswith(m + "/") for m in mounts) for p in data_paths)
    scratch = spec["sparkConf"]["spark.local.dir"]  # Spark writes there on a read-only root
    assert any(scratch.startswith(m + "/") for m in mounts)
    # The operator copies these into the pods: check them as the pod the cluster will see.
    pod_manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pipeserve-{role}", "labels": pod["labels"]},
        "spec": {
            "volumes": spec["volumes"],
            "containers": [
                {
                    "name": role,
                    "image": spec["image"],
                    "securityContext": pod["securityContext"],
                    "volumeMounts": pod["volumeMounts"],
                }
            ],
        },
    }
    kubernetes_validate.validate(pod_manifest, kubernetes_validate.latest_version(), strict=True)
