"""The Open Inference Protocol (KServe V2) under ``/v2``: thin adapter over the data plane (see
:mod:`pipeserve.protocols.v2`). Errors are ``{"error": "..."}`` as the protocol specifies."""

from __future__ import annotations

from http import HTTPStatus

from apiflask import APIBlueprint
from flask import Response, request

from pipeserve import __version__
from pipeserve.api.context import (
    dataplane,
    json_body,
    json_response,
)
from pipeserve.api.prediction import PredictionRoute
from pipeserve.api.problems import PREDICTION_ERRORS, raises, standard_error
from pipeserve.errors import MalformedRequestError, ModelNotFoundError, ModelNotReadyError
from pipeserve.protocols.v2 import V2Codec, V2Request, model_metadata, server_metadata
from pipeserve.protocols.v2.wire import (
    InferenceResponse,
    ModelMetadataResponse,
    Readiness,
    ServerLive,
    ServerMetadataResponse,
)

inference_v2 = APIBlueprint(
    "inference_v2", __name__, tag="Open Inference Protocol (V2)", url_prefix="/v2"
)

BINARY_HEADER = "Inference-Header-Content-Length"
PREDICTION = PredictionRoute(
    V2Codec,
    V2Codec.decode,
    untyped_ok=True,
    lane_excluded_header="HTTP_" + BINARY_HEADER.upper().replace("-", "_"),
)
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


@inference_v2.get("/models/<name>", defaults={"version": None})
@inference_v2.get("/models/<name>/versions/<version>")
@inference_v2.output(ModelMetadataResponse)
@inference_v2.doc(
    summary="Model metadata (the default version, or the one named)",
    description="Inputs are listed one tensor per feature; one 2-D tensor [N, n_features] in "
    "the same order is accepted too. `parameters.classes` gives the column order of "
    "`predict_proba`.",
)
@raises(ModelNotFoundError)
def model(name: str, version: str | None) -> Response:
    plane = dataplane()
    return json_response(model_metadata(plane.model(name), plane.version(name, version)))


@inference_v2.get("/models/<name>/ready", defaults={"version": None})
@inference_v2.get("/models/<name>/versions/<version>/ready")
@inference_v2.output(Readiness)
@inference_v2.doc(
    summary="Model readiness (the default version, or the one named)",
    responses={int(_NOT_READY): "Not ready."},
)
@raises(ModelNotFoundError)
def model_ready(name: str, version: str | None) -> Response:
    entry = dataplane().version(name, version)
    if entry.ready:
        return json_response({"name": name, "ready": True})
    return standard_error(_NOT_READY, ModelNotReadyError.of(entry.label, entry.error).message)


@inference_v2.post("/models/<name>/infer", defaults={"version": None})
@inference_v2.post("/models/<name>/versions/<version>/infer")
@inference_v2.output(InferenceResponse)
@inference_v2.doc(
    summary="Inference (the default version, or the one named)",
    description="Each served model (and version) has its own path here, with its own request "
    "schema: one tensor per feature, or one 2-D tensor of all features in their order.",
)
@raises(*PREDICTION_ERRORS)
@PREDICTION.route
def infer(name: str, version: str | None) -> Response:
    return PREDICTION.respond(name, version, _read)


def _read(v2: V2Codec) -> V2Request:
    """JSON, or the binary tensor extension (a JSON header of the length the header gives)."""
    header_length = request.headers.get(BINARY_HEADER)
    if header_length is not None and not header_length.isdigit():
        raise MalformedRequestError(f"{BINARY_HEADER} must be a byte count, got {header_length!r}")
    body = json_body(untyped_ok=True, binary_ok=header_length is not None)
    return v2.decode(body, int(header_length) if header_length is not None else None)
