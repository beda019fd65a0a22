"""JSON Schemas of one model version's requests, per protocol, exactly as the codecs judge them.

The OpenAPI document binds these to the model's own paths, so that a request the document calls
valid is one the server accepts, and one it calls invalid is refused: the same rules as the column
validator (:mod:`pipeserve.protocols.columns`) and the request policy
(:mod:`pipeserve.protocols.policy`), written as JSON Schema. Where a rule depends on the server's
settings (the row limit, the longest string, whether values outside the training range are
refused) it comes in as :class:`InputLimits`.

Pure: plain dicts, no Flask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeserve.bundle.manifest import FeatureSpec, Manifest


@dataclass(frozen=True)
class InputLimits:
    """The server settings that bound what one request may hold."""

    max_instances: int
    max_string_length: int
    training_ranges: bool = False
    """Values outside the training range (and unseen categories) are refused
    (``PIPESERVE_OUT_OF_RANGE=reject`` with input monitoring on)."""


def schema_title(name: str, suffix: str) -> str:
    """A component name such as ``IrisInstance`` for model ``iris``."""
    words = re.split(r"[^0-9A-Za-z]+", name)
    return "".join(word[:1].upper() + word[1:] for word in words if word) + suffix


def feature_schema(
    feature: FeatureSpec, manifest: Manifest, limits: InputLimits, example: Any = None
) -> dict[str, Any]:
    """What one value of ``feature`` may be."""
    schema: dict[str, Any]
    seen = ""
    if feature.minimum is not None and feature.maximum is not None:
        seen = f" Seen in training: {feature.minimum:g} to {feature.maximum:g}."
    if feature.is_text:
        # Text (an address) must say something, and is bounded so one field cannot be huge.
        schema = {"type": "string", "minLength": 1, "maxLength": limits.max_string_length}
        categories = _categories(feature, manifest, limits)
        if categories is not None:
            schema["enum"] = categories
    else:
        schema = {"type": feature.json_type}
        if limits.training_ranges and feature.minimum is not None and feature.maximum is not None:
            schema.update(minimum=feature.minimum, maximum=feature.maximum)
    schema["description"] = (
        feature.description or f"Feature `{feature.name}` ({feature.dtype})."
    ) + seen
    if example is not None:
        schema["examples"] = [example]
    return schema


def _categories(feature: FeatureSpec, manifest: Manifest, limits: InputLimits) -> list[str] | None:
    """The only accepted values of a text feature, if there is a closed set: the encoder's own
    (it refuses unknown ones), or with training ranges refused, those seen in training."""
    if feature.categories:
        return sorted(feature.categories)
    if limits.training_ranges:
        for stats in manifest.statistics:
            if stats.name == feature.name and stats.categories:
                return sorted(stats.categories)
    return None


def instance_schema(manifest: Manifest, limits: InputLimits) -> dict[str, Any]:
    """One row of named features (the friendly API, and V1's object form)."""
    return {
        "type": "object",
        "title": schema_title(manifest.name, "Instance"),
        "description": f"One input row of model `{manifest.name}`: the raw features, before "
        "any feature engineering (the served pipeline does that).",
        "properties": {
            feature.name: feature_schema(
                feature, manifest, limits, manifest.example.get(feature.name)
            )
            for feature in manifest.features
        },
        "required": manifest.feature_names,
        "additionalProperties": False,
    }


def instance_array_schema(manifest: Manifest, limits: InputLimits) -> dict[str, Any]:
    """One row as an array of values in feature order (V1)."""
    width = len(manifest.features)
    return {
        "type": "array",
        "description": "The values in this order: " + ", ".join(manifest.feature_names),
        "prefixItems": [feature_schema(f, manifest, limits) for f in manifest.features],
        "items": False,
        "minItems": width,
        "maxItems": width,
    }


def instances_schema(items: dict[str, Any], limits: InputLimits) -> dict[str, Any]:
    """The ``instances`` array of the friendly API and V1."""
    return {
        "type": "array",
        "items": items,
        "minItems": 1,
        "maxItems": limits.max_instances,
        "description": f"The rows to score, 1 to {limits.max_instances} (PIPESERVE_MAX_INSTANCES).",
    }
