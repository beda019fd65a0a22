"""Response headers that browsers and proxies act on, and CORS only when configured.

The API answers JSON to programs, so its responses forbid everything a browser could do with
them (no framing, no sniffing, no caching of customer data). The Swagger UI page needs its own
scripts and styles, and gets a policy that allows exactly those from this server; the model
card pages get one that allows their stylesheet and pictures and no script. Which policy a route
gets is its surface's (:mod:`pipeserve.api.surfaces`).
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.datastructures import Headers

from pipeserve.api.context import RequestCycle
from pipeserve.api.surfaces import HeaderPolicy, surface_index
from pipeserve.settings import Settings

_API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI's page runs an inline initialiser and loads its bundle from /docs/assets.
_DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)
# The model card pages (pipeserve.api.pages): their own stylesheet and pictures, nothing else;
# no script at all, inline or not.
_PAGES_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_COMMON = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
_NO_STORE = (("Cache-Control", "no-store"),)
# Per policy, every header it adds: one tuple, so a response costs one loop of add().
_HEADERS: dict[HeaderPolicy, tuple[tuple[str, str], ...]] = {
    HeaderPolicy.API: (*_COMMON, ("Content-Security-Policy", _API_POLICY), *_NO_STORE),
    HeaderPolicy.DOCS: (*_COMMON, ("Content-Security-Policy", _DOCS_POLICY), *_NO_STORE),
    HeaderPolicy.DOCS_ASSETS: (*_COMMON, ("Content-Security-Policy", _DOCS_POLICY)),
    HeaderPolicy.PAGES: (*_COMMON, ("Content-Security-Policy", _PAGES_POLICY), *_NO_STORE),
}
_CORS_METHODS = "GET, POST, OPTIONS"
FEATURE = "security headers"
_CORS_HEADERS = "Authorization, Content-Type, X-Request-ID, Inference-Header-Content-Length"
_CORS_EXPOSED = "X-Request-ID, X-Model-Version, X-Model-Digest"


STRICT_TRANSPORT = ("Strict-Transport-Security", "max-age=31536000")


class SecurityHeaders:
    """Which security headers each route's answers carry (its surface's policy)."""

    def __init__(self, app: Flask, settings: Settings) -> None:
        self.origins = frozenset(settings.cors_origins)
        self._index = surface_index(app)  # filled once every blueprint is registered
        self._by_endpoint: dict[str, tuple[tuple[str, str], ...]] = {}

    def of(self, endpoint: str | None, path: str) -> tuple[tuple[str, str], ...]:
        """The headers of an answer from ``endpoint`` (``None``: no route matched ``path``)."""
        if endpoint is not None:
            chosen = self._by_endpoint.get(endpoint)
            if chosen is None:  # first answer of this route: resolved once
                chosen = self._by_endpoint[endpoint] = _HEADERS[
                    self._index.of(endpoint, path).headers
                ]
            return chosen
        return _HEADERS[self._index.of_path(path).headers]  # no route: placed by its path


def install_security_headers(
    app: Flask, cycle: RequestCycle, settings: Settings
) -> SecurityHeaders:
    """Add the security headers (and CORS headers for configured origins) to every response
    (a step of ``cycle``, before the steps added before it, as an after-request hook was).
    Returns the headers by route, for the prediction lane."""
    policy = SecurityHeaders(app, settings)
    origins = policy.origins

    def secure(response: Response) -> None:
        headers = response.headers
        # add(), not setdefault(): no view sets these, and add() does not scan the headers.
        for name, value in policy.of(request.endpoint, request.path):
            headers.add(name, value)
        if request.is_secure:  # behind a TLS-terminating router (X-Forwarded-Proto: https)
            headers.setdefault(*STRICT_TRANSPORT)
        if origins:
            _cors(headers, origins)

    cycle.on_finish(FEATURE, secure)
    return policy


def _cors(headers: Headers, origins: frozenset[str]) -> None:
    origin = request.headers.get("Origin")
    if origin and ("*" in origins or origin in origins):
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = _CORS_EXPOSED
        headers.add("Vary", "Origin")
        if request.method == "OPTIONS":
            headers["Access-Control-Allow-Methods"] = _CORS_METHODS
            headers["Access-Control-Allow-Headers"] = _CORS_HEADERS
            headers["Access-Control-Max-Age"] = "600"
