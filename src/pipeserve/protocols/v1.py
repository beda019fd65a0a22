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

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from pipeserve.errors import InvalidInputError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelEntry
from pipeserve.protocols.columns import Column
from pipeserve.protocols.instances import InstanceDecoder
from pipeserve.protocols.jsonbody import ensure_unique_keys, loads, parse_json
from pipeserve.protocols.policy import (
    boolean,
    refuse_unknown_fields,
    require_list,
    require_object,
    rounded,
)

_FIELDS = ("instances", "parameters")
_PARAMETERS = ("probabilities",)


@dataclass(frozen=True)
class V1Request:
    """A decoded, validated V1 prediction request: one column per feature."""

    columns: dict[str, Column]
    rows: int
    probabilities: bool


class V1Codec:
    """Decode V1 requests for one model version; encode its predictions."""

    def __init__(self, entry: ModelEntry, max_instances: int) -> None:
        if entry.validator is None or entry.manifest is None:
            raise ValueError(f"model {entry.label!r} is not ready; it has no input schema")
        self.classes = list(entry.manifest.classes)
        self.feature_names = entry.manifest.feature_names
        self.max_instances = max_instances
        self.instances = InstanceDecoder(entry.validator.columns, max_instances, arrays=True)

    def decode(self, body: bytes) -> V1Request:
        """Raises :class:`MalformedRequestError` or :class:`InvalidInputError` (naming every
        offending field)."""
        try:
            return self._decode(body)
        except InvalidInputError:
            parse_json(body)  # a key named twice makes the body malformed, whatever else is wrong
            raise

    def _decode(self, body: bytes) -> V1Request:
        document = require_object(loads(body))
        refuse_unknown_fields(document, _FIELDS)
        instances = require_list(document, "instances")
        parameters = document.get("parameters")
        probabilities = self._probabilities(parameters)
        columns, keys = self.instances.decode(instances)
        keys += len(document) + (len(parameters) if type(parameters) is dict else 0)
        ensure_unique_keys(body, keys)
        return V1Request(columns, len(instances), probabilities)

    @staticmethod
    def _probabilities(parameters: Any) -> bool:
        if parameters is None:
            return False
        parameters = require_object(parameters, "parameters")
        refuse_unknown_fields(
            parameters, _PARAMETERS, "parameters.", "is not supported (known: {known})"
        )
        return boolean(parameters.get("probabilities", False), "parameters.probabilities")

    def encode(self, prediction: Prediction) -> bytes:
        """The response body for ``prediction``."""
        if prediction.values is not None:  # a regressor: one number per instance
            return orjson.dumps({"predictions": prediction.values.tolist()})
        document: dict[str, Any] = {"predictions": prediction.labels}
        if prediction.probabilities is not None:
            classes = self.classes
            document["probabilities"] = [
                dict(zip(classes, row, strict=True)) for row in rounded(prediction.probabilities)
            ]
        return orjson.dumps(document)


# --- documented shapes (for the OpenAPI document) ------------------------------------------------


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class V1Parameters(_Doc):
    probabilities: bool = Field(
        default=False, description="Add class probabilities to the response."
    )


class V1PredictRequest(_Doc):
    instances: list[dict[str, Any] | list[Any]] = Field(
        min_length=1,
        description="Rows: objects of named features, or arrays of values in the model's "
        "feature order (GET /api/v1/models/{name} lists it).",
    )
    parameters: V1Parameters | None = None


class V1PredictResponse(_Doc):
    predictions: list[str] | list[float] = Field(
        description="The predicted class (classifiers) or number (regressors) of each instance."
    )
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="Per instance, each class's probability; only when asked for."
    )


class V1ModelStatus(_Doc):
    name: str
    ready: bool


class V1ModelList(_Doc):
    models: list[str]
