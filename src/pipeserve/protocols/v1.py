"""KServe's V1 protocol (TensorFlow Serving's row format): instances in, predictions out.

Request::

    {"instances": [{"sepal_length": 5.1, ...}, [5.1, 3.5, 1.4, 0.2]],
     "parameters": {"probabilities": true}}

An instance is an object of named features or an array of values in the bundle's feature order.
Response: ``{"predictions": ["setosa", ...]}``, plus ``"probabilities": [{"setosa": 0.97, ...},
...]`` when the request's ``parameters.probabilities`` is true. V1 has no probability field of its
own; an extra key leaves clients that only read ``predictions`` working.

Pure: bytes in, plain data out; no Flask.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import Field

from pipeserve.inference.predictor import Prediction
from pipeserve.protocols.instances import InstanceCodec
from pipeserve.protocols.jsonbody import ensure_unique_keys, loads
from pipeserve.protocols.policy import (
    DecodedRequest,
    WireModel,
    boolean,
    refuse_unknown_fields,
    require_list,
    require_object,
)
from pipeserve.protocols.schemas import InputLimits, instances_schema

_FIELDS = ("instances", "parameters")
_PARAMETERS = ("probabilities",)


class V1Codec(InstanceCodec):
    """Decode V1 requests for one model version; encode its predictions."""

    arrays = True

    def _decode(self, body: bytes) -> DecodedRequest:
        document = require_object(loads(body))
        refuse_unknown_fields(document, _FIELDS)
        instances = require_list(document, "instances")
        parameters = document.get("parameters")
        probabilities = self._probabilities(parameters)
        columns, keys = self.instances.decode(instances)
        keys += len(document) + (len(parameters) if type(parameters) is dict else 0)
        ensure_unique_keys(body, keys)
        return DecodedRequest(columns, len(instances), probabilities)

    @staticmethod
    def _probabilities(parameters: Any) -> bool:
        if parameters is None:
            return False
        parameters = require_object(parameters, "parameters")
        refuse_unknown_fields(
            parameters, _PARAMETERS, "parameters.", "is not supported (known: {known})"
        )
        return boolean(parameters.get("probabilities", False), "parameters.probabilities")

    def encode(self, prediction: Prediction, request: DecodedRequest | None = None) -> bytes:
        """The response body for ``prediction``."""
        if prediction.values is not None:  # a regressor: one number per instance
            return orjson.dumps({"predictions": prediction.values.tolist()})
        labels = orjson.dumps(prediction.labels)
        if prediction.probabilities is None:
            return b'{"predictions":%b}' % labels
        objects = self.probability_objects.objects(prediction.probabilities)
        return b'{"predictions":%b,"probabilities":[%b]}' % (labels, b",".join(objects))


# --- documented shapes (for the OpenAPI document) ------------------------------------------------


def request_schema(
    instance: dict[str, Any], values: dict[str, Any], limits: InputLimits
) -> dict[str, Any]:
    """The JSON Schema of a request, given the schemas (or references) of one instance as an
    object of named features and as an array of ``values`` in feature order."""
    return {
        "type": "object",
        "properties": {
            "instances": instances_schema({"anyOf": [instance, values]}, limits),
            "parameters": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            _PARAMETERS[0]: {
                                "type": "boolean",
                                "default": False,
                                "description": "Add class probabilities to the response.",
                            }
                        },
                        "additionalProperties": False,
                    },
                    {"type": "null"},
                ]
            },
        },
        "required": ["instances"],
        "additionalProperties": False,
    }


class V1PredictResponse(WireModel):
    predictions: list[str] | list[float] = Field(
        description="The predicted class (classifiers) or number (regressors) of each instance."
    )
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="Per instance, each class's probability; only when asked for."
    )


class V1ModelStatus(WireModel):
    name: str
    ready: bool


class V1ModelList(WireModel):
    models: list[str]
