"""The HTTP API: an app factory, one blueprint per concern, one error table.

Rule: nothing happens at import. ``create_app(settings)`` loads the models and builds the app;
Gunicorn starts ``pipeserve.api:create_app()`` and ``flask --app pipeserve.api run`` finds the
factory by name. Views only parse, call the data plane and encode.
"""

from __future__ import annotations

from importlib import resources

from apiflask import APIFlask
from flask import Blueprint
from werkzeug.middleware.proxy_fix import ProxyFix

from pipeserve import __version__
from pipeserve.api.context import install
from pipeserve.api.health import health
from pipeserve.api.models import models
from pipeserve.api.openapi import spec_processor
from pipeserve.api.problems import register_problem_handlers
from pipeserve.inference.dataplane import DataPlane
from pipeserve.inference.registry import ModelRegistry
from pipeserve.logs import configure_logging
from pipeserve.settings import Settings

DOCS_ASSETS = "/docs/assets"


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> APIFlask:
    """Build the WSGI app serving every model of ``settings.model_dir``.

    ``registry`` replaces loading from disk (tests inject one). Raises
    :class:`~pipeserve.errors.ConfigurationError` when the model directory does not exist.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    registry = (
        registry if registry is not None else ModelRegistry.from_directory(settings.model_dir)
    )
    dataplane = DataPlane(registry)

    app = APIFlask(
        __name__,
        title="pipeserve",
        version=__version__,
        spec_path="/openapi.json" if settings.docs_enabled else None,
        docs_path="/docs" if settings.docs_enabled else None,
        json_errors=False,
    )
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        AUTO_404_RESPONSE=False,
        AUTO_VALIDATION_ERROR_RESPONSE=False,
        INFO={
            "description": "Serves whole scikit-learn pipelines (feature engineering included) "
            "from verified bundles. Errors are RFC 9457 problem documents.",
        },
        SWAGGER_UI_CSS=f"{DOCS_ASSETS}/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        DOCS_FAVICON=f"{DOCS_ASSETS}/favicon-32x32.png",
    )
    if settings.proxy_hops:
        # Behind a router only: trusting X-Forwarded-* from anyone would let clients spoof them.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the features' training order in /openapi.json
    install(app, settings, dataplane)
    register_problem_handlers(app)
    app.register_blueprint(health)
    app.register_blueprint(models)
    if settings.docs_enabled:
        app.register_blueprint(_docs_assets())
        app.spec_processor(spec_processor(dataplane, settings.max_instances))
    return app


def _docs_assets() -> Blueprint:
    """Swagger UI's files, served by us: the docs work without internet access."""
    dist = resources.files("flask_swagger_ui") / "dist"
    return Blueprint("docs_assets", __name__, static_folder=str(dist), static_url_path=DOCS_ASSETS)
