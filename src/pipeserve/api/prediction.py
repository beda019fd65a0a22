"""The one prediction exchange behind every protocol's predict route.

A route says which codec reads its body; the rest is the same for the friendly API, KServe V1
and V2: the model version that will answer (404, 503), the decoded columns, the data plane's
prediction, errors of the inference core placed at the protocol's own field, the encoded answer
with the version's lineage headers. Flask's views and the prediction lane
(:mod:`pipeserve.api.lane`) both answer through :meth:`PredictionRoute.answer`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from flask import Response

from pipeserve.api.context import (
    body_response,
    codec,
    dataplane,
    json_body,
    settings,
    version_header,
)
from pipeserve.errors import InvalidInputError
from pipeserve.inference.dataplane import DataPlane
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
View = TypeVar("View", bound=Callable[..., Any])
_ROUTE_ATTRIBUTE = "__pipeserve_prediction_route__"


@dataclass(frozen=True)
class PredictionRoute(Generic[C, R]):
    """How one protocol's predict route reads a JSON body and answers it."""

    codec_type: Callable[[ModelVersion, int], C]
    decode: Callable[[C, bytes], R]
    """Decode a JSON body with the model version's codec."""
    untyped_ok: bool = False
    """Whether a body without a content type is JSON (Triton's HTTP client sends none)."""
    lane_excluded_header: str | None = None
    """A request header (WSGI environ key) whose presence means a body that only the Flask
    view reads (V2's binary tensor extension)."""

    def answer(
        self,
        plane: DataPlane,
        max_instances: int,
        name: str,
        version: str | None,
        read: Callable[[C], R],
    ) -> tuple[bytes, dict[str, str]]:
        """The encoded answer for model ``name`` (its default version, or ``version``) and
        its lineage headers; ``read`` reads and decodes the body with the version's codec."""
        entry = plane.ready_version(name, version)
        chosen = codec(self.codec_type, entry, max_instances)
        request = read(chosen)
        try:
            prediction = plane.predict_columns(
                entry, request.columns, probabilities=request.probabilities
            )
        except InvalidInputError as error:
            place_model_error(error, chosen.rows_field, partial(chosen.locate, request))
            raise
        return chosen.encode(prediction, request), version_header(entry)

    def respond(
        self, name: str, version: str | None, read: Callable[[C], R] | None = None
    ) -> Response:
        """:meth:`answer` as the response of a Flask view; ``read`` replaces decoding the
        request's JSON body."""
        if read is None:
            read = partial(_decode_json_body, self)
        body, headers = self.answer(dataplane(), settings().max_instances, name, version, read)
        return body_response(body, headers)

    def route(self, view: View) -> View:
        """Mark ``view`` as answering this route (the lane finds its endpoint by the mark).
        Put it below the route and APIFlask's decorators."""
        setattr(view, _ROUTE_ATTRIBUTE, self)
        return view


def _decode_json_body(route: PredictionRoute[C, R], chosen: C) -> R:
    return route.decode(chosen, json_body(untyped_ok=route.untyped_ok))


def prediction_route_of(view: Callable[..., Any]) -> PredictionRoute[Any, Any] | None:
    """What :meth:`PredictionRoute.route` marked ``view`` with (through APIFlask's wrappers)."""
    current: Any = view
    while current is not None:
        marked: PredictionRoute[Any, Any] | None = getattr(current, _ROUTE_ATTRIBUTE, None)
        if marked is not None:
            return marked
        current = getattr(current, "__wrapped__", None)
    return None
