"""The JSON Schema of one model version's inference requests, as strict as the codec.

What the codec accepts (JSON bodies; the binary extension is not described here):

* one tensor per feature, named like it, shape ``[N]`` or ``[N, 1]`` (data flat, or nested as N
  rows of one value), of a datatype the feature can be sent as, every tensor with the same N;
* or one 2-D tensor ``[N, n_features]`` of a numeric datatype, named like no feature, data flat
  in row-major order or nested as N rows (numeric models only);
* 1 <= N <= ``PIPESERVE_MAX_INSTANCES``, each value valid for its feature and datatype (an INT8
  tensor holds integers from -128 to 127, FP16 numbers within +-65504; with training ranges
  refused, only values within them).

JSON Schema cannot tie one number to another (a shape's N to the data's length), so the row
count is spelled out: one branch per N, up to :data:`EXACT_ROWS`. Past that the document states
the same rules with N and the data's length each bounded but not tied together (the description
says so). The tensors are listed in the order of the model's features (the order its metadata
lists them in); the server accepts them in any order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeserve.bundle.manifest import FeatureSpec, Manifest
from pipeserve.protocols.schemas import InputLimits, feature_schema, schema_title
from pipeserve.protocols.v2.tensors import BINARY_DTYPES, INTEGER_TYPES, NUMERIC_TYPES
from pipeserve.protocols.v2.wire import PREDICT_OUTPUT, PROBA_OUTPUT

# Row counts spelled out one by one; a larger PIPESERVE_MAX_INSTANCES gets the untied form.
EXACT_ROWS = 16
_BINARY_SIZE = "binary_data_size"
_PARAMETER_VALUE = {"type": ["string", "number", "boolean"]}


def _parameters(binary_size: bool = True) -> dict[str, Any]:
    mapping: dict[str, Any] = {"type": "object", "additionalProperties": _PARAMETER_VALUE}
    if not binary_size:  # a JSON body has no binary part for binary_data_size to point into
        mapping["propertyNames"] = {"not": {"const": _BINARY_SIZE}}
    return {"anyOf": [mapping, {"type": "null"}]}


def _datatype_range(datatype: str) -> tuple[float, float] | None:
    if datatype == "FP64":
        return None  # every JSON number
    dtype = np.dtype(BINARY_DTYPES[datatype])
    info: np.iinfo[Any] | np.finfo[Any] = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    return float(info.min), float(info.max)


def value_schema(
    feature: FeatureSpec, manifest: Manifest, limits: InputLimits, datatype: str
) -> dict[str, Any] | None:
    """One value of ``feature`` sent in a ``datatype`` tensor (``None``: no value can be)."""
    schema = feature_schema(feature, manifest, limits)
    schema.pop("description", None)
    if feature.is_text:
        return schema
    if datatype in INTEGER_TYPES:
        schema["type"] = "integer"
    bounds = _datatype_range(datatype)
    if bounds is not None:
        low, high = bounds
        schema["minimum"] = max(schema.get("minimum", low), low)
        schema["maximum"] = min(schema.get("maximum", high), high)
    if schema["type"] == "integer" and "minimum" in schema:
        low, high = math.ceil(schema["minimum"]), math.floor(schema["maximum"])
        if low > high:
            return None
        schema["minimum"], schema["maximum"] = _whole(low), _whole(high)
    return schema


def _whole(value: float) -> int | float:
    # JSON Schema bounds of integers as integers, where a float would print as 1e+19.
    return int(value) if abs(value) < 2**63 else float(value)


def _datatype_groups(
    values: Callable[[str], dict[str, Any] | None], datatypes: list[str]
) -> list[tuple[list[str], dict[str, Any]]]:
    """The datatypes that can carry a value at all, grouped by the schema their values obey
    (FP32 and FP64 hold the same iris measurements): one branch per group, not per datatype."""
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for datatype in datatypes:
        schema = values(datatype)
        if schema is not None:
            groups.setdefault(json.dumps(schema, sort_keys=True), ([], schema))[0].append(datatype)
    return list(groups.values())


def _datatype_schema(datatypes: list[str]) -> dict[str, Any]:
    return {"const": datatypes[0]} if len(datatypes) == 1 else {"enum": datatypes}


def _flat(values: dict[str, Any], count: int | None, limit: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": values}
    schema.update({"minItems": count, "maxItems": count} if count else {"minItems": 1})
    if not count:
        schema["maxItems"] = limit
    return schema


def _feature_tensor(
    feature: FeatureSpec, manifest: Manifest, limits: InputLimits, rows: int | None
) -> dict[str, Any]:
    """A tensor of one feature with ``rows`` rows (``None``: any number up to the limit)."""
    top = limits.max_instances
    branches: list[dict[str, Any]] = []
    datatypes = [feature.v2_datatype] if feature.is_text else sorted(NUMERIC_TYPES)
    for group, value in _datatype_groups(
        lambda datatype: value_schema(feature, manifest, limits, datatype), datatypes
    ):
        shapes: list[dict[str, Any]]
        if rows is None:
            count = {"type": "integer", "minimum": 1, "maximum": top}
            shapes = [
                {"type": "array", "prefixItems": [count], "items": False, "minItems": 1},
                {
                    "type": "array",
                    "prefixItems": [count, {"const": 1}],
                    "items": False,
                    "minItems": 2,
                },
            ]
            flat_shape, column_shape = shapes
        else:
            flat_shape = {"const": [rows]}
            column_shape = {"const": [rows, 1]}
        one = {"type": "array", "items": value, "minItems": 1, "maxItems": 1}
        for shape, data in (
            ({"anyOf": [flat_shape, column_shape]}, _flat(value, rows, top)),
            (column_shape, _flat(one, rows, top)),
        ):
            branches.append(_tensor({"const": feature.name}, shape, group, data))
    return {"oneOf": branches} if len(branches) > 1 else branches[0]


def _tensor(
    name: dict[str, Any], shape: dict[str, Any], datatypes: list[str], data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "name": name,
            "shape": shape,
            "datatype": _datatype_schema(datatypes),
            "parameters": _parameters(binary_size=False),
            "data": data,
        },
        "required": ["name", "shape", "datatype", "data"],
        "additionalProperties": False,
    }


def _named(manifest: Manifest, limits: InputLimits, rows: int | None) -> dict[str, Any]:
    width = len(manifest.features)
    return {
        "type": "array",
        "prefixItems": [_feature_tensor(f, manifest, limits, rows) for f in manifest.features],
        "items": False,
        "minItems": width,
        "maxItems": width,
    }


def _matrix(manifest: Manifest, limits: InputLimits, rows: int | None) -> dict[str, Any] | None:
    features = manifest.features
    if any(feature.is_text for feature in features):
        return None  # a 2-D tensor is refused for models with text features
    width, top = len(features), limits.max_instances
    name = {"type": "string", "not": {"enum": manifest.feature_names}}
    branches: list[dict[str, Any]] = []

    def row_values(datatype: str) -> dict[str, Any] | None:
        values = [value_schema(feature, manifest, limits, datatype) for feature in features]
        if any(value is None for value in values):
            return None
        return {"columns": values}

    for group, found in _datatype_groups(row_values, sorted(NUMERIC_TYPES)):
        columns: list[dict[str, Any]] = found["columns"]
        row = {
            "type": "array",
            "prefixItems": columns,
            "items": False,
            "minItems": width,
            "maxItems": width,
        }
        if rows is None:
            shape: dict[str, Any] = {
                "type": "array",
                "prefixItems": [
                    {"type": "integer", "minimum": 1, "maximum": top},
                    {"const": width},
                ],
                "items": False,
                "minItems": 2,
            }
            flat = {
                "type": "array",
                "items": {"anyOf": columns},
                "minItems": width,
                "maxItems": top * width,
            }
            nested = _flat(row, None, top)
        else:
            shape = {"const": [rows, width]}
            flat = {
                "type": "array",
                "prefixItems": columns * rows,
                "items": False,
                "minItems": rows * width,
                "maxItems": rows * width,
            }
            nested = _flat(row, rows, top)
        branches.append(_tensor(name, shape, group, {"anyOf": [flat, nested]}))
    if not branches:
        return None
    return {"type": "array", "prefixItems": [{"oneOf": branches}], "items": False, "minItems": 1}


def request_schema(
    manifest: Manifest, limits: InputLimits, has_probabilities: bool
) -> dict[str, Any]:
    """The JSON Schema of an inference request for ``manifest``'s model."""
    exact = limits.max_instances <= EXACT_ROWS
    counts: list[int | None] = list(range(1, limits.max_instances + 1)) if exact else [None]
    layouts: list[dict[str, Any]] = []
    for rows in counts:
        layouts.append(_named(manifest, limits, rows))
        matrix = _matrix(manifest, limits, rows)
        if matrix is not None:
            layouts.append(matrix)
    outputs = [PREDICT_OUTPUT, PROBA_OUTPUT] if has_probabilities else [PREDICT_OUTPUT]
    output = {
        "type": "object",
        "properties": {"name": {"enum": outputs}, "parameters": _parameters()},
        "required": ["name"],
        "additionalProperties": False,
    }
    rule = (
        "every tensor has the same number of rows N, and its data as many values as its shape"
        if exact
        else f"every tensor has the same number of rows N (1 to {limits.max_instances}), and "
        "its data as many values as its shape (a rule this document cannot spell out for "
        f"more than {EXACT_ROWS} rows)"
    )
    return {
        "type": "object",
        "title": schema_title(manifest.name, "InferenceRequest"),
        "description": "One tensor per feature (in any order; listed here in the model's "
        "feature order), or one 2-D tensor of all features in their order: " + rule + ".",
        "properties": {
            "id": {"type": ["string", "null"], "description": "Echoed in the response."},
            "parameters": _parameters(),
            "inputs": {"oneOf": layouts},
            "outputs": {
                "anyOf": [{"type": "array", "items": output}, {"type": "null"}],
                "description": "Which outputs to return; default: all of them.",
            },
        },
        "required": ["inputs"],
        "additionalProperties": False,
    }
