"""Bearer tokens guard the model and admin routes; probes, metrics and docs stay open."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from pydantic import SecretStr

from pipeserve.api import create_app
from pipeserve.errors import ConfigurationError
from pipeserve.settings import Settings

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
PREDICT = "/api/v1/models/iris/predict"


def _client(settings: Settings, **changes: object) -> FlaskClient:
    return create_app(settings.model_copy(update=changes)).test_client()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def guarded(settings: Settings) -> FlaskClient:
    return _client(
        settings,
        api_tokens=SecretStr("alpha, beta"),
        admin_tokens=SecretStr("root"),
        admin_enabled=True,
    )


def test_without_tokens_configured_the_routes_are_open(client: FlaskClient) -> None:
    assert client.post(PREDICT, json={"instances": [SETOSA]}).status_code == 200


def test_a_missing_token_is_401_with_a_challenge(guarded: FlaskClient) -> None:
    response = guarded.post(PREDICT, json={"instances": [SETOSA]})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="pipeserve"'
    assert response.mimetype == "application/problem+json"
    assert "Authorization: Bearer <token>" in response.get_json()["detail"]


@pytest.mark.parametrize("header", ["Bearer gamma", "Basic YWxwaGE6", "Bearer ", "alpha"])
def test_a_wrong_token_or_scheme_is_401(guarded: FlaskClient, header: str) -> None:
    response = guarded.post(
        PREDICT, json={"instances": [SETOSA]}, headers={"Authorization": header}
    )

    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"


@pytest.mark.parametrize("token", ["alpha", "beta", "root"])
def test_api_and_admin_tokens_open_the_model_routes(guarded: FlaskClient, token: str) -> None:
    for path, body in [
        (PREDICT, {"instances": [SETOSA]}),
        ("/v1/models/iris:predict", {"instances": [list(SETOSA.values())]}),
    ]:
        assert guarded.post(path, json=body, headers=_bearer(token)).status_code == 200
    assert guarded.get("/v2/models/iris", headers=_bearer(token)).status_code == 200


def test_the_standard_protocols_answer_401_in_their_own_format(guarded: FlaskClient) -> None:
    response = guarded.post("/v2/models/iris/infer", json={"inputs": []})

    assert response.status_code == 401
    assert set(response.get_json()) == {"error"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_api_token_on_an_admin_route_is_403(guarded: FlaskClient) -> None:
    forbidden = guarded.post("/admin/reload", headers=_bearer("alpha"))
    allowed = guarded.post("/admin/reload", headers=_bearer("root"))

    assert forbidden.status_code == 403
    assert forbidden.get_json()["code"] == "forbidden"
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/healthz",
        "/readyz",
        "/metrics",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2",
        "/openapi.json",
    ],
)
def test_probes_metrics_and_docs_stay_open(guarded: FlaskClient, path: str) -> None:
    assert guarded.get(path).status_code == 200


def test_a_rotated_token_file_takes_effect_without_restart(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("first\n", encoding="utf-8")
    client = _client(settings, api_tokens_file=tokens)
    assert (
        client.post(PREDICT, json={"instances": [SETOSA]}, headers=_bearer("first")).status_code
        == 200
    )

    tokens.write_text("second\n", encoding="utf-8")
    os.utime(tokens, (time.time() + 10, time.time() + 10))
    monkeypatch.setattr("pipeserve.api.auth._RECHECK_SECONDS", 0.0)

    assert (
        client.post(PREDICT, json={"instances": [SETOSA]}, headers=_bearer("first")).status_code
        == 401
    )
    assert (
        client.post(PREDICT, json={"instances": [SETOSA]}, headers=_bearer("second")).status_code
        == 200
    )


def test_an_unreadable_token_file_stops_the_start(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        create_app(settings.model_copy(update={"api_tokens_file": tmp_path / "absent"}))


def test_the_openapi_document_says_which_routes_need_a_token(guarded: FlaskClient) -> None:
    spec = guarded.get("/openapi.json").get_json()
    validate(spec)

    predict = spec["paths"]["/api/v1/models/iris/predict"]["post"]
    live = spec["paths"]["/v2/health/live"]["get"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert predict["security"] == [{"bearerAuth": []}]
    assert "401" in predict["responses"]
    assert "security" not in live
