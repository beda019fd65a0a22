"""KServe V1 routes: status, predict with objects or arrays, KServe-style errors."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.settings import Settings
from tests.conftest import FEATURES

SETOSA = [5.1, 3.5, 1.4, 0.2]


def test_lists_models_and_reports_readiness(multi_client: FlaskClient) -> None:
    assert multi_client.get("/v1/models").get_json() == {"models": ["colours", "iris"]}
    assert multi_client.get("/v1/models/iris").get_json() == {"name": "iris", "ready": True}


def test_predicts_labels_from_arrays_and_objects_alike(multi_client: FlaskClient) -> None:
    response = multi_client.post(
        "/v1/models/iris:predict",
        json={"instances": [SETOSA, dict(zip(FEATURES, SETOSA, strict=True))]},
    )

    assert response.status_code == 200
    assert response.get_json() == {"predictions": ["setosa", "setosa"]}


def test_probabilities_come_when_asked_and_agree_with_the_friendly_api(
    multi_client: FlaskClient,
) -> None:
    v1 = multi_client.post(
        "/v1/models/colours:predict",
        json={"instances": [["red", 1.0]], "parameters": {"probabilities": True}},
    ).get_json()
    friendly = multi_client.post(
        "/api/v1/models/colours/predict", json={"instances": [{"colour": "red", "size": 1.0}]}
    ).get_json()

    assert v1["predictions"] == [friendly["predictions"][0]["label"]]
    assert v1["probabilities"] == [friendly["predictions"][0]["probabilities"]]


def test_errors_are_kserve_style_with_the_status_that_fits(multi_client: FlaskClient) -> None:
    unknown = multi_client.post("/v1/models/wine:predict", json={"instances": [SETOSA]})
    wrong_width = multi_client.post("/v1/models/iris:predict", json={"instances": [[1, 2]]})
    malformed = multi_client.post(
        "/v1/models/iris:predict", data="{", content_type="application/json"
    )
    not_json = multi_client.post("/v1/models/iris:predict", data="x", content_type="text/plain")
    too_large = multi_client.post("/v1/models/iris:predict", json={"instances": [SETOSA] * 200})

    assert (unknown.status_code, unknown.get_json()) == (
        404,
        {"error": "model 'wine' is not served here (available: colours, iris)"},
    )
    assert wrong_width.status_code == 400
    assert "expected 4 in this order" in wrong_width.get_json()["error"]
    assert malformed.status_code == 400
    assert "not valid JSON" in malformed.get_json()["error"]
    assert not_json.status_code == 415
    assert too_large.status_code == 413
    assert "PIPESERVE_MAX_BODY_BYTES" in too_large.get_json()["error"]


def test_numbers_too_large_to_compute_with_are_a_400(multi_model_dir: Path) -> None:
    settings = Settings(model_dir=multi_model_dir, log_level="WARNING", inference_path="sklearn")
    response = (
        create_app(settings)
        .test_client()
        .post("/v1/models/iris:predict", json={"instances": [[5.1, 3.5, 1e308, -1e308]]})
    )

    assert response.status_code == 400
    assert "too large" in response.get_json()["error"]


def test_the_predict_route_allows_only_post(multi_client: FlaskClient) -> None:
    """Found by schemathesis: ``/v1/models/<name>`` also matched ``iris:predict`` (a model name
    cannot hold a colon), so GET was advertised in ``Allow`` and answered 404 instead of 405."""
    get = multi_client.get("/v1/models/iris:predict")
    options = multi_client.options("/v1/models/iris:predict")

    assert get.status_code == 405
    assert get.get_json() == {
        "error": "This route does not accept that method; see /docs for the API."
    }
    assert set(get.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert set(options.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert multi_client.get("/v1/models/iris").get_json() == {"name": "iris", "ready": True}


def test_routing_errors_under_the_protocol_prefixes_are_protocol_errors(
    multi_client: FlaskClient,
) -> None:
    """A path no route matches under /v1 or /v2 answers in the format documented for them."""
    for path in ("/v1/models/a:b", "/v1/nothing", "/v2/models/iris/nothing"):
        response = multi_client.get(path)

        assert response.status_code == 404, path
        assert response.mimetype == "application/json", path
        assert response.get_json() == {"error": "No such route; see /docs for the API."}
    assert multi_client.get("/api/v1/nothing").mimetype == "application/problem+json"


def test_a_string_longer_than_the_limit_is_refused(multi_model_dir: Path) -> None:
    settings = Settings(model_dir=multi_model_dir, log_level="WARNING", max_string_length=5)
    client = create_app(settings).test_client()

    v1 = client.post("/v1/models/colours:predict", json={"instances": [["purple", 1.0]]})
    v2 = client.post(
        "/v2/models/colours/infer",
        json={
            "inputs": [
                {"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["purple"]},
                {"name": "size", "shape": [1], "datatype": "FP64", "data": [1.0]},
            ]
        },
    )

    assert v1.status_code == 400
    assert "instances[0].colour is too long: at most 5 characters" in v1.get_json()["error"]
    assert v2.status_code == 400
    assert "at most 5 characters" in v2.get_json()["error"]
