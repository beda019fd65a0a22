"""The contract between the manifests and the app: run the server exactly as the Deployment does
(its command and args, the ConfigMap's environment) and ask every probe the way the kubelet would
(path, named port, timeout, within the startup budget); then stop it as Kubernetes does (SIGTERM)
and expect a clean exit within the grace period. A renamed route, a changed port, a wrong
command or a setting the app rejects fails here before it fails in a cluster."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from benchmarks.harness import free_port, start, venv_environment
from tests.deploy.conftest import Manifest, config_env, container, find

pytestmark = pytest.mark.integration

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def test_the_app_answers_every_probe_as_the_pod_runs_it(
    kubernetes_manifests: list[Manifest],
    model_dir: Path,
    tmp_path: Path,
) -> None:
    deployment = find(kubernetes_manifests, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    server = container(deployment)
    env = config_env(kubernetes_manifests, deployment)
    named_ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    # Only what a test machine must change: loopback instead of the pod's address, a free port
    # instead of 8080, and the test's bundle instead of the image's /srv/models.
    assert int(env["PIPESERVE_PORT"]) in named_ports.values()
    port = free_port()
    local = {"PIPESERVE_HOST": "127.0.0.1", "PIPESERVE_PORT": str(port)}
    local["PIPESERVE_MODEL_DIR"] = str(model_dir)
    to_local = {int(env["PIPESERVE_PORT"]): port}

    process = start(  # the container's argv, no shell
        [*server["command"], *server["args"]],
        port=port,
        log_path=tmp_path / "server.log",
        env=venv_environment({**env, **local}),
        cwd=tmp_path,
    )
    try:
        startup = server["startupProbe"]
        budget = startup.get("initialDelaySeconds", 0) + (
            startup["periodSeconds"] * startup["failureThreshold"]
        )
        started = _first_success(process.process, port, startup, budget)
        assert started < budget, f"started in {started:.1f} s, budget {budget} s"

        for name in PROBES:
            assert _probe_passes(server[name], to_local, named_ports), name
    finally:
        pre_stop = int(server["lifecycle"]["preStop"]["exec"]["command"][1])
        # The kubelet sends SIGKILL this long after SIGTERM (the preStop time is spent).
        process.stop(grace_s=pod["terminationGracePeriodSeconds"] - pre_stop)
    assert process.returncode == 0, process.log_text()
    assert "Traceback" not in process.log_text()


def _first_success(
    process: subprocess.Popen[bytes], port: int, probe: Manifest, budget: float
) -> float:
    """Seconds until the probe first answers 200; fail if the process dies or the budget ends."""
    start = time.monotonic()
    url = f"http://127.0.0.1:{port}{probe['httpGet']['path']}"
    while (elapsed := time.monotonic() - start) < budget:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            if requests.get(url, timeout=probe["timeoutSeconds"]).status_code == 200:
                return elapsed
        except requests.RequestException:
            pass  # refused or timed out: the kubelet counts a failure and probes again
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within the startup budget of {budget} s")


def _probe_passes(probe: Manifest, to_local: dict[int, int], named_ports: dict[str, int]) -> bool:
    """Whether the probe answers 200 before the kubelet would give up on it (failureThreshold
    attempts, each within timeoutSeconds)."""
    action = probe["httpGet"]
    url = f"http://127.0.0.1:{to_local[named_ports[action['port']]]}{action['path']}"
    for _ in range(probe.get("failureThreshold", 3)):
        try:
            if requests.get(url, timeout=probe["timeoutSeconds"]).status_code == 200:
                return True
        except requests.RequestException:
            pass
    return False
