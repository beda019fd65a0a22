"""The app factory: settings, models, blueprints, error handlers and request hooks, wired once."""

from __future__ import annotations

from importlib import resources

from apiflask import APIFlask
from flask import Blueprint
from werkzeug.middleware.proxy_fix import ProxyFix

from pipeserve import __version__
from pipeserve.api.access_log import install_access_log
from pipeserve.api.admin import admin
from pipeserve.api.auth import install_auth
from pipeserve.api.context import ActiveRequests, install
from pipeserve.api.health import health
from pipeserve.api.inference_v2 import inference_v2
from pipeserve.api.kserve_v1 import kserve_v1
from pipeserve.api.lane import install_lane
from pipeserve.api.metrics import Metrics, install_metrics, metrics_blueprint
from pipeserve.api.models import models
from pipeserve.api.openapi import spec_processor
from pipeserve.api.pages import pages
from pipeserve.api.problems import register_problem_handlers
from pipeserve.api.security import install_security_headers
from pipeserve.api.surfaces import install_surfaces
from pipeserve.bundle.trusted import configured_trust
from pipeserve.features.geocoders.runtime import GeocoderSettings
from pipeserve.inference.batching import BatchingOptions
from pipeserve.inference.dataplane import DataPlane
from pipeserve.inference.registry import LoadOptions, ModelRegistry
from pipeserve.inference.reloader import RepositoryWatcher
from pipeserve.logs import configure_logging
from pipeserve.settings import Settings

DOCS_ASSETS = "/docs/assets"


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> APIFlask:
    """Build the WSGI app serving the models of ``settings`` (see :func:`load_registry`).

    ``registry`` replaces loading from disk (tests inject one). Raises
    :class:`~pipeserve.errors.ConfigurationError` when the model directory does not exist.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    registry = registry if registry is not None else load_registry(settings)
    metrics = Metrics()
    active = ActiveRequests()  # requests in progress in this worker (batching waits on it)
    batching = (
        BatchingOptions(settings.batch_max_rows, settings.batch_max_wait_ms)
        if settings.batching
        else None
    )
    dataplane = DataPlane(
        registry,
        on_prediction=metrics.record_prediction,
        batching=batching,
        concurrency=active,
        out_of_range=settings.out_of_range,
        on_inputs=metrics.record_inputs,
    )

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
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the features' training order in /openapi.json
    cycle = install(app, settings, dataplane, active)
    access_log = install_access_log(cycle, settings)
    counts = install_metrics(app, cycle, metrics, registry)
    guard = install_auth(app, cycle, settings)
    security = install_security_headers(app, cycle, settings)
    register_problem_handlers(app)
    app.register_blueprint(health)
    app.register_blueprint(metrics_blueprint)
    app.register_blueprint(models)
    app.register_blueprint(kserve_v1)
    app.register_blueprint(inference_v2)
    app.register_blueprint(pages)
    if settings.admin_enabled:
        app.register_blueprint(admin)
    if settings.reload_interval > 0:
        app.extensions["pipeserve_watcher"] = RepositoryWatcher(
            registry, settings.reload_interval
        ).start()
    if settings.docs_enabled:
        app.register_blueprint(_docs_assets())
        app.spec_processor(spec_processor(app, dataplane, settings, guard.api.configured))
    install_surfaces(app)  # every route placed once; refuses a route of no surface
    install_lane(
        app,
        cycle,
        dataplane=dataplane,
        settings=settings,
        active=active,
        counts=counts,
        access_log=access_log,
        security=security,
        guard=guard,
    )
    if settings.proxy_hops:
        # Behind a router only: trusting X-Forwarded-* from anyone would let clients spoof them.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )
    return app


def load_registry(settings: Settings) -> ModelRegistry:
    """The models of ``settings``: the bundles listed in ``model_paths`` if any, else the model
    repository ``model_dir``. Raises :class:`~pipeserve.errors.ConfigurationError` when the
    repository does not exist or a model version is configured twice."""
    trust = configured_trust(settings.trusted_types, settings.trusted_types_file)
    options = LoadOptions(
        settings.max_string_length,
        settings.inference_path,
        trust,
        settings.monitor_window,
        GeocoderSettings.from_settings(settings),
    )
    if settings.model_paths:
        return ModelRegistry.from_paths(settings.model_paths, settings.ready_policy, options)
    return ModelRegistry.from_directory(settings.model_dir, settings.ready_policy, options)


def _docs_assets() -> Blueprint:
    """Swagger UI's files, served by us: the docs work without internet access."""
    dist = resources.files("flask_swagger_ui") / "dist"
    return Blueprint("docs_assets", __name__, static_folder=str(dist), static_url_path=DOCS_ASSETS)
