"""`pipeserve init`, then the new project as its user runs it: real `dvc repro` in a fresh git
repository, the project's own tests, `pipeserve bundle verify`, and the real server answering
the three protocols for the project's regression pipeline (its own transformer inside)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import skops.io

from benchmarks.harness import running, start_pipeserve, venv_environment
from pipeserve.bundle.io import load_bundle
from pipeserve.bundle.manifest import PIPELINE_FILE
from pipeserve.bundle.trusted import Trust, read_trusted_types
from pipeserve.errors import UntrustedTypeError

pytestmark = pytest.mark.integration

MODEL = "flat-rents"
PACKAGE = "flat_rents"
CUSTOM_TYPE = f"{PACKAGE}.features.YearsSince"
ROW = {"district": "centre", "area_m2": 60.0, "rooms": 2.0, "year_built": 1995.0}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project written by `pipeserve init`, committed to git and built with `dvc repro`."""
    root = tmp_path_factory.mktemp("init") / MODEL
    env = project_env(root)
    said = run(["pipeserve", "init", str(root)], root.parent, env)
    assert "source checkout" in said  # it says where pipeserve comes from
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    run(["git", "init", "-q"], root, env)
    run(["dvc", "init", "-q"], root, env)
    run([*git, "add", "."], root, env)
    run([*git, "commit", "-qm", "pipeserve init"], root, env)
    run(["dvc", "repro"], root, env)
    return root


def project_env(root: Path) -> dict[str, str]:
    """This venv's tools, and the project's package importable without installing it (the
    image installs it; a test must not)."""
    env = venv_environment()
    env["PYTHONPATH"] = str(root)
    return env


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    """`pipeserve serve` in the project, trusting what the project declares, as `make serve`."""
    settings = {"workers": "1", "trusted_types_file": "trusted_types.txt"}
    started = start_pipeserve(
        project / "server.log", settings, env=project_env(project), cwd=project
    )
    with running(started, ready_timeout_s=60) as process:
        yield process.base
    assert process.returncode == 0, process.log_text()


def test_the_project_holds_what_init_promises(project: Path) -> None:
    for name in [
        "params.yaml",
        "dvc.yaml",
        "notebooks/prepare_data.py",
        f"{PACKAGE}/pipeline.py",
        f"{PACKAGE}/features.py",
        "Makefile",
        "Dockerfile",
        ".dockerignore",
        "deploy/kubernetes/kustomization.yaml",
        "deploy/openshift/kustomization.yaml",
        "deploy/openshift/buildconfig.yaml",
        "tests/test_pipeline.py",
        "README.md",
    ]:
        assert (project / name).is_file(), name
    makefile = (project / "Makefile").read_text()
    assert "PIPESERVE :=" in makefile
    assert "pipeserve[train]==" in makefile  # how to pin a released version instead
    assert "USER 1001:0" in (project / "Dockerfile").read_text()
    readme = (project / "README.md").read_text()
    assert "make serve" in readme
    assert "make test" in readme


def test_the_bundle_holds_the_custom_transformer_which_the_project_declares(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(project))
    bundle = project / "models" / MODEL
    payload = (bundle / PIPELINE_FILE).read_bytes()

    assert CUSTOM_TYPE in skops.io.get_untrusted_types(data=payload)
    assert CUSTOM_TYPE in read_trusted_types(project / "trusted_types.txt")
    with pytest.raises(UntrustedTypeError, match=CUSTOM_TYPE):
        load_bundle(bundle)  # pipeserve's own list alone does not trust it
    manifest = load_bundle(bundle, trust=Trust.with_types([CUSTOM_TYPE])).manifest
    assert manifest.task == "regression"
    assert {"rmse", "mae", "r2"} <= set(manifest.metrics or {})
    assert (manifest.metrics or {})["r2"] > 0.8


def test_bundle_verify_passes_with_the_projects_trusted_types(project: Path) -> None:
    said = run(
        [
            "pipeserve",
            "bundle",
            "verify",
            "--trusted-types",
            "trusted_types.txt",
            f"models/{MODEL}",
        ],
        project,
        project_env(project),
    )

    assert f"ok: {MODEL} 1 verified" in said


def test_the_projects_own_tests_pass(project: Path) -> None:
    said = run(
        ["python", "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
        project,
        {
            **project_env(project),
            "PYTEST_ADDOPTS": "",
        },
    )

    assert "passed" in said
    assert "failed" not in said


def test_the_three_protocols_agree_on_the_value(server: str) -> None:
    friendly = requests.post(
        f"{server}/api/v1/models/{MODEL}/predict", json={"instances": [ROW]}, timeout=10
    )
    v1 = requests.post(
        f"{server}/v1/models/{MODEL}:predict", json={"instances": [list(ROW.values())]}, timeout=10
    )
    v2 = requests.post(
        f"{server}/v2/models/{MODEL}/infer",
        json={
            "inputs": [
                {
                    "name": name,
                    "shape": [1],
                    "datatype": "BYTES" if isinstance(value, str) else "FP64",
                    "data": [value],
                }
                for name, value in ROW.items()
            ]
        },
        timeout=10,
    )

    assert friendly.status_code == v1.status_code == v2.status_code == 200, friendly.text
    value = friendly.json()["predictions"][0]["value"]
    assert 500 < value < 2500  # a rent, in the generator's units
    assert v1.json()["predictions"] == [value]
    (output,) = v2.json()["outputs"]
    assert output["name"] == "predict"
    assert output["datatype"] == "FP64"
    assert output["data"] == [value]


def test_the_card_shows_the_regressors_residual_plot(server: str) -> None:
    card = requests.get(f"{server}/models/{MODEL}", timeout=10).text
    plot = requests.get(f"{server}/models/{MODEL}/figures/residuals.svg", timeout=10)

    assert 'id="residuals"' in card
    assert plot.status_code == 200
    assert plot.headers["Content-Type"].startswith("image/svg+xml")
    assert "<circle " in plot.text


def test_an_unknown_district_follows_the_encoders_handle_unknown(server: str) -> None:
    answer = requests.post(
        f"{server}/api/v1/models/{MODEL}/predict",
        json={"instances": [{**ROW, "district": "a district never seen"}]},
        timeout=10,
    )

    assert answer.status_code == 200  # OneHotEncoder(handle_unknown="ignore")


def test_bad_input_gets_field_level_errors(server: str) -> None:
    answer = requests.post(
        f"{server}/api/v1/models/{MODEL}/predict",
        json={"instances": [{**ROW, "area_m2": "large", "district": 3}]},
        timeout=10,
    )

    assert answer.status_code == 422
    fields = {error["field"]: error["message"] for error in answer.json()["errors"]}
    assert fields["instances[0].area_m2"] == "must be a number, got a string"
    assert fields["instances[0].district"] == "must be a string, got an integer"


def test_init_refuses_a_directory_that_holds_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = subprocess.run(
        ["pipeserve", "init", str(tmp_path)],
        env=venv_environment(),
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "is not empty" in result.stderr
    assert os.listdir(tmp_path) == ["notes.txt"]
