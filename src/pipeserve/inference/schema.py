"""Input validation generated from a bundle's manifest.

One pydantic model per bundle describes a valid instance (row): exactly the training features,
each a finite number; no strings coerced into numbers, no extra keys. The same model validates
HTTP requests and batch files, and renders the OpenAPI schema, so docs and checks cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import ErrorDetails

from pipeserve.bundle.manifest import FeatureSpec, Manifest
from pipeserve.errors import InvalidInputError

_PYTHON_TYPES: dict[str, type] = {"float64": float, "int64": int, "string": str}


def schema_title(name: str, suffix: str) -> str:
    """A component name such as ``IrisInstance`` for model ``iris``."""
    words = re.split(r"[^0-9A-Za-z]+", name)
    return "".join(word[:1].upper() + word[1:] for word in words if word) + suffix


# Longest string accepted for a string feature unless configured otherwise (an address fits).
MAX_STRING_LENGTH = 1000


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


_FIXED_MESSAGES = {
    "missing": "is required",
    "string_too_short": "must not be empty",
    "finite_number": "must be a finite number (NaN and Infinity are not allowed)",
}
_SHAPE_MESSAGES = {
    "list_type": "must be an array",
    "model_type": "must be an object of named features",
    "dict_type": "must be an object",
}
_LIMIT_MESSAGES = {"string_too_long": "is too long: at most {max_length} characters"}


def _message(error: ErrorDetails, feature_types: Mapping[str, str]) -> str:
    field = error["loc"][-1] if error["loc"] else None
    kind = error["type"]
    got = _json_type_name(type(error["input"]).__name__)
    if kind in _FIXED_MESSAGES:
        return _FIXED_MESSAGES[kind]
    if kind in _LIMIT_MESSAGES:
        return _LIMIT_MESSAGES[kind].format(**error.get("ctx", {}))
    if kind in _SHAPE_MESSAGES:
        return f"{_SHAPE_MESSAGES[kind]}, got {got}"
    if kind == "extra_forbidden":
        known = ", ".join(feature_types)
        return f"is not a feature of this model (expected only: {known})"
    if isinstance(field, str) and field in feature_types:
        return f"must be a {_JSON_NAMES[feature_types[field]]}, got {got}"
    return str(error["msg"])


_JSON_NAMES = {"float64": "number", "int64": "integer", "string": "string"}


def _json_type_name(python_name: str) -> str:
    return {
        "str": "a string",
        "bool": "a boolean",
        "NoneType": "null",
        "list": "an array",
        "dict": "an object",
        "int": "an integer",
        "float": "a number",
    }.get(python_name, python_name)


def describe_errors(
    error: ValidationError, manifest: Manifest, prefix: Sequence[int | str] = ()
) -> list[dict[str, str]]:
    """Turn pydantic's errors into ``{"field", "message"}`` pairs that name the JSON path."""
    feature_types = {feature.name: feature.dtype for feature in manifest.features}
    return [
        {
            "field": format_location([*prefix, *e["loc"]]),
            "message": _message(e, feature_types),
        }
        for e in error.errors(include_url=False)
    ]


class InstanceValidator:
    """Validate rows against one bundle's input schema."""

    def __init__(self, manifest: Manifest, max_string_length: int = MAX_STRING_LENGTH) -> None:
        self.manifest = manifest
        self.max_string_length = max_string_length
        self.model = build_instance_model(manifest, max_string_length)

    def validate_row(self, row: Any, location: Sequence[int | str] = ()) -> dict[str, Any]:
        """Return the row as ``{feature: value}`` or raise :class:`InvalidInputError`."""
        try:
            instance = self.model.model_validate(row)
        except ValidationError as error:
            errors = describe_errors(error, self.manifest, location)
            raise InvalidInputError(summarize_errors(errors), errors=errors) from error
        return instance.model_dump(by_alias=True)

    def validate_rows(
        self, rows: Iterable[Any], prefix: Sequence[int | str] = ()
    ) -> list[dict[str, Any]]:
        """Validate every row; raise one :class:`InvalidInputError` listing all problems, each
        located as ``prefix[index].feature``."""
        valid: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for index, row in enumerate(rows):
            try:
                valid.append(self.validate_row(row, (*prefix, index)))
            except InvalidInputError as error:
                errors.extend(error.details["errors"])
        if errors:
            raise InvalidInputError(summarize_errors(errors), errors=errors)
        return valid


def summarize_errors(errors: list[dict[str, str]]) -> str:
    """One sentence naming the first problem and how many more there are."""
    first = errors[0]
    extra = len(errors) - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return f"{first['field']} {first['message']}{more}"
