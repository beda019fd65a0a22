"""X-Forwarded-* headers are honoured only when PIPESERVE_PROXY_HOPS trusts a proxy."""

from __future__ import annotations

from apiflask import APIFlask
from flask import request

from pipeserve.api import create_app
from pipeserve.settings import Settings

FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "pipeserve.apps.example.com",
    "X-Forwarded-Port": "443",
    "X-Forwarded-For": "203.0.113.7",
}


def _echo_app(settings: Settings) -> APIFlask:
    app = create_app(settings)

    @app.get("/_echo")
    @app.doc(hide=True)
    def echo() -> dict[str, str | None]:
        return {"url": request.url, "client": request.remote_addr}

    return app


def test_one_trusted_hop_makes_urls_https_with_the_public_host(settings: Settings) -> None:
    app = _echo_app(settings.model_copy(update={"proxy_hops": 1}))

    body = app.test_client().get("/_echo", headers=FORWARDED).get_json()

    assert body == {"url": "https://pipeserve.apps.example.com/_echo", "client": "203.0.113.7"}


def test_without_trusted_hops_forwarded_headers_are_ignored(settings: Settings) -> None:
    app = _echo_app(settings)

    body = app.test_client().get("/_echo", headers=FORWARDED).get_json()

    assert settings.proxy_hops == 0
    assert body["url"] == "http://localhost/_echo"
    assert body["client"] == "127.0.0.1"
