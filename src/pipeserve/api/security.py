"""Response headers that browsers and proxies act on, and CORS only when configured.

The API answers JSON to programs, so its responses forbid everything a browser could do with
them (no framing, no sniffing, no caching of customer data). The Swagger UI page needs its own
scripts and styles, and gets a policy that allows exactly those from this server.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.datastructures import Headers

from pipeserve.api.pages import is_page_path
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
_API_HEADERS = (*_COMMON, ("Content-Security-Policy", _API_POLICY))
_DOCS_HEADERS = (*_COMMON, ("Content-Security-Policy", _DOCS_POLICY))
_PAGES_HEADERS = (*_COMMON, ("Content-Security-Policy", _PAGES_POLICY))
_CORS_METHODS = "GET, POST, OPTIONS"
_CORS_HEADERS = "Authorization, Content-Type, X-Request-ID, Inference-Header-Content-Length"
_CORS_EXPOSED = "X-Request-ID, X-Model-Version, X-Model-Digest"


def install_security_headers(app: Flask, settings: Settings) -> None:
    """Add the security headers (and CORS headers for configured origins) to every response."""
    origins = frozenset(settings.cors_origins)
    api_headers = (*_API_HEADERS, ("Cache-Control", "no-store"))
    docs_headers = (*_DOCS_HEADERS, ("Cache-Control", "no-store"))
    pages_headers = (*_PAGES_HEADERS, ("Cache-Control", "no-store"))

    def secure(response: Response) -> Response:
        headers = response.headers
        path = request.path
        if path.startswith("/docs") and (len(path) == 5 or path[5] == "/"):
            chosen = _DOCS_HEADERS if path.startswith("/docs/assets") else docs_headers
        elif is_page_path(path):
            chosen = pages_headers
        else:
            chosen = api_headers
        # add(), not setdefault(): no view sets these, and add() does not scan the headers.
        for name, value in chosen:
            headers.add(name, value)
        if request.is_secure:  # behind a TLS-terminating router (X-Forwarded-Proto: https)
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if origins:
            _cors(headers, origins)
        return response

    app.after_request(secure)


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
