"""Server and model metadata of the Open Inference Protocol."""

from __future__ import annotations

from typing import Any

import orjson

from pipeserve.inference.registry import ModelVersion, ServedModel
from pipeserve.protocols.v2.wire import PANDAS_CONTENT_TYPE, PREDICT_OUTPUT, PROBA_OUTPUT


def model_metadata(model: ServedModel, entry: ModelVersion) -> dict[str, Any]:
    """``GET /v2/models/<name>[/versions/<v>]`` for ``entry``, one of ``model``'s versions.

    Inputs are listed one per feature (the layout that names them); one 2-D tensor of all
    features in this order is accepted as well.
    """
    manifest = entry.manifest
    document: dict[str, Any] = {
        "name": model.name,
        "versions": [version.version for version in model.versions if version.version],
        "platform": "sklearn",
        "inputs": [],
        "outputs": [],
    }
    if manifest is None:
        return document
    document["inputs"] = [
        {
            "name": feature.name,
            "datatype": feature.v2_datatype,
            "shape": [-1],
        }
        for feature in manifest.features
    ]
    predict_type = "FP64" if manifest.task == "regression" else "BYTES"
    document["outputs"] = [{"name": PREDICT_OUTPUT, "datatype": predict_type, "shape": [-1]}]
    if entry.predictor is not None and entry.predictor.has_probabilities:
        document["outputs"].append(
            {"name": PROBA_OUTPUT, "datatype": "FP64", "shape": [-1, len(manifest.classes)]}
        )
    document["parameters"] = {
        "content_type": PANDAS_CONTENT_TYPE,
        # Parameter values are scalars in the protocol; the class order as a JSON array string.
        "classes": orjson.dumps(manifest.classes).decode(),
    }
    return document


def server_metadata(version: str) -> dict[str, Any]:
    """``GET /v2``."""
    return {"name": "pipeserve", "version": version, "extensions": ["binary_tensor_data"]}
