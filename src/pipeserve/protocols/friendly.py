"""pipeserve's own JSON protocol: named features in, labels and named probabilities out.

Request::

    {"instances": [{"sepal_length": 5.1, ...}], "probabilities": true}

Response::

    {"model": {"name": "iris", "version": "1"},
     "predictions": [{"label": "setosa", "probabilities": {"setosa": 0.97, ...}}]}

Pure: bytes in, plain data out; no Flask.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import Field

from pipeserve.bundle.manifest import FastPath, FeatureSpec, Lineage
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelVersion, ServedModel
from pipeserve.protocols.instances import InstanceCodec
from pipeserve.protocols.jsonbody import ensure_unique_keys, loads
from pipeserve.protocols.policy import (
    DecodedRequest,
    JsonStrings,
    WireModel,
    boolean,
    refuse_unknown_fields,
    require_list,
    require_object,
)
from pipeserve.protocols.schemas import InputLimits, instances_schema

_FIELDS = ("instances", "probabilities")


class FriendlyCodec(InstanceCodec):
    """Decode prediction requests for one model version; encode its predictions."""

    def __init__(self, entry: ModelVersion, max_instances: int) -> None:
        super().__init__(entry, max_instances)
        self._model_ref = orjson.dumps(
            {"name": self.manifest.name, "version": self.manifest.version}
        )
        self._item = b'{"label":%b,"probabilities":' + self.probability_objects.template + b"}"
        self._labels = JsonStrings(self.classes)

    def _decode(self, body: bytes) -> DecodedRequest:
        document = require_object(loads(body))
        refuse_unknown_fields(document, _FIELDS)
        instances = require_list(document, "instances")
        probabilities = boolean(document.get("probabilities", True), "probabilities")
        columns, keys = self.instances.decode(instances)
        # Valid, so its shape is known: every instance holds exactly the features, which tells
        # how many keys the body must have without walking it.
        ensure_unique_keys(body, len(document) + keys)
        return DecodedRequest(columns, len(instances), probabilities)

    def encode(self, prediction: Prediction, request: DecodedRequest | None = None) -> bytes:
        """The response body for ``prediction``."""
        items: list[bytes]
        if prediction.values is not None:  # a regressor: one number per instance
            values = orjson.dumps(prediction.values.tolist())[1:-1]
            items = [b'{"value":%b}' % value for value in values.split(b",")] if values else []
        elif prediction.probabilities is None:
            items = [b'{"label":%b}' % label for label in self._labels.of(prediction.labels)]
        else:
            item = self._item
            labels = self._labels.of(prediction.labels)
            numbers = self.probability_objects.numbers(prediction.probabilities)
            items = [item % (label, *row) for label, row in zip(labels, numbers, strict=True)]
        for row, warnings in prediction.warnings.items():  # inputs unlike the training data
            items[row] = b'%b,"warnings":%b}' % (items[row][:-1], orjson.dumps(warnings))
        return b'{"model":%b,"predictions":[%b]}' % (self._model_ref, b",".join(items))


def request_schema(instance: dict[str, Any], limits: InputLimits) -> dict[str, Any]:
    """The JSON Schema of a request, given the schema (or reference) of one ``instance``."""
    return {
        "type": "object",
        "properties": {
            "instances": instances_schema(instance, limits),
            "probabilities": {
                "type": "boolean",
                "default": True,
                "description": "Include class probabilities per prediction.",
            },
        },
        "required": ["instances"],
        "additionalProperties": False,
    }


# --- documented response shapes (for the OpenAPI document) -------------------------------------


class ModelRef(WireModel):
    name: str
    version: str


class PredictionItem(WireModel):
    label: str | None = Field(default=None, description="The predicted class (classifiers).")
    value: float | None = Field(default=None, description="The predicted number (regressors).")
    probabilities: dict[str, float] | None = Field(
        default=None, description="Probability of each class; omitted when not requested."
    )
    warnings: list[str] | None = Field(
        default=None,
        description="Inputs of this instance unlike the training data (a value outside the "
        "training range, an unseen category), with PIPESERVE_OUT_OF_RANGE=flag; omitted when "
        "there are none.",
    )


class PredictResponse(WireModel):
    model: ModelRef
    predictions: list[PredictionItem]


class VersionSummary(WireModel):
    version: str | None = Field(description="None only when the bundle is too broken to say.")
    ready: bool
    error: str | None = Field(default=None, description="Why this version is not ready.")
    reload_error: str | None = Field(
        default=None,
        description="Why a newer bundle at the same place was refused; this version keeps serving.",
    )


class ModelSummary(WireModel):
    name: str = Field(description="The name the model is served under.")
    ready: bool = Field(description="Whether the default version can answer.")
    version: str | None = Field(
        default=None,
        description="The default version: the newest ready one (it answers requests that name "
        "no version).",
    )
    error: str | None = Field(default=None, description="Why the default version is not ready.")
    versions: list[VersionSummary] = Field(default_factory=list, description="Oldest first.")


class ModelList(WireModel):
    models: list[ModelSummary]


class ModelMetadata(ModelSummary):
    estimator: str | None = None
    classes: list[str] = Field(default_factory=list)
    inputs: list[FeatureSpec] = Field(default_factory=list)
    example: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    digest: str | None = Field(
        default=None,
        description="sha256 of the bundle's bundle.json, which pins every file of the bundle; "
        "every prediction answers with it in X-Model-Digest.",
    )
    lineage: Lineage | None = None
    source_revision: str | None = Field(
        default=None,
        description="The source revision the server's image was built from "
        "(PIPESERVE_SOURCE_REVISION); bundles record none, so a commit cannot change them.",
    )
    created_at: str | None = None
    library_versions: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(
        default_factory=list, description="Library versions that differ from training."
    )
    inference_path: Literal["onnx", "sklearn"] | None = Field(
        default=None,
        description="What answers: the compiled ONNX form (verified against scikit-learn when "
        "the bundle was built) or the scikit-learn pipeline.",
    )
    inference_path_reason: str | None = Field(
        default=None, description="Why that path: the check's result, or why there is none."
    )
    fast_path: FastPath | None = Field(
        default=None, description="The bundle's record of its compiled form and its check."
    )


def _version_summary(entry: ModelVersion) -> dict[str, Any]:
    return {
        "version": entry.version,
        "ready": entry.ready,
        "error": entry.error,
        "reload_error": entry.reload_error,
    }


def summarize(model: ServedModel) -> dict[str, Any]:
    """The model's line in ``GET /api/v1/models`` and ``/readyz``."""
    default = model.default
    return {
        "name": model.name,
        "ready": default.ready,
        "version": default.version,
        "error": default.error,
        "versions": [_version_summary(entry) for entry in model.versions],
    }


def describe(
    model: ServedModel, entry: ModelVersion, source_revision: str | None = None
) -> dict[str, Any]:
    """``GET /api/v1/models/<name>[/versions/<version>]``: what the manifest of ``entry`` (one
    of ``model``'s versions) says about it, and the model's versions."""
    document = summarize(model)
    document.update(ready=entry.ready, version=entry.version, error=entry.error)
    manifest = entry.manifest
    if manifest is None:
        return document
    document.update(
        estimator=manifest.estimator,
        classes=manifest.classes,
        inputs=[feature.model_dump(mode="json") for feature in manifest.features],
        example=manifest.example,
        metrics=manifest.metrics,
        digest=entry.digest,
        lineage=manifest.lineage.model_dump(mode="json"),
        source_revision=source_revision,
        created_at=manifest.created_at.isoformat() if manifest.created_at else None,
        library_versions=manifest.library_versions,
        warnings=list(entry.version_warnings),
        fast_path=manifest.fast_path.model_dump(mode="json") if manifest.fast_path else None,
    )
    if entry.predictor is not None:
        document.update(
            inference_path=entry.predictor.inference_path,
            inference_path_reason=entry.predictor.path_reason,
        )
    return document
