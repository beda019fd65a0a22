"""The batch-scoring Job example runs a `pipeserve predict` that exists, on mounted paths."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeserve.cli import main

JOB = Path(__file__).parents[2] / "deploy" / "examples" / "batch-job.yaml"


def test_the_job_calls_predict_with_real_options_on_mounted_paths() -> None:
    job = yaml.safe_load(JOB.read_text(encoding="utf-8"))
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    options = {opt for param in main.commands["predict"].params for opt in param.opts}
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]}
    paths = [arg for arg in container["args"] if arg.startswith("/")]
    output = container["args"][container["args"].index("--output") + 1]

    assert job["kind"] == "Job"
    assert container["command"] == ["pipeserve", "predict"]
    assert {arg for arg in container["args"] if arg.startswith("--")} <= options
    assert all(any(p.startswith(m + "/") for m in mounts) for p in paths)
    assert not mounts[str(Path(output).parent)], "the output directory must be writable"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["restartPolicy"] == "Never"
