"""KServe's V1 protocol under ``/v1``: thin adapter over the data plane (see
:mod:`pipeserve.protocols.v1`). Errors are ``{"error": "..."}`` as KServe answers them."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from pipeserve.api.context import (
    dataplane,
    json_response,
)
from pipeserve.api.prediction import PredictionRoute
from pipeserve.api.problems import PREDICTION_ERRORS, raises
from pipeserve.errors import ModelNotFoundError
from pipeserve.protocols.v1 import (
    V1Codec,
    V1ModelList,
    V1ModelStatus,
    V1PredictResponse,
)

PREDICTION = PredictionRoute(V1Codec, V1Codec.decode)

kserve_v1 = APIBlueprint("kserve_v1", __name__, tag="KServe V1", url_prefix="/v1")


class ModelNameConverter(BaseConverter):
    """A model name in a URL: no slash and no colon (bundle names cannot hold one). Without it
    ``/v1/models/<name>`` would also match ``iris:predict``, and GET on the predict route would
    be a 404 for a model named "iris:predict" instead of a 405."""

    regex = "[^/:]+"


def _add_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("model_name", ModelNameConverter)


# Before the routes: a rule's converters are resolved when the blueprint registers it.
kserve_v1.record_once(_add_converter)


@kserve_v1.get("/models")
@kserve_v1.output(V1ModelList)
@kserve_v1.doc(summary="List the model names")
def list_models() -> Response:
    return json_response({"models": [model.name for model in dataplane().models()]})


@kserve_v1.get("/models/<model_name:name>")
@kserve_v1.output(V1ModelStatus)
@kserve_v1.doc(summary="Model status")
@raises(ModelNotFoundError)
def model_status(name: str) -> Response:
    model = dataplane().model(name)
    return json_response({"name": model.name, "ready": model.ready})


@kserve_v1.post("/models/<model_name:name>:predict")
@kserve_v1.output(V1PredictResponse)
@kserve_v1.doc(
    summary="Predict (KServe V1)",
    description="Instances are objects of named features or arrays in the model's feature "
    "order; `parameters.probabilities: true` adds each class's probability.",
)
@raises(*PREDICTION_ERRORS)
@PREDICTION.route
def predict(name: str) -> Response:
    return PREDICTION.respond(name, None)
