"""Probes: liveness always, readiness only with every model loaded."""

from __future__ import annotations

from pathlib import Path

from apiflask import APIFlask
from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.api.context import start_draining
from pipeserve.settings import Settings


def test_liveness_is_200(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_ready_when_every_model_is_loaded(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_not_ready_without_models(tmp_path: Path) -> None:
    client = create_app(Settings(model_dir=tmp_path, log_level="ERROR")).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "no models are configured" in response.get_json()["detail"]
    assert client.get("/healthz").status_code == 200


def test_not_ready_names_the_model_that_failed(model_dir: Path, settings: Settings) -> None:
    (model_dir / "broken").mkdir()
    client = create_app(settings).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["detail"] == "models not ready: broken"
    assert {m["name"]: m["ready"] for m in body["models"]} == {"broken": False, "iris": True}
    # the healthy model keeps serving
    assert client.get("/api/v1/models/iris").status_code == 200


def test_readiness_turns_503_once_the_server_drains(app: APIFlask) -> None:
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    start_draining(app)
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["code"] == "shutting_down"
    assert client.get("/healthz").status_code == 200  # draining is not dead
