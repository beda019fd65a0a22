"""Every route belongs to one API surface, and the surface decides its error format, its tokens
and its security headers."""

from __future__ import annotations

import pytest
from apiflask import APIBlueprint, APIFlask
from flask.testing import FlaskClient
from pydantic import SecretStr

from pipeserve.api import create_app
from pipeserve.api.surfaces import (
    SURFACES,
    Access,
    ErrorStyle,
    HeaderPolicy,
    install_surfaces,
    surface_index,
)
from pipeserve.errors import ConfigurationError
from pipeserve.settings import Settings


@pytest.fixture
def full_app(settings: Settings) -> APIFlask:
    """Every optional surface switched on: admin routes (with their token) and the docs."""
    return create_app(
        settings.model_copy(
            update={"admin_enabled": True, "admin_tokens": SecretStr("admin-secret")}
        )
    )


def test_every_route_of_the_app_belongs_to_a_surface(full_app: APIFlask) -> None:
    index = surface_index(full_app)
    rules = {rule.endpoint for rule in full_app.url_map.iter_rules()}

    assert rules == set(index.by_endpoint)
    assert {surface.blueprint for surface in index.by_endpoint.values()} >= {
        "health",
        "metrics",
        "models",
        "kserve_v1",
        "inference_v2",
        "pages",
        "admin",
        "openapi",
        "docs_assets",
    }


def test_a_route_of_no_surface_stops_the_start(app: APIFlask) -> None:
    stray = APIBlueprint("stray", __name__)
    stray.get("/stray")(lambda: "")
    app.register_blueprint(stray)

    with pytest.raises(ConfigurationError, match=r"/stray \(stray\.<lambda>\)"):
        install_surfaces(app)


def test_each_blueprint_has_one_row() -> None:
    names = [surface.blueprint for surface in SURFACES]

    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("path", "style"),
    [
        ("/api/v1/models/nope/predict", ErrorStyle.PROBLEM),
        ("/api/nothing", ErrorStyle.PROBLEM),
        ("/v1/models/nope:predict", ErrorStyle.STANDARD),
        ("/v1", ErrorStyle.STANDARD),
        ("/v2/models/nope/infer", ErrorStyle.STANDARD),
        ("/v2/nothing", ErrorStyle.STANDARD),
        ("/v2nothing", ErrorStyle.PROBLEM),
        ("/nothing", ErrorStyle.PROBLEM),
    ],
)
def test_a_404_has_the_format_of_its_surface(
    client: FlaskClient, path: str, style: ErrorStyle
) -> None:
    response = client.post(path, json={})

    assert response.status_code in {404, 405}
    if style is ErrorStyle.STANDARD:
        assert response.mimetype == "application/json"
        assert set(response.get_json()) == {"error"}
    else:
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["status"] == response.status_code


def test_the_v2_health_routes_are_open_and_the_rest_of_v2_is_not(app: APIFlask) -> None:
    access = surface_index(app).access

    assert access["inference_v2.live"] is Access.OPEN
    assert access["inference_v2.ready"] is Access.OPEN
    assert access["inference_v2.infer"] is Access.API
    assert access["health.readyz"] is Access.OPEN


@pytest.mark.parametrize(
    ("path", "policy"),
    [
        ("/", HeaderPolicy.PAGES),
        ("/models/iris", HeaderPolicy.PAGES),
        ("/docs", HeaderPolicy.DOCS),
        ("/docs/assets/swagger-ui.css", HeaderPolicy.DOCS_ASSETS),
        ("/api/v1/models", HeaderPolicy.API),
        ("/no/such/route", HeaderPolicy.API),
    ],
)
def test_security_headers_follow_the_surface(
    client: FlaskClient, path: str, policy: HeaderPolicy
) -> None:
    with client.get(path) as response:
        policy_header = response.headers["Content-Security-Policy"]
        cache = response.headers.get("Cache-Control")
    assert ("script-src 'self'" in policy_header) is (
        policy in {HeaderPolicy.DOCS, HeaderPolicy.DOCS_ASSETS}
    )
    assert ("style-src 'self';" in policy_header) is (policy is HeaderPolicy.PAGES)
    assert (cache == "no-store") is (policy is not HeaderPolicy.DOCS_ASSETS)
