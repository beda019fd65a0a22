"""The friendly JSON API: model metadata and predictions under ``/api/v1``.

A thin adapter: read the body, let the codec decode it against the model's schema, call the
data plane, encode. Every failure is a typed error mapped in ``problems``.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from pipeserve.api.context import (
    MODEL_VERSION_HEADER,
    dataplane,
    json_response,
    settings,
    version_header,
)
from pipeserve.api.prediction import PredictionRoute
from pipeserve.api.problems import PREDICTION_ERRORS, raises
from pipeserve.errors import ModelNotFoundError
from pipeserve.protocols.friendly import (
    FriendlyCodec,
    ModelList,
    ModelMetadata,
    PredictResponse,
    describe,
    summarize,
)

PREDICTION = PredictionRoute(FriendlyCodec, FriendlyCodec.decode)

models = APIBlueprint("models", __name__, tag="Models", url_prefix="/api/v1")


@models.get("/models")
@models.output(ModelList)
@models.doc(summary="List the served models", description="Every configured model, ready or not.")
def list_models() -> Response:
    return json_response({"models": [summarize(model) for model in dataplane().models()]})


_MODEL_DOC = (
    "Metadata from the model's bundle: version, classes, inputs with the ranges seen in "
    "training, an example instance, test metrics, lineage (DVC hashes of the data, params), the "
    "bundle digest, and every version of the model."
)
_PREDICT_DOC = (
    "Score raw instances with the model's whole pipeline (feature engineering included). Each "
    "served model (and version) has its own path here, with its own request schema; the "
    "response's "
    f"`{MODEL_VERSION_HEADER}` header names the model version that answered."
)


# One view per operation: the default version, or the one the path names.
@models.get("/models/<name>", defaults={"version": None})
@models.get("/models/<name>/versions/<version>")
@models.output(ModelMetadata)
@models.doc(
    summary="Describe a model (its default version, or the one named)", description=_MODEL_DOC
)
@raises(ModelNotFoundError)
def get_model(name: str, version: str | None) -> Response:
    plane = dataplane()
    entry = plane.version(name, version)
    headers = version_header(entry) if entry.ready else None
    document = describe(plane.model(name), entry, settings().source_revision)
    return json_response(document, headers=headers)


@models.post("/models/<name>/predict", defaults={"version": None})
@models.post("/models/<name>/versions/<version>/predict")
@models.output(PredictResponse)
@models.doc(summary="Predict", description=_PREDICT_DOC)
@raises(*PREDICTION_ERRORS)
@PREDICTION.route
def predict(name: str, version: str | None) -> Response:
    return PREDICTION.respond(name, version)
