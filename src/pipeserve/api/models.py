"""The friendly JSON API: model metadata and predictions under ``/api/v1``.

A thin adapter: read the body, let the codec decode it against the model's schema, call the
data plane, encode. Every failure is a typed error mapped in ``problems``.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from pipeserve.api.context import (
    MODEL_VERSION_HEADER,
    body_response,
    codec,
    dataplane,
    json_body,
    json_response,
    settings,
    version_header,
)
from pipeserve.errors import InvalidInputError
from pipeserve.protocols.friendly import (
    FriendlyCodec,
    ModelList,
    ModelMetadata,
    PredictResponse,
    describe,
    summarize,
)
from pipeserve.protocols.policy import place_model_error

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
    "Score raw instances with the model's whole pipeline (feature engineering included). The "
    "request schema of each model is listed below; the response's "
    f"`{MODEL_VERSION_HEADER}` header names the model version that answered."
)
_PREDICT_RESPONSES = {
    400: "The body is not valid JSON.",
    404: "No model of that name (or version).",
    413: "The body is larger than PIPESERVE_MAX_BODY_BYTES.",
    415: "The body is not declared as application/json.",
    422: "The body does not match the model's input schema; `errors` names each field.",
    503: "The model is configured but not loaded.",
}


@models.get("/models/<name>")
@models.output(ModelMetadata)
@models.doc(
    summary="Describe a model (its default version)",
    description=_MODEL_DOC,
    responses={404: "No model of that name."},
)
def get_model(name: str) -> Response:
    return _describe(name, None)


@models.get("/models/<name>/versions/<version>")
@models.output(ModelMetadata)
@models.doc(
    summary="Describe one version of a model",
    description=_MODEL_DOC,
    responses={404: "No model of that name or version."},
)
def get_model_version(name: str, version: str) -> Response:
    return _describe(name, version)


def _describe(name: str, version: str | None) -> Response:
    plane = dataplane()
    entry = plane.model(name, version)
    headers = version_header(entry) if entry.ready else None
    document = describe(plane.served_model(name), entry, settings().source_revision)
    return json_response(document, headers=headers)


@models.post("/models/<name>/predict")
@models.output(PredictResponse)
@models.doc(summary="Predict", description=_PREDICT_DOC, responses=_PREDICT_RESPONSES)
def predict(name: str) -> Response:
    return _predict(name, None)


@models.post("/models/<name>/versions/<version>/predict")
@models.output(PredictResponse)
@models.doc(
    summary="Predict with one version of a model",
    description=_PREDICT_DOC,
    responses=_PREDICT_RESPONSES,
)
def predict_version(name: str, version: str) -> Response:
    return _predict(name, version)


def _predict(name: str, version: str | None) -> Response:
    plane = dataplane()
    entry = plane.inference_model(name, version)
    friendly = codec(FriendlyCodec, entry)
    request = friendly.decode(json_body())
    try:
        prediction = plane.predict_columns(
            entry, request.columns, probabilities=request.probabilities
        )
    except InvalidInputError as error:
        place_model_error(error, "instances")
        raise
    return body_response(friendly.encode(prediction), version_header(entry))
