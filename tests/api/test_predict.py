"""POST /api/v1/models/<name>/predict: answers, and a clear 4xx problem for every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.settings import Settings
from tests.conftest import FEATURES, build_bundle

URL = "/api/v1/models/iris/predict"
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3}


def test_predicts_labels_and_probabilities_for_each_instance(client: FlaskClient) -> None:
    response = client.post(URL, json={"instances": [SETOSA, VIRGINICA]})

    assert response.status_code == 200
    body = response.get_json()
    assert body["model"] == {"name": "iris", "version": "7"}
    assert [p["label"] for p in body["predictions"]] == ["setosa", "virginica"]
    for prediction in body["predictions"]:
        probabilities = prediction["probabilities"]
        assert set(probabilities) == {"setosa", "versicolor", "virginica"}
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert max(probabilities, key=probabilities.__getitem__) == prediction["label"]
    assert response.headers["X-Model-Version"] == "7"


def test_probabilities_can_be_switched_off(client: FlaskClient) -> None:
    response = client.post(URL, json={"instances": [SETOSA], "probabilities": False})

    assert response.get_json()["predictions"] == [{"label": "setosa"}]


def test_integers_are_accepted_for_numeric_features(client: FlaskClient) -> None:
    response = client.post(URL, json={"instances": [{**VIRGINICA, "sepal_length": 8}]})

    assert response.status_code == 200


def test_the_request_id_is_echoed_or_generated(client: FlaskClient) -> None:
    echoed = client.post(URL, json={"instances": [SETOSA]}, headers={"X-Request-ID": "abc-123"})
    generated = client.post(URL, json={"instances": [SETOSA]})

    assert echoed.headers["X-Request-ID"] == "abc-123"
    assert len(generated.headers["X-Request-ID"]) == 32


def _problem(response, status: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("instance", "field", "message"),
    [
        (
            {**SETOSA, "sepal_length": "5.1"},
            "instances[0].sepal_length",
            "must be a number, got a string",
        ),
        (
            {**SETOSA, "sepal_length": None},
            "instances[0].sepal_length",
            "must be a number, got null",
        ),
        (
            {**SETOSA, "sepal_length": True},
            "instances[0].sepal_length",
            "must be a number, got a boolean",
        ),
        (
            {**SETOSA, "sepal_length": [1]},
            "instances[0].sepal_length",
            "must be a number, got an array",
        ),
        (
            {k: v for k, v in SETOSA.items() if k != "petal_width"},
            "instances[0].petal_width",
            "is required",
        ),
        ({**SETOSA, "colour": "blue"}, "instances[0].colour", "is not a feature of this model"),
        ("not an object", "instances[0]", "object"),
    ],
)
def test_an_invalid_instance_names_the_field(
    client: FlaskClient, instance: object, field: str, message: str
) -> None:
    body = _problem(client.post(URL, json={"instances": [instance]}), 422)

    assert body["code"] == "invalid_input"
    assert {"field": field, "message": body["errors"][0]["message"]} in body["errors"]
    assert message in body["errors"][0]["message"]
    assert body["detail"].startswith(field)


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("NaN", "NaN and Infinity are not JSON numbers"),
        ("Infinity", "NaN and Infinity are not JSON numbers"),
        ("-Infinity", "NaN and Infinity are not JSON numbers"),
        ("1e999", "a number overflows a double"),
    ],
)
def test_non_finite_numbers_are_not_json(client: FlaskClient, literal: str, message: str) -> None:
    features = ", ".join(
        f'"{name}": {literal if name == "sepal_width" else 1.0}' for name in FEATURES
    )
    response = client.post(
        URL, data=f'{{"instances": [{{{features}}}]}}', content_type="application/json"
    )

    body = _problem(response, 400)
    assert body["code"] == "malformed_request"
    assert message in body["detail"]
    assert "line 1 column" in body["detail"]


def test_every_invalid_field_is_listed_with_its_row(client: FlaskClient) -> None:
    body = _problem(
        client.post(URL, json={"instances": [SETOSA, {**SETOSA, "petal_length": "x"}, {}]}), 422
    )

    fields = [error["field"] for error in body["errors"]]
    assert fields[0] == "instances[1].petal_length"
    assert "instances[2].sepal_length" in fields
    assert body["detail"].endswith("(and 4 more problems)")


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ({"instances": []}, "instances", "at least 1 item"),
        ({}, "instances", "is required"),
        ({"instances": SETOSA}, "instances", "must be an array, got an object"),
        ({"instances": [SETOSA], "probabilities": "yes"}, "probabilities", "boolean"),
        ({"instances": [SETOSA], "explain": True}, "explain", "is not a field of this request"),
        ([SETOSA], "(body)", "object"),
    ],
)
def test_a_wrong_request_shape_names_the_field(
    client: FlaskClient, document: object, field: str, message: str
) -> None:
    body = _problem(client.post(URL, json=document), 422)

    assert body["errors"][0]["field"] == field
    assert message in body["errors"][0]["message"]


def test_too_many_instances_says_the_limit(client: FlaskClient) -> None:
    body = _problem(client.post(URL, json={"instances": [SETOSA] * 11}), 422)

    assert body["errors"] == [
        {
            "field": "instances",
            "message": "has too many rows: at most 10 per request (PIPESERVE_MAX_INSTANCES); "
            "split the batch",
        }
    ]


def test_a_body_over_the_size_limit_is_413(client: FlaskClient) -> None:
    body = _problem(client.post(URL, json={"instances": [SETOSA], "pad": "x" * 5000}), 413)

    assert body["code"] == "payload_too_large"
    assert "4096 bytes" in body["detail"]


@pytest.mark.parametrize(
    "data",
    [b'{"instances": [', b"\xff\xfe\x00", b"", b"instances=1"],
    ids=["truncated", "not-utf8", "empty", "form"],
)
def test_a_body_that_is_not_json_is_400(client: FlaskClient, data: bytes) -> None:
    body = _problem(client.post(URL, data=data, content_type="application/json"), 400)

    assert body["code"] == "malformed_request"
    assert "not valid JSON" in body["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_declared_as_json_is_415(client: FlaskClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = _problem(client.post(URL, data=b'{"instances": []}', headers=headers), 415)

    assert "Content-Type: application/json" in body["detail"]


def test_an_unknown_model_is_404_naming_the_available_ones(client: FlaskClient) -> None:
    body = _problem(client.post("/api/v1/models/wine/predict", json={"instances": [SETOSA]}), 404)

    assert body["detail"] == "model 'wine' is not served here (available: iris)"


def test_get_on_predict_is_405_with_allow_header(client: FlaskClient) -> None:
    response = client.get(URL)

    _problem(response, 405)
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("estimator", ["decision_tree", "svm", "mlp"])
def test_every_estimator_of_params_yaml_trains_and_serves(
    estimator: str, tmp_path: Path, iris_split: tuple[Path, Path]
) -> None:
    bundle_dir = build_bundle(tmp_path, iris_split, estimator=estimator)
    client = create_app(Settings(model_dir=bundle_dir.parent, log_level="WARNING")).test_client()

    response = client.post(URL, json={"instances": [SETOSA, VIRGINICA]})

    assert response.status_code == 200
    assert [p["label"] for p in response.get_json()["predictions"]] == ["setosa", "virginica"]
    final_step = {
        "decision_tree": "DecisionTreeClassifier",
        "svm": "CalibratedClassifierCV",
        "mlp": "MLPClassifier",
    }
    assert client.get("/api/v1/models/iris").get_json()["estimator"] == final_step[estimator]


@pytest.mark.parametrize("huge", [1.7976931348623157e308, 1e200, -1e160])
def test_finite_numbers_too_large_to_compute_with_are_422_not_500(
    model_dir: Path, huge: float
) -> None:
    """Found by schemathesis: on the scikit-learn path the product feature and the scaler
    overflowed to infinity, and the estimator's own finiteness check then failed the request
    with a 500. (The compiled path computes such inputs to finite numbers; it must not 500.)"""
    instance = {**SETOSA, "petal_length": huge, "petal_width": huge}
    sklearn, compiled = (
        create_app(Settings(model_dir=model_dir, log_level="WARNING", inference_path=path))
        for path in ("sklearn", "auto")
    )

    body = _problem(sklearn.test_client().post(URL, json={"instances": [SETOSA, instance]}), 422)
    answer = compiled.test_client().post(URL, json={"instances": [SETOSA, instance]})

    assert body["code"] == "invalid_input"
    assert "too large" in body["detail"]
    assert "petal_length" in body["detail"]  # the training ranges are named
    assert answer.status_code < 500


def test_batching_gives_the_same_answers(settings: Settings) -> None:
    plain = create_app(settings).test_client()
    batched = create_app(settings.model_copy(update={"batching": True})).test_client()
    body = {"instances": [SETOSA, {**SETOSA, "petal_length": 5.0, "petal_width": 1.8}]}

    assert batched.post(URL, json=body).get_json() == plain.post(URL, json=body).get_json()
