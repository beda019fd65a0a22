"""The real server: `pipeserve serve` (granian, several workers) on a free loopback port."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import APPLICANT
from tests.integration.conftest import running_server

pytestmark = pytest.mark.integration

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture
def server(model_dir: Path, tmp_path: Path) -> Iterator[str]:
    with running_server(tmp_path / "server.log", model_dir=str(model_dir)) as running:
        yield running.base


def test_serves_the_credit_model_from_an_address(credit_model_dir: Path, tmp_path: Path) -> None:
    with running_server(tmp_path / "server.log", model_dir=str(credit_model_dir)) as server:
        good = requests.post(
            f"{server.base}/api/v1/models/credit/predict",
            json={"instances": [APPLICANT]},
            timeout=10,
        )
        bad = requests.post(
            f"{server.base}/api/v1/models/credit/predict",
            json={"instances": [{**APPLICANT, "address": ""}]},
            timeout=10,
        )
        ready = requests.get(f"{server.base}/readyz", timeout=5).json()

    assert good.status_code == 200, good.text
    assert 0 < good.json()["predictions"][0]["probabilities"]["default"] < 1
    assert bad.status_code == 422
    assert bad.headers["Content-Type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "instances[0].address"
    assert {m["name"] for m in ready["models"]} == {"iris", "credit"}


def test_serves_predictions_health_and_docs(server: str) -> None:
    predict = requests.post(
        f"{server}/api/v1/models/iris/predict", json={"instances": [SETOSA]}, timeout=5
    )
    docs = requests.get(f"{server}/docs", timeout=5)
    spec = requests.get(f"{server}/openapi.json", timeout=5)

    assert predict.status_code == 200
    assert predict.json()["predictions"][0]["label"] == "setosa"
    assert predict.headers["X-Model-Version"] == "7"
    assert requests.get(f"{server}/healthz", timeout=5).json() == {"status": "ok"}
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert spec.json()["openapi"].startswith("3.1")


def test_bad_input_is_a_problem_not_a_crash(server: str) -> None:
    response = requests.post(
        f"{server}/api/v1/models/iris/predict",
        data=b'{"instances": [{"sepal_length": NaN',
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"


def test_every_worker_answers_many_requests(server: str) -> None:
    with requests.Session() as session:
        statuses = [
            session.post(
                f"{server}/api/v1/models/iris/predict", json={"instances": [SETOSA]}, timeout=5
            ).status_code
            for _ in range(50)
        ]

    assert statuses == [200] * 50


def test_a_missing_model_directory_fails_fast_with_a_message(
    tmp_path: Path, venv_env: dict[str, str]
) -> None:
    env = {**venv_env, "PIPESERVE_MODEL_DIR": str(tmp_path / "nowhere")}

    result = subprocess.run(
        ["pipeserve", "serve"], env=env, capture_output=True, text=True, timeout=30, check=False
    )

    assert result.returncode == 1
    assert "model directory" in result.stderr
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_flask_finds_the_app_factory_for_development(
    model_dir: Path, venv_env: dict[str, str]
) -> None:
    env = {**venv_env, "PIPESERVE_MODEL_DIR": str(model_dir), "PIPESERVE_LOG_LEVEL": "ERROR"}

    result = subprocess.run(
        ["flask", "--app", "pipeserve.api", "routes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "/api/v1/models/<name>/predict" in result.stdout
