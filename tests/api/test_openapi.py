"""The OpenAPI document is valid 3.1, shows the real features and example, and Swagger UI is
served without internet access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from pipeserve.api import create_app
from pipeserve.api.openapi import PREDICTION_OPERATIONS, openapi_path
from pipeserve.api.problems import PREDICTION_ERRORS, status_for
from pipeserve.settings import Settings
from tests.conftest import FEATURES, copy_bundle


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def test_is_a_valid_openapi_31_document(spec: dict[str, Any]) -> None:
    validate(spec)

    assert spec["openapi"].startswith("3.1")


def test_documents_every_route(spec: dict[str, Any], app: APIFlask) -> None:
    """Every route is in the document: as its own path, or a prediction route as one path per
    served model version (here iris, whose only version is the test bundle's)."""
    (version,) = [entry.version for entry in _versions(app)]
    documented = set(spec["paths"])
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/docs", "/openapi", "/static")):
            continue
        path = openapi_path(rule.rule)
        if rule.endpoint in PREDICTION_OPERATIONS:
            path = path.replace("{name}", "iris").replace("{version}", str(version))
        served.add(path)

    assert served == documented


def _versions(app: APIFlask) -> list[Any]:
    return app.extensions["pipeserve"]["dataplane"].model("iris").versions  # type: ignore[no-any-return]


def test_every_prediction_operation_is_a_route(app: APIFlask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}

    assert set(PREDICTION_OPERATIONS) <= endpoints


def test_predict_request_schema_has_the_bundle_features_and_example(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/api/v1/models/iris/predict"]["post"]["requestBody"]
    media = body["content"]["application/json"]
    instance = spec["components"]["schemas"]["IrisInstance"]

    assert media["schema"] == {"$ref": "#/components/schemas/IrisPredictRequest"}
    assert list(instance["properties"]) == FEATURES
    assert instance["additionalProperties"] is False
    assert "Seen in training" in instance["properties"]["petal_width"]["description"]
    example = media["examples"]["iris"]["value"]["instances"][0]
    assert set(example) == set(FEATURES)


def test_each_model_version_has_its_own_request_schema(multi_client: FlaskClient) -> None:
    spec = multi_client.get("/openapi.json").get_json()
    validate(spec)
    schemas = spec["components"]["schemas"]

    def body(path: str) -> dict[str, Any]:
        ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        return schemas[ref["schema"]["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]

    iris, colours = body("/api/v1/models/iris/predict"), body("/api/v1/models/colours/predict")
    assert iris["properties"]["instances"]["items"] == {"$ref": "#/components/schemas/IrisInstance"}
    assert colours["properties"]["instances"]["items"] == {
        "$ref": "#/components/schemas/ColoursInstance"
    }
    assert "/api/v1/models/{name}/predict" not in spec["paths"]
    # KServe V1: an instance is an object of named features or an array of exactly its values.
    v1_items = body("/v1/models/iris:predict")["properties"]["instances"]["items"]["anyOf"]
    assert v1_items[1]["minItems"] == v1_items[1]["maxItems"] == len(FEATURES)
    # V2: tensors named like the features, no empty shapes.
    assert "/v2/models/colours/versions/1/infer" in spec["paths"]
    v2 = body("/v2/models/iris/infer")
    named = v2["properties"]["inputs"]["oneOf"][0]["prefixItems"]
    first = named[0]["oneOf"][0]["properties"]
    assert first["name"] == {"const": FEATURES[0]}
    assert first["shape"]["anyOf"][0] == {"const": [1]}


def test_a_version_that_is_not_the_default_gets_its_own_components(
    tmp_path: Path, session_bundle: Path, settings: Settings
) -> None:
    for version in ("1", "2"):
        copy_bundle(session_bundle, tmp_path / "iris" / version, version)
    app = create_app(settings.model_copy(update={"model_dir": tmp_path}))
    spec = app.test_client().get("/openapi.json").get_json()
    validate(spec)

    def component(path: str) -> str:
        media = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        return media["schema"]["$ref"].rsplit("/", 1)[1]  # type: ignore[no-any-return]

    assert component("/api/v1/models/iris/predict") == "IrisPredictRequest"
    assert component("/api/v1/models/iris/versions/2/predict") == "IrisPredictRequest"
    assert component("/api/v1/models/iris/versions/1/predict") == "IrisVersion1PredictRequest"
    assert component("/v1/models/iris:predict") == "IrisKServeV1Request"
    assert component("/v2/models/iris/versions/1/infer") == "IrisVersion1InferenceRequest"
    assert "parameters" in spec["components"]["schemas"]["IrisKServeV1Request"]["properties"]


def test_error_statuses_come_from_the_one_error_table(spec: dict[str, Any]) -> None:
    friendly = spec["paths"]["/api/v1/models/iris/predict"]["post"]["responses"]
    v1 = spec["paths"]["/v1/models/iris:predict"]["post"]["responses"]
    statuses = {str(status_for(error_type("x"))) for error_type in PREDICTION_ERRORS}

    assert statuses == {"400", "404", "413", "415", "422", "503"}
    assert {status for status in friendly if status[0] in "45"} == statuses
    # The standard protocols answer 400 for input that does not fit the model.
    assert {status for status in v1 if status[0] in "45"} == statuses - {"422"}
    assert "does not match the model's input schema" in v1["400"]["description"]


def test_error_responses_are_documented_as_problems(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/api/v1/models/iris/predict"]["post"]["responses"]
    standard = spec["paths"]["/v2/models/iris/infer"]["post"]["responses"]

    assert {"400", "404", "413", "415", "422", "503"} <= set(responses)
    assert responses["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert standard["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StandardError"
    }


def test_swagger_ui_and_its_assets_are_served_locally(client: FlaskClient) -> None:
    page = client.get("/docs").get_data(as_text=True)

    assets = ["/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js"]
    for asset in assets:
        assert asset in page
        with client.get(asset) as response:
            assert response.status_code == 200
            assert len(response.get_data()) > 10_000
    assert "https://" not in page.split("<body")[0]


def test_docs_can_be_switched_off(settings: Settings) -> None:
    client = create_app(settings.model_copy(update={"docs_enabled": False})).test_client()

    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404
