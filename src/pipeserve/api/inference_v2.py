"""The Open Inference Protocol (KServe V2) under ``/v2``: thin adapter over the data plane (see
:mod:`pipeserve.protocols.v2`). Errors are ``{"error": "..."}`` as the protocol specifies."""

from __future__ import annotations

from http import HTTPStatus

from apiflask import APIBlueprint
from flask import Response, request

from pipeserve import __version__
from pipeserve.api.context import (
    body_response,
    codec,
    dataplane,
    json_body,
    json_response,
    version_header,
)
from pipeserve.api.problems import standard_error
from pipeserve.errors import InvalidInputError, MalformedRequestError
from pipeserve.protocols.policy import place_model_error
from pipeserve.protocols.v2 import (
    InferenceResponse,
    ModelMetadataResponse,
    Readiness,
    ServerLive,
    ServerMetadataResponse,
    V2Codec,
    model_metadata,
    server_metadata,
)

inference_v2 = APIBlueprint(
    "inference_v2", __name__, tag="Open Inference Protocol (V2)", url_prefix="/v2"
)

BINARY_HEADER = "Inference-Header-Content-Length"
_MODEL_ERRORS = {404: "No model of that name or version."}
_INFER_ERRORS = {
    400: "Malformed JSON, or tensors that do not fit the model (name, shape, datatype, data).",
    404: "No model of that name or version.",
    413: "The body is larger than PIPESERVE_MAX_BODY_BYTES.",
    415: "The body is neither JSON nor the binary tensor extension, or it is compressed.",
    503: "The model is configured but not loaded.",
}
# The protocol answers "false" to a health question with a 4xx status.
_NOT_READY = HTTPStatus.BAD_REQUEST


@inference_v2.get("")
@inference_v2.output(ServerMetadataResponse)
@inference_v2.doc(summary="Server metadata")
def server() -> Response:
    return json_response(server_metadata(__version__))


@inference_v2.get("/health/live")
@inference_v2.output(ServerLive)
@inference_v2.doc(summary="Server liveness")
def live() -> Response:
    return json_response({"live": dataplane().live()})


@inference_v2.get("/health/ready")
@inference_v2.output(Readiness)
@inference_v2.doc(
    summary="Server readiness",
    description="200 when ready (PIPESERVE_READY_POLICY), else 400 as the protocol specifies.",
    responses={400: "Not ready."},
)
def ready() -> Response:
    if dataplane().ready():
        return json_response({"ready": True})
    return standard_error(_NOT_READY, "the server is not ready: see /readyz for each model")


def _metadata(name: str, version: str | None) -> Response:
    plane = dataplane()
    return json_response(model_metadata(plane.served_model(name), plane.model(name, version)))


def _model_ready(name: str, version: str | None) -> Response:
    entry = dataplane().model(name, version)
    if entry.ready:
        return json_response({"name": name, "ready": True})
    return standard_error(_NOT_READY, f"model {entry.label} is not ready: {entry.error}")


def _infer(name: str, version: str | None) -> Response:
    plane = dataplane()
    entry = plane.inference_model(name, version)
    v2 = codec(V2Codec, entry)
    header_length = request.headers.get(BINARY_HEADER)
    if header_length is not None and not header_length.isdigit():
        raise MalformedRequestError(f"{BINARY_HEADER} must be a byte count, got {header_length!r}")
    body = json_body(untyped_ok=True, binary_ok=header_length is not None)
    decoded = v2.decode(body, int(header_length) if header_length is not None else None)
    try:
        prediction = plane.predict_columns(
            entry, decoded.columns, probabilities=v2.wants_probabilities(decoded)
        )
    except InvalidInputError as error:
        place_model_error(error, "inputs")
        raise
    return body_response(v2.encode(prediction, decoded), version_header(entry))


@inference_v2.get("/models/<name>")
@inference_v2.output(ModelMetadataResponse)
@inference_v2.doc(
    summary="Model metadata (default version)",
    description="Inputs are listed one tensor per feature; one 2-D tensor [N, n_features] in "
    "the same order is accepted too. `parameters.classes` gives the column order of "
    "`predict_proba`.",
    responses=_MODEL_ERRORS,
)
def model(name: str) -> Response:
    return _metadata(name, None)


@inference_v2.get("/models/<name>/versions/<version>")
@inference_v2.output(ModelMetadataResponse)
@inference_v2.doc(summary="Model metadata (one version)", responses=_MODEL_ERRORS)
def model_version(name: str, version: str) -> Response:
    return _metadata(name, version)


@inference_v2.get("/models/<name>/ready")
@inference_v2.output(Readiness)
@inference_v2.doc(
    summary="Model readiness (default version)",
    responses={400: "Not ready.", 404: "No model of that name."},
)
def model_ready(name: str) -> Response:
    return _model_ready(name, None)


@inference_v2.get("/models/<name>/versions/<version>/ready")
@inference_v2.output(Readiness)
@inference_v2.doc(
    summary="Model readiness (one version)",
    responses={400: "Not ready.", 404: "No model of that name or version."},
)
def model_version_ready(name: str, version: str) -> Response:
    return _model_ready(name, version)


@inference_v2.post("/models/<name>/infer")
@inference_v2.output(InferenceResponse)
@inference_v2.doc(summary="Inference (default version)", responses=_INFER_ERRORS)
def infer(name: str) -> Response:
    return _infer(name, None)


@inference_v2.post("/models/<name>/versions/<version>/infer")
@inference_v2.output(InferenceResponse)
@inference_v2.doc(summary="Inference (one version)", responses=_INFER_ERRORS)
def infer_version(name: str, version: str) -> Response:
    return _infer(name, version)
