"""The one prediction exchange behind every protocol's predict route.

A route says which codec reads its body; the rest is the same for the friendly API, KServe V1
and V2: the model version that will answer (404, 503), the decoded columns, the data plane's
prediction, errors of the inference core placed at the protocol's own field, the encoded answer
with the version's lineage headers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol, TypeVar

from flask import Response

from pipeserve.api.context import body_response, codec, dataplane, version_header
from pipeserve.errors import InvalidInputError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelVersion
from pipeserve.protocols.policy import DecodedRequest, place_model_error

R = TypeVar("R", bound=DecodedRequest)
R_contra = TypeVar("R_contra", bound=DecodedRequest, contravariant=True)


class PredictionCodec(Protocol[R_contra]):
    """What a protocol's codec gives the exchange."""

    rows_field: str
    """Where the rows are, in the protocol's terms (``instances``, ``inputs``)."""

    def encode(self, prediction: Prediction, request: R_contra) -> bytes: ...

    def locate(self, request: R_contra, feature: str, row: int) -> str:
        """Where one value of ``request`` was, in the protocol's terms."""
        ...


C = TypeVar("C", bound=PredictionCodec)  # type: ignore[type-arg]


def predict_response(
    codec_type: Callable[[ModelVersion, int], C],
    name: str,
    version: str | None,
    read: Callable[[C], R],
) -> Response:
    """Answer a prediction request for model ``name`` (its default version, or ``version``);
    ``read`` reads and decodes the body with the version's codec."""
    plane = dataplane()
    entry = plane.ready_version(name, version)
    chosen = codec(codec_type, entry)
    request = read(chosen)
    try:
        prediction = plane.predict_columns(
            entry, request.columns, probabilities=request.probabilities
        )
    except InvalidInputError as error:
        place_model_error(error, chosen.rows_field, partial(chosen.locate, request))
        raise
    return body_response(chosen.encode(prediction, request), version_header(entry))
