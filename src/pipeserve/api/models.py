"""The friendly JSON API: model metadata and predictions under ``/api/v1``.

A thin adapter: read the body, let the codec decode it against the model's schema, call the
data plane, encode. Every failure is a typed error mapped in ``problems``.
"""

from __future__ import annotations

from functools import lru_cache

from apiflask import APIBlueprint
from flask import Response

from pipeserve.api.context import dataplane, json_body, json_response, settings
from pipeserve.inference.registry import ModelEntry
from pipeserve.protocols.friendly import (
    FriendlyCodec,
    ModelList,
    ModelMetadata,
    PredictResponse,
    describe,
    summarize,
)

models = APIBlueprint("models", __name__, tag="Models", url_prefix="/api/v1")

MODEL_VERSION_HEADER = "X-Model-Version"
PREDICT_ENDPOINT = "models.predict"


@lru_cache(maxsize=64)
def _codec(entry: ModelEntry, max_instances: int) -> FriendlyCodec:
    # Building the request model costs milliseconds; do it once per loaded model version.
    return FriendlyCodec(entry, max_instances)


@models.get("/models")
@models.output(ModelList)
@models.doc(summary="List the served models", description="Every configured model, ready or not.")
def list_models() -> Response:
    return json_response({"models": [summarize(entry) for entry in dataplane().models()]})


@models.get("/models/<name>")
@models.output(ModelMetadata)
@models.doc(
    summary="Describe a model",
    description="Metadata from the model's bundle: version, classes, inputs with the ranges seen "
    "in training, an example instance, test metrics and lineage (git revision, DVC hashes).",
    responses={404: "No model of that name."},
)
def get_model(name: str) -> Response:
    entry = dataplane().model(name)
    headers = {MODEL_VERSION_HEADER: entry.manifest.version} if entry.manifest else None
    return json_response(describe(entry), headers=headers)


@models.post("/models/<name>/predict")
@models.output(PredictResponse)
@models.doc(
    summary="Predict",
    description="Score raw instances with the model's whole pipeline (feature engineering "
    "included). The request schema of each model is listed below; the response's "
    f"`{MODEL_VERSION_HEADER}` header names the model version that answered.",
    responses={
        400: "The body is not valid JSON.",
        404: "No model of that name.",
        413: "The body is larger than PIPESERVE_MAX_BODY_BYTES.",
        415: "The body is not declared as application/json.",
        422: "The body does not match the model's input schema; `errors` names each field.",
        503: "The model is configured but not loaded.",
    },
)
def predict(name: str) -> Response:
    plane = dataplane()
    entry = plane.inference_model(name)
    codec = _codec(entry, settings().max_instances)
    request = codec.decode(json_body())
    prediction = plane.predict(entry, request.rows, probabilities=request.probabilities)
    return json_response(
        codec.encode(prediction), headers={MODEL_VERSION_HEADER: codec.manifest.version}
    )
