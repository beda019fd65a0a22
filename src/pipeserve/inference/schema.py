"""Input rules generated from a bundle's manifest.

Validation itself is the column validator's (:mod:`pipeserve.protocols.columns`), shared by every
protocol and the batch reader. A pydantic model per bundle describes the same rules (exactly the
training features, finite numbers, bounded non-empty strings, no extra keys) for the OpenAPI
document; both are built from the manifest and ``max_string_length``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from pipeserve.bundle.manifest import FeatureSpec, Manifest
from pipeserve.protocols.columns import (
    MAX_STRING_LENGTH,
    REQUIRED,
    ColumnValidator,
    invalid,
    invalid_fields,
    json_name,
)

_PYTHON_TYPES: dict[str, type] = {"float64": float, "int64": int, "string": str}


def schema_title(name: str, suffix: str) -> str:
    """A component name such as ``IrisInstance`` for model ``iris``."""
    words = re.split(r"[^0-9A-Za-z]+", name)
    return "".join(word[:1].upper() + word[1:] for word in words if word) + suffix


def _feature_field(feature: FeatureSpec, example: Any, max_string_length: int) -> tuple[type, Any]:
    seen = ""
    if feature.minimum is not None and feature.maximum is not None:
        seen = f" Seen in training: {feature.minimum:g} to {feature.maximum:g}."
    description = (feature.description or f"Feature `{feature.name}` ({feature.dtype}).") + seen
    extra: dict[str, Any] = {}
    if feature.dtype == "float64":
        extra["allow_inf_nan"] = False
    elif feature.dtype == "string":
        # Text (an address) must say something, and is bounded so one field cannot be huge.
        extra.update(min_length=1, max_length=max_string_length)
    return (
        _PYTHON_TYPES[feature.dtype],
        Field(alias=feature.name, description=description, examples=[example], **extra),
    )


def build_instance_model(
    manifest: Manifest, max_string_length: int = MAX_STRING_LENGTH
) -> type[BaseModel]:
    """The pydantic model of one instance of ``manifest``'s input."""
    fields: dict[str, Any] = {
        f"feature_{index}": _feature_field(
            feature, manifest.example.get(feature.name), max_string_length
        )
        for index, feature in enumerate(manifest.features)
    }
    model: type[BaseModel] = create_model(
        schema_title(manifest.name, "Instance"),
        __config__=ConfigDict(extra="forbid", strict=True, frozen=True),
        __doc__=f"One input row of model `{manifest.name}`: the raw features, before any "
        "feature engineering (the served pipeline does that).",
        **fields,
    )
    return model


def format_location(location: Sequence[int | str]) -> str:
    """``("instances", 0, "sepal_length")`` → ``instances[0].sepal_length``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(body)"


class InstanceValidator:
    """One bundle's input rules: the column validator every protocol and the batch reader use,
    and the instance schema the OpenAPI document shows (both from the same manifest and
    ``max_string_length``)."""

    def __init__(self, manifest: Manifest, max_string_length: int = MAX_STRING_LENGTH) -> None:
        self.manifest = manifest
        self.max_string_length = max_string_length
        self.columns = ColumnValidator(manifest.features, max_string_length)
        self._model: type[BaseModel] | None = None

    @property
    def model(self) -> type[BaseModel]:
        """The pydantic model of one instance, for the OpenAPI document (built on first use:
        a worker that serves no documentation never pays for it)."""
        if self._model is None:
            self._model = build_instance_model(self.manifest, self.max_string_length)
        return self._model

    def validate_row(self, row: Any, location: Sequence[int | str] = ()) -> dict[str, Any]:
        """Return the row as ``{feature: value}`` or raise :class:`InvalidInputError` naming
        each problem at ``location.feature``."""
        prefix = format_location(location) if location else ""
        if not isinstance(row, Mapping):
            field = prefix or "(row)"
            raise invalid(field, f"must be an object of named features, got {json_name(row)}")
        columns = self.columns
        errors: list[dict[str, str]] = []
        for index, name in enumerate(columns.names):
            message = columns.value_problem(index, row[name]) if name in row else REQUIRED
            if message is not None:
                errors.append({"field": f"{prefix}.{name}" if prefix else name, "message": message})
        errors.extend(
            {"field": f"{prefix}.{key}" if prefix else str(key), "message": columns.unknown_feature}
            for key in row
            if key not in columns.index
        )
        if errors:
            raise invalid_fields(errors)
        return {name: row[name] for name in columns.names}


__all__ = ["MAX_STRING_LENGTH", "InstanceValidator", "build_instance_model", "schema_title"]
