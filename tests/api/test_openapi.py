"""The OpenAPI document is valid 3.1, shows the real features and example, and Swagger UI is
served without internet access."""

from __future__ import annotations

import re
from typing import Any

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from pipeserve.api import create_app
from pipeserve.settings import Settings
from tests.conftest import FEATURES


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def test_is_a_valid_openapi_31_document(spec: dict[str, Any]) -> None:
    validate(spec)

    assert spec["openapi"].startswith("3.1")


def test_documents_every_route(spec: dict[str, Any], app: APIFlask) -> None:
    documented = set(spec["paths"])
    served = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <model_name:name> -> {name}
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith(("/docs", "/openapi", "/static"))
    }

    assert served == documented


def test_predict_request_schema_has_the_bundle_features_and_example(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/api/v1/models/{name}/predict"]["post"]["requestBody"]
    media = body["content"]["application/json"]
    instance = spec["components"]["schemas"]["IrisInstance"]

    assert media["schema"] == {"$ref": "#/components/schemas/IrisPredictRequest"}
    assert list(instance["properties"]) == FEATURES
    assert instance["additionalProperties"] is False
    assert "Seen in training" in instance["properties"]["petal_width"]["description"]
    example = media["examples"]["iris"]["value"]["instances"][0]
    assert set(example) == set(FEATURES)


def test_error_responses_are_documented_as_problems(spec: dict[str, Any]) -> None:
    responses = spec["paths"]["/api/v1/models/{name}/predict"]["post"]["responses"]

    assert {"400", "404", "413", "415", "422", "503"} <= set(responses)
    assert responses["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
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
