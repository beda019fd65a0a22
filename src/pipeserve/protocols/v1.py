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

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeserve.errors import InvalidInputError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelEntry
from pipeserve.inference.schema import InstanceValidator
from pipeserve.protocols.jsonbody import parse_json

_PARAMETERS = {"probabilities"}


@dataclass(frozen=True)
class V1Request:
    """A decoded, validated V1 prediction request."""

    rows: list[dict[str, Any]]
    probabilities: bool


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{field} {message}", errors=[{"field": field, "message": message}])


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a body that must be one JSON object; raises :class:`MalformedRequestError` for
    anything that is not JSON (NaN and Infinity literals included) and :class:`InvalidInputError`
    for JSON that is not an object."""
    document = parse_json(body)
    if not isinstance(document, dict):
        raise _invalid("(body)", "must be a JSON object")
    return document


class V1Codec:
    """Decode V1 requests for one model version; encode its predictions."""

    def __init__(self, entry: ModelEntry, max_instances: int) -> None:
        if entry.validator is None or entry.manifest is None:
            raise ValueError(f"model {entry.label!r} is not ready; it has no input schema")
        self.validator: InstanceValidator = entry.validator
        self.classes = list(entry.manifest.classes)
        self.feature_names = entry.manifest.feature_names
        self.max_instances = max_instances

    def decode(self, body: bytes) -> V1Request:
        """Raises :class:`MalformedRequestError` or :class:`InvalidInputError` (naming every
        offending field)."""
        document = parse_json_object(body)
        unknown = sorted(set(document) - {"instances", "parameters"})
        if unknown:
            raise _invalid(unknown[0], "is not a field of a V1 request (expected: instances)")
        if "instances" not in document:
            raise _invalid("instances", "is required")
        instances = document["instances"]
        if not isinstance(instances, list) or not instances:
            raise _invalid("instances", "must be a non-empty array of instances")
        if len(instances) > self.max_instances:
            raise _invalid(
                "instances",
                f"has too many rows: at most {self.max_instances} per request "
                "(PIPESERVE_MAX_INSTANCES); split the batch",
            )
        probabilities = self._probabilities(document.get("parameters"))
        rows = self.validator.validate_rows(
            [self._named(instance, index) for index, instance in enumerate(instances)],
            prefix=("instances",),
        )
        return V1Request(rows, probabilities)

    def _named(self, instance: Any, index: int) -> Any:
        if not isinstance(instance, list):
            return instance  # an object is validated as it is, anything else is refused there
        if len(instance) != len(self.feature_names):
            raise _invalid(
                f"instances[{index}]",
                f"has {len(instance)} values; expected {len(self.feature_names)} in this order: "
                + ", ".join(self.feature_names),
            )
        return dict(zip(self.feature_names, instance, strict=True))

    @staticmethod
    def _probabilities(parameters: Any) -> bool:
        if parameters is None:
            return False
        if not isinstance(parameters, dict):
            raise _invalid("parameters", "must be an object")
        unknown = sorted(set(parameters) - _PARAMETERS)
        if unknown:
            raise _invalid(f"parameters.{unknown[0]}", "is not supported (known: probabilities)")
        value = parameters.get("probabilities", False)
        if not isinstance(value, bool):
            raise _invalid("parameters.probabilities", "must be true or false")
        return value

    def encode(self, prediction: Prediction) -> dict[str, Any]:
        """The response document for ``prediction``."""
        if prediction.values is not None:  # a regressor: one number per instance
            return {"predictions": prediction.values.tolist()}
        document: dict[str, Any] = {"predictions": prediction.labels}
        if prediction.probabilities is not None:
            rounded = np.round(prediction.probabilities, 6).tolist()
            document["probabilities"] = [
                dict(zip(self.classes, row, strict=True)) for row in rounded
            ]
        return document


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


class V1Error(_Doc):
    error: str = Field(description="What is wrong with the request.")
