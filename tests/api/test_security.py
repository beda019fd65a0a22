"""Security headers on every response; CORS only for configured origins; no debug mode."""

from __future__ import annotations

from apiflask import APIFlask
from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.settings import Settings


def test_api_responses_forbid_framing_sniffing_and_caching(client: FlaskClient) -> None:
    headers = client.get("/api/v1/models").headers

    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in headers
    assert "Access-Control-Allow-Origin" not in headers


def test_the_docs_page_may_run_its_own_scripts_only(client: FlaskClient) -> None:
    policy = client.get("/docs").headers["Content-Security-Policy"]

    assert "script-src 'self' 'unsafe-inline'" in policy
    assert "default-src 'self'" in policy


def test_hsts_is_sent_behind_tls(client: FlaskClient) -> None:
    headers = client.get("/healthz", base_url="https://pipeserve.example").headers

    assert headers["Strict-Transport-Security"] == "max-age=31536000"


def test_cors_answers_configured_origins_only(settings: Settings) -> None:
    client = create_app(
        settings.model_copy(update={"cors_origins": ["https://app.example"]})
    ).test_client()

    allowed = client.options(
        "/api/v1/models/iris/predict",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    other = client.get("/api/v1/models", headers={"Origin": "https://evil.example"})

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in other.headers


def test_the_app_never_runs_in_debug_mode(app: APIFlask) -> None:
    assert app.debug is False
    assert app.config["PROPAGATE_EXCEPTIONS"] in (None, False)
