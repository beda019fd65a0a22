"""The API's surfaces: one row per blueprint, the only place that says where a group of routes
lives, how its errors look, who may call it and which security headers its answers carry.

``problems`` (error format), ``auth`` (tokens), ``security`` (headers) and ``openapi`` (the
document) all read this table; none of them names a path or a blueprint. :func:`install_surfaces`
resolves every route of the app to its surface once, at start-up, and refuses to build an app
with a route that belongs to no surface, so a new blueprint cannot be served without saying what
it is. A request then costs one dict lookup by endpoint; only a request that matched no route
(a 404 or 405) is placed by its path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from flask import Flask

from pipeserve.errors import ConfigurationError


class ErrorStyle(Enum):
    """How a surface answers errors."""

    PROBLEM = "problem"
    """RFC 9457 ``application/problem+json`` (pipeserve's own routes)."""
    STANDARD = "standard"
    """``{"error": "..."}`` with 400 for input that does not fit the model, as KServe V1 and the
    Open Inference Protocol specify."""


class Access(Enum):
    """Which bearer tokens a surface's routes need."""

    OPEN = "open"
    """Never a token: probes, scrapers and the documentation carry none and reveal no data."""
    API = "api"
    """An API (or admin) token when tokens are configured."""
    ADMIN = "admin"
    """Always an admin token."""


class HeaderPolicy(Enum):
    """Which Content-Security-Policy (and caching) a surface's answers carry."""

    API = "api"
    """JSON for programs: a browser may do nothing with it; never cached."""
    DOCS = "docs"
    """Swagger UI's page: its own scripts and styles; never cached."""
    DOCS_ASSETS = "docs_assets"
    """Swagger UI's files: the page's policy, cacheable (they change only with the package)."""
    PAGES = "pages"
    """The model card pages: their own stylesheet and pictures, no script; never cached."""


@dataclass(frozen=True)
class Surface:
    """One blueprint's routes."""

    blueprint: str
    """The blueprint's name (``""`` for routes of the app itself)."""
    paths: tuple[str, ...]
    """Path prefixes, by whole segments (``/v2`` is ``/v2`` and ``/v2/...``; ``/`` only
    ``/``): where a request that matched no route is placed."""
    errors: ErrorStyle
    access: Access
    headers: HeaderPolicy
    open_endpoints: frozenset[str] = frozenset()
    """Endpoints (without the blueprint) open whatever :attr:`access` says: the V2 health
    routes, which are probes like ``/healthz``."""
    documented: bool = True
    """Whether its routes appear in the OpenAPI document."""

    def access_of(self, endpoint: str) -> Access:
        """The access class of one of this surface's endpoints (``blueprint.view``)."""
        if endpoint.rpartition(".")[2] in self.open_endpoints:
            return Access.OPEN
        return self.access

    def holds_path(self, path: str) -> bool:
        return any(_under(path, prefix) for prefix in self.paths)


def _under(path: str, prefix: str) -> bool:
    if prefix == "/":
        return path == "/"
    return path == prefix or path.startswith(prefix + "/")


_JSON, _PROBLEM, _STANDARD = HeaderPolicy.API, ErrorStyle.PROBLEM, ErrorStyle.STANDARD

SURFACES: tuple[Surface, ...] = (
    Surface("health", ("/healthz", "/readyz"), _PROBLEM, Access.OPEN, _JSON),
    Surface("metrics", ("/metrics",), _PROBLEM, Access.OPEN, _JSON),
    Surface("models", ("/api",), _PROBLEM, Access.API, _JSON),
    Surface("kserve_v1", ("/v1",), _STANDARD, Access.API, _JSON),
    Surface(
        "inference_v2",
        ("/v2",),
        _STANDARD,
        Access.API,
        _JSON,
        open_endpoints=frozenset({"server", "live", "ready"}),
    ),
    # The model card pages show what the metadata routes show, so they are protected alike.
    Surface("pages", ("/", "/models", "/static/pages"), _PROBLEM, Access.API, HeaderPolicy.PAGES),
    Surface("admin", ("/admin",), _PROBLEM, Access.ADMIN, _JSON),
    # APIFlask's own: /openapi.json and the Swagger UI page.
    Surface(
        "openapi",
        ("/openapi.json", "/docs"),
        _PROBLEM,
        Access.OPEN,
        HeaderPolicy.DOCS,
        documented=False,
    ),
    # Flask's static route of the app (pipeserve/api/static, the pages' files); the pages'
    # blueprint serves the same files under /static/pages, which is the route that matches them.
    Surface("", ("/static",), _PROBLEM, Access.OPEN, HeaderPolicy.PAGES, documented=False),
    Surface(
        "docs_assets",
        ("/docs/assets",),
        _PROBLEM,
        Access.OPEN,
        HeaderPolicy.DOCS_ASSETS,
        documented=False,
    ),
)
# What a request that matched no route and falls under no surface's paths is answered as.
FALLBACK = Surface("", (), _PROBLEM, Access.OPEN, _JSON, documented=False)


class SurfaceIndex:
    """Each route's surface, resolved once; per request a dict lookup by endpoint."""

    def __init__(self, surfaces: Iterable[Surface] = SURFACES) -> None:
        self.surfaces = tuple(surfaces)
        # Longest prefix first: /docs/assets is Swagger UI's files before /docs is its page.
        self._by_path = sorted(
            ((prefix, surface) for surface in self.surfaces for prefix in surface.paths),
            key=lambda item: -len(item[0]),
        )
        self.by_endpoint: dict[str, Surface] = {}
        self.access: dict[str, Access] = {}

    def resolve(self, app: Flask) -> None:
        """Place every route of ``app``. Raises :class:`ConfigurationError` naming a route
        whose blueprint has no row in the table."""
        by_blueprint = {surface.blueprint: surface for surface in self.surfaces}
        unplaced: list[str] = []
        for rule in app.url_map.iter_rules():
            blueprint = rule.endpoint.rpartition(".")[0]
            surface = by_blueprint.get(blueprint)
            if surface is None:
                unplaced.append(f"{rule.rule} ({rule.endpoint})")
                continue
            self.by_endpoint[rule.endpoint] = surface
            self.access[rule.endpoint] = surface.access_of(rule.endpoint)
        if unplaced:
            raise ConfigurationError(
                "routes that belong to no API surface (add their blueprint to "
                f"pipeserve.api.surfaces.SURFACES): {', '.join(sorted(unplaced))}",
                routes=unplaced,
            )

    def of(self, endpoint: str | None, path: str) -> Surface:
        """The surface of a request: by its endpoint, or by its path when it matched none."""
        if endpoint is not None:
            surface = self.by_endpoint.get(endpoint)
            if surface is not None:
                return surface
        return self.of_path(path)

    def of_path(self, path: str) -> Surface:
        for prefix, surface in self._by_path:
            if _under(path, prefix):
                return surface
        return FALLBACK


_EXTENSION_KEY = "pipeserve_surfaces"


def surface_index(app: Flask) -> SurfaceIndex:
    """``app``'s index (empty until :func:`install_surfaces`): hooks installed before the
    blueprints keep it and read it per request."""
    index: SurfaceIndex | None = app.extensions.get(_EXTENSION_KEY)
    if index is None:
        index = app.extensions[_EXTENSION_KEY] = SurfaceIndex()
    return index


def install_surfaces(app: Flask) -> SurfaceIndex:
    """Resolve every route of ``app`` (call it once every blueprint is registered).

    Raises :class:`ConfigurationError` for a route that belongs to no surface.
    """
    index = surface_index(app)
    index.resolve(app)
    return index
