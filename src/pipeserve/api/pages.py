"""Pages for people: ``/`` lists the served models, ``/models/<name>`` is a model's card and
``/models/<name>/versions/<version>`` the card of one of its versions.

A card shows what the bundle says about the model (version, digest, what it was built from, the
pipeline's steps, test metrics, the confusion matrix or residual plot, the inputs with their
training ranges), an example request for each protocol, and the live input monitoring of this
process. Everything is rendered on the server from the bundle: the pictures were drawn when the
bundle was built, so a worker on the compiled path needs neither scikit-learn nor a plotting
library. The pages load nothing but their own stylesheet and pictures, and run no script (see
``security``).
"""

from __future__ import annotations

import json
from typing import Any

from apiflask import APIBlueprint
from flask import Response, render_template, request, url_for

from pipeserve.api.context import dataplane, settings, version_header
from pipeserve.bundle.manifest import Manifest
from pipeserve.errors import ModelNotFoundError, ModelNotReadyError
from pipeserve.inference.registry import ModelVersion, ServedModel

pages = APIBlueprint(
    "pages",
    __name__,
    tag="Pages",
    template_folder="templates",
    static_folder="static/pages",
    static_url_path="/static/pages",
)

_SVG = "image/svg+xml"


def _media(media_type: str, description: str) -> dict[int | str, Any]:
    return {
        200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}
    }


@pages.get("/")
@pages.doc(
    summary="The served models (HTML)",
    description="For people: each model's name, version, readiness and links.",
    responses=_media("text/html", "An HTML page."),
)
def index() -> str:
    models = [
        {
            "name": model.name,
            "version": model.default.version,
            "ready": model.ready,
            "error": model.default.error,
            "versions": [entry.version for entry in model.versions if entry.version],
        }
        for model in dataplane().models()
    ]
    return render_template("pages/index.html", models=models, docs=settings().docs_enabled)


@pages.get("/models/<name>")
@pages.doc(
    summary="A model's card (HTML)",
    description="Version and bundle digest, what the model was built from, its pipeline, test "
    "metrics and confusion matrix (or residual plot), its inputs with their training ranges "
    "and live monitoring, and an example request for each protocol: of the version that "
    "answers requests naming none.",
    responses={**_media("text/html", "An HTML page."), 404: "No model of that name."},
)
def card(name: str) -> Response:
    model = dataplane().model(name)
    return _card_page(model, model.default)


@pages.get("/models/<name>/versions/<version>")
@pages.doc(
    summary="A model version's card (HTML)",
    description="The card of one version of a model, the default one or another.",
    responses={**_media("text/html", "An HTML page."), 404: "No such model or version."},
)
def version_card(name: str, version: str) -> Response:
    plane = dataplane()
    model = plane.model(name)
    return _card_page(model, plane.version(name, version))


def _card_page(model: ServedModel, entry: ModelVersion) -> Response:
    body = render_template(
        "pages/card.html",
        model=model,
        entry=entry,
        is_default=entry is model.default,
        card=_card(entry) if entry.manifest is not None else None,
        source_revision=settings().source_revision,
        monitoring=entry.monitor.snapshot() if entry.monitor else None,
        monitoring_window=(
            {"rows": entry.monitor.rows_in_window(), "seen": entry.monitor.seen}
            if entry.monitor and entry.monitor.seen
            else None
        ),
    )
    return Response(body, mimetype="text/html", headers=version_header(entry))


_FIGURE_DOC = (
    "Drawn when the bundle was built and pinned by its sha256 in bundle.json: `confusion` (the "
    "confusion matrix on the test split, classifiers), `residuals` (actual minus predicted on "
    "the test split, regressors) or `pipeline` (its steps)."
)


@pages.get("/models/<name>/figures/<role>.svg")
@pages.doc(
    summary="A picture of a model's card",
    description=_FIGURE_DOC,
    responses={**_media(_SVG, "An SVG picture."), 404: "No such model or picture."},
)
def figure(name: str, role: str) -> Response:
    return _figure(dataplane().version(name), role)


@pages.get("/models/<name>/versions/<version>/figures/<role>.svg")
@pages.doc(
    summary="A picture of a model version's card",
    description=_FIGURE_DOC,
    responses={**_media(_SVG, "An SVG picture."), 404: "No such model, version or picture."},
)
def version_figure(name: str, version: str, role: str) -> Response:
    return _figure(dataplane().version(name, version), role)


def _figure(entry: ModelVersion, role: str) -> Response:
    picture = entry.figures.get(role)
    if picture is None:
        known = ", ".join(entry.figures) or "none"
        raise ModelNotFoundError(
            f"model {entry.label} has no {role!r} picture (known: {known})", model=entry.name
        )
    return Response(picture, mimetype=_SVG, headers=version_header(entry))


def _manifest_of(entry: ModelVersion) -> Manifest:
    """The manifest of a version that has one (the callers show only those)."""
    if entry.manifest is None:
        raise ModelNotReadyError(
            f"model {entry.name!r} has no readable bundle: {entry.error or 'not loaded'}",
            model=entry.name,
        )
    return entry.manifest


def _card(entry: ModelVersion) -> dict[str, Any]:
    manifest = _manifest_of(entry)
    metrics = manifest.metrics or {}
    scalars = {key: value for key, value in metrics.items() if isinstance(value, int | float)}
    statistics = {stats.name: stats for stats in manifest.statistics}
    return {
        "manifest": manifest,
        "metrics": scalars,
        "per_class": metrics.get("per_class") or {},
        "features": [
            {"spec": feature, "statistics": statistics.get(feature.name)}
            for feature in manifest.features
        ],
        "params": json.dumps(manifest.lineage.params, indent=2, sort_keys=True),
        "examples": _examples(entry),
        "figures": {role: _figure_url(entry, role) for role in sorted(entry.figures)},
    }


def _figure_url(entry: ModelVersion, role: str) -> str:
    """A picture of this very version: the default card's own URL would follow a reload."""
    if entry.version:
        return url_for("pages.version_figure", name=entry.name, version=entry.version, role=role)
    return url_for("pages.figure", name=entry.name, role=role)


def _examples(entry: ModelVersion) -> list[dict[str, str]]:
    """A working request for each protocol, from the bundle's example row."""
    manifest = _manifest_of(entry)
    base = request.host_url.rstrip("/")
    row = {feature.name: manifest.example[feature.name] for feature in manifest.features}
    v2_inputs = [
        {
            "name": feature.name,
            "datatype": feature.v2_datatype,
            "shape": [1],
            "data": [row[feature.name]],
        }
        for feature in manifest.features
    ]
    documents = [
        ("pipeserve", f"{base}/api/v1/models/{entry.name}/predict", {"instances": [row]}),
        ("KServe V1", f"{base}/v1/models/{entry.name}:predict", {"instances": [row]}),
        (
            "Open Inference Protocol V2",
            f"{base}/v2/models/{entry.name}/infer",
            {"inputs": v2_inputs},
        ),
    ]
    return [
        {
            "protocol": protocol,
            "command": f"curl -s {url} -H 'Content-Type: application/json' \\\n  -d '"
            + json.dumps(document).replace("'", "'\\''")
            + "'",
        }
        for protocol, url, document in documents
    ]
