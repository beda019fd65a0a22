"""The Open Inference Protocol (KServe "V2", spoken by Triton and Seldon MLServer), REST flavour.

Inputs come in one of two layouts:

* one 2-D tensor ``[N, n_features]`` (FP*/INT*/UINT*) whose columns follow the bundle's feature
  order (``GET /v2/models/<name>`` lists the features as its inputs);
* one 1-D tensor ``[N]`` (or ``[N, 1]``) per feature, named like the feature, BYTES for string
  features, as MLServer's pandas codec sends them.

Outputs: ``predict`` (BYTES ``[N]``, the labels) and ``predict_proba`` (FP64 ``[N, n_classes]``,
columns in the class order the model metadata gives); the request's ``outputs`` picks which,
default both. Tensor data may be flat or nested (row-major). Triton's binary tensor extension is
read for inputs (``Inference-Header-Content-Length``); outputs are always JSON, which Triton's
clients accept too.

Pure: bytes in, plain data out; no Flask.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeserve.bundle.manifest import Manifest
from pipeserve.errors import InvalidInputError, MalformedRequestError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelEntry, ServedModel
from pipeserve.inference.schema import format_location
from pipeserve.protocols.columns import (
    REQUIRED,
    Column,
    ColumnValidator,
    WireType,
    invalid,
    invalid_fields,
)
from pipeserve.protocols.jsonbody import parse_json
from pipeserve.protocols.policy import check_row_count, require_object

PREDICT_OUTPUT = "predict"
PROBA_OUTPUT = "predict_proba"
PANDAS_CONTENT_TYPE = "pd"

Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]

# Little-endian numpy types of the binary tensor extension.
_BINARY_DTYPES: dict[str, str] = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
_INTEGER_TYPES = {name for name in _BINARY_DTYPES if "INT" in name}
_NUMERIC_TYPES = _INTEGER_TYPES | {"FP16", "FP32", "FP64"}

Parameters = dict[str, str | int | float | bool]


# --- wire models: they validate the envelope and document it ------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestInput(_Wire):
    name: str = Field(description="A feature name, or any name for the one 2-D tensor.")
    shape: list[int] = Field(min_length=1, max_length=2, description="[N] or [N, n_features].")
    datatype: Datatype
    parameters: Parameters | None = None
    data: list[Any] | None = Field(
        default=None,
        description="Row-major values, flat or nested; absent only with the binary extension.",
    )


class RequestOutput(_Wire):
    name: Literal["predict", "predict_proba"]
    parameters: Parameters | None = None


class InferenceRequest(_Wire):
    id: str | None = Field(default=None, description="Echoed in the response.")
    parameters: Parameters | None = Field(default=None, description="Echoed in the response.")
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = Field(
        default=None, description="Which outputs to return; default: all of them."
    )


class ResponseOutput(_Wire):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: Parameters | None = None
    data: list[Any]


class InferenceResponse(_Wire):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(_Wire):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1 is a dimension of any size.")
    parameters: Parameters | None = None


class ModelMetadataResponse(_Wire):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: Parameters | None = None


class ServerMetadataResponse(_Wire):
    name: str
    version: str
    extensions: list[str]


class ServerLive(_Wire):
    live: bool


class Readiness(_Wire):
    name: str | None = Field(default=None, description="The model, for a model's readiness.")
    ready: bool


# --- codec ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class V2Request:
    """A decoded, validated inference request: one column per feature."""

    columns: dict[str, Column]
    rows: int
    outputs: tuple[str, ...]
    id: str | None
    parameters: Parameters | None


# FP64 holds every JSON number (orjson refuses the rest), so it needs no range check.
_WIRE_TYPES: dict[str, WireType | None] = {
    name: WireType.of(name, _BINARY_DTYPES[name]) if name != "FP64" else None
    for name in sorted(_NUMERIC_TYPES)
}


def _flat(tensor: RequestInput) -> list[Any]:
    """The tensor's values, row-major. A [N] tensor's data is flat; a [N, M] tensor's may be
    nested as N rows of M values (an array where a value belongs is then refused as such), any
    other nesting is flattened as Triton does, and then its count must match the shape."""
    data = tensor.data or []
    if not data or type(data[0]) is not list or len(tensor.shape) != 2:
        return data  # a [N] tensor's data is flat: an array in it is a value of the wrong type
    rows_of_width = set(map(type, data)) == {list} and set(map(len, data)) == {tensor.shape[1]}
    if len(data) == tensor.shape[0] and rows_of_width:
        return list(chain.from_iterable(data))
    return _flatten(data)


def _flatten(data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _split_binary(body: bytes, header_length: int) -> tuple[bytes, bytes]:
    if header_length < 0 or header_length > len(body):
        raise MalformedRequestError(
            f"Inference-Header-Content-Length is {header_length} but the body has {len(body)} bytes"
        )
    return body[:header_length], body[header_length:]


def _decode_binary(chunk: bytes, tensor: RequestInput, field: str) -> list[Any] | NDArray[Any]:
    if tensor.datatype == "BYTES":
        values: list[Any] = []
        offset = 0
        while offset < len(chunk):
            if offset + 4 > len(chunk):
                raise MalformedRequestError(f"input {tensor.name!r}: truncated BYTES element")
            (length,) = struct.unpack_from("<I", chunk, offset)
            offset += 4
            if offset + length > len(chunk):
                raise MalformedRequestError(f"input {tensor.name!r}: truncated BYTES element")
            try:
                values.append(chunk[offset : offset + length].decode("utf-8"))
            except UnicodeDecodeError as error:
                raise invalid(
                    f"{field}[{len(values)}]", "holds bytes that are not UTF-8"
                ) from error
            offset += length
        return values
    dtype = np.dtype(_BINARY_DTYPES[tensor.datatype])
    if len(chunk) % dtype.itemsize:
        raise MalformedRequestError(
            f"input {tensor.name!r}: {len(chunk)} bytes are not a whole number of "
            f"{tensor.datatype} values"
        )
    return np.frombuffer(chunk, dtype=dtype)


class V2Codec:
    """Decode inference requests for one model version; encode its predictions."""

    def __init__(self, entry: ModelEntry, max_instances: int) -> None:
        if entry.manifest is None or entry.predictor is None or entry.validator is None:
            raise ValueError(f"model {entry.label!r} is not ready; it has no input schema")
        self.name = entry.name
        self.version = entry.version
        # Lineage in every response's parameters, as the X-Model-* headers carry it.
        self.lineage: Parameters = {"model_version": entry.version or ""}
        if entry.digest:
            self.lineage["model_digest"] = entry.digest
        self.manifest: Manifest = entry.manifest
        self.validator: ColumnValidator = entry.validator.columns
        self.features = {feature.name: feature.dtype for feature in entry.manifest.features}
        self.has_probabilities = entry.predictor.has_probabilities
        self.max_instances = max_instances
        self._strings = [name for name, dtype in self.features.items() if dtype == "string"]

    @property
    def output_names(self) -> tuple[str, ...]:
        return (PREDICT_OUTPUT, PROBA_OUTPUT) if self.has_probabilities else (PREDICT_OUTPUT,)

    def decode(self, body: bytes, binary_header_length: int | None = None) -> V2Request:
        """Raises :class:`MalformedRequestError` for a body that is not JSON and
        :class:`InvalidInputError` for one that does not fit the model."""
        header, binary = (
            _split_binary(body, binary_header_length)
            if binary_header_length is not None
            else (body, b"")
        )
        request = self._envelope(header)
        values = self._values(request, binary)
        columns, rows = self._columns(request.inputs, values)
        return V2Request(columns, rows, self._outputs(request), request.id, request.parameters)

    @staticmethod
    def _envelope(header: bytes) -> InferenceRequest:
        document = require_object(parse_json(header))
        try:
            return InferenceRequest.model_validate(document)
        except ValidationError as error:
            problems = error.errors(include_url=False)
            details = [
                {"field": format_location(problem["loc"]), "message": problem["msg"]}
                for problem in problems
            ]
            first = details[0]
            raise InvalidInputError(
                f"{first['field']}: {first['message']}", errors=details
            ) from error

    @staticmethod
    def _values(request: InferenceRequest, binary: bytes) -> list[list[Any] | NDArray[Any]]:
        values: list[list[Any] | NDArray[Any]] = []
        offset = 0
        for tensor in request.inputs:
            size = (tensor.parameters or {}).get("binary_data_size")
            if size is not None:
                if type(size) is not int or size < 0 or offset + size > len(binary):
                    raise MalformedRequestError(
                        f"input {tensor.name!r}: binary_data_size {size!r} does not fit the "
                        f"{len(binary)} bytes after the JSON header"
                    )
                chunk = binary[offset : offset + size]
                values.append(_decode_binary(chunk, tensor, f"inputs.{tensor.name}.data"))
                offset += size
            elif tensor.data is None:
                raise invalid(
                    f"inputs.{tensor.name}.data",
                    "is required: the input has no data (nor parameters.binary_data_size)",
                )
            else:
                values.append(_flat(tensor))
        if offset != len(binary):
            raise MalformedRequestError(
                f"{len(binary) - offset} bytes after the JSON header belong to no input"
            )
        return values

    def _columns(
        self, inputs: list[RequestInput], values: list[list[Any] | NDArray[Any]]
    ) -> tuple[dict[str, Column], int]:
        for tensor, flat in zip(inputs, values, strict=True):
            expected = math.prod(tensor.shape)
            if any(dim < 0 for dim in tensor.shape) or expected != len(flat):
                raise invalid(
                    f"inputs.{tensor.name}", f"has shape {tensor.shape} but {len(flat)} values"
                )
        names = [tensor.name for tensor in inputs]
        if len(inputs) == 1 and len(inputs[0].shape) == 2 and names[0] not in self.features:
            return self._matrix(inputs[0], values[0])
        return self._named(inputs, values)

    def _matrix(
        self, tensor: RequestInput, values: list[Any] | NDArray[Any]
    ) -> tuple[dict[str, Column], int]:
        rows, width = tensor.shape
        field = f"inputs.{tensor.name}"
        if width != len(self.features):
            raise invalid(
                f"{field}.shape",
                f"has {width} columns; this model takes {len(self.features)} in this order: "
                f"{', '.join(self.features)}",
            )
        if self._strings:
            raise invalid(
                field,
                f"is one 2-D tensor, but this model has string features "
                f"({', '.join(self._strings)}): send one tensor per feature, named like the "
                "feature, instead of one 2-D tensor",
            )
        if tensor.datatype not in _NUMERIC_TYPES:
            raise invalid(
                f"{field}.datatype",
                f"is {tensor.datatype}; this model's features are numbers (FP32, FP64 or INT*)",
            )
        check_row_count(rows, self.max_instances, "inputs")
        if isinstance(values, np.ndarray):
            matrix = values.reshape(rows, width)
            raw: list[Any] = [matrix[:, column] for column in range(width)]
        else:
            raw = [values[column::width] for column in range(width)]
        wire = [_WIRE_TYPES[tensor.datatype]] * width
        return self.validator.validate(
            raw, lambda index, row: f"{field}.data[{row}][{index}]", wire
        ), rows

    def _named(
        self, inputs: list[RequestInput], values: list[list[Any] | NDArray[Any]]
    ) -> tuple[dict[str, Column], int]:
        given: dict[str, tuple[RequestInput, list[Any] | NDArray[Any]]] = {}
        rows: int | None = None
        for tensor, flat in zip(inputs, values, strict=True):
            field = f"inputs.{tensor.name}"
            dtype = self.features.get(tensor.name)
            if dtype is None:
                raise invalid(field, self.validator.unknown_feature)
            if tensor.name in given:
                raise invalid(field, "is given twice")
            if len(tensor.shape) == 2 and tensor.shape[1] != 1:
                raise invalid(
                    f"{field}.shape", f"is {tensor.shape}; a feature tensor is [N] or [N, 1]"
                )
            if rows is not None and tensor.shape[0] != rows:
                raise invalid(
                    f"{field}.shape",
                    f"has {tensor.shape[0]} rows, the inputs before it {rows}",
                )
            rows = tensor.shape[0]
            if dtype == "string" and tensor.datatype != "BYTES":
                raise invalid(
                    f"{field}.datatype",
                    f"is a string feature: send it as BYTES, not {tensor.datatype}",
                )
            if dtype != "string" and tensor.datatype not in _NUMERIC_TYPES:
                raise invalid(
                    f"{field}.datatype",
                    f"is a numeric feature: send it as FP32, FP64 or INT*, not {tensor.datatype}",
                )
            given[tensor.name] = tensor, flat
        missing = [name for name in self.features if name not in given]
        if missing:  # the words of a missing feature of an instance, and V2's layouts
            hint = "send one tensor per feature, or one 2-D tensor of all features"
            raise invalid_fields(
                [
                    {
                        "field": f"inputs.{name}",
                        "message": f"{REQUIRED} (missing input: {name}; {hint})",
                    }
                    for name in missing
                ]
            )
        check_row_count(rows or 0, self.max_instances, "inputs")
        ordered = [given[name] for name in self.features]
        wire = [_WIRE_TYPES.get(tensor.datatype) for tensor, _ in ordered]
        names = list(self.features)
        return self.validator.validate(
            [flat for _, flat in ordered],
            lambda index, row: f"inputs.{names[index]}.data[{row}]",
            wire,
        ), rows or 0

    def _outputs(self, request: InferenceRequest) -> tuple[str, ...]:
        if request.outputs is None:
            return self.output_names
        names = tuple(dict.fromkeys(output.name for output in request.outputs))
        if PROBA_OUTPUT in names and not self.has_probabilities:
            raise invalid(
                "outputs",
                f"names {PROBA_OUTPUT!r}, but model {self.name!r} gives no probabilities; its "
                f"only output is {PREDICT_OUTPUT!r}",
            )
        return names

    def encode(self, prediction: Prediction, request: V2Request) -> bytes:
        """The inference response body for ``prediction``."""
        outputs: list[dict[str, Any]] = []
        for name in request.outputs:
            if name == PREDICT_OUTPUT and prediction.values is not None:  # a regressor
                outputs.append(
                    {
                        "name": PREDICT_OUTPUT,
                        "shape": [request.rows],
                        "datatype": "FP64",
                        "data": prediction.values,
                    }
                )
            elif name == PREDICT_OUTPUT:
                outputs.append(
                    {
                        "name": PREDICT_OUTPUT,
                        "shape": [request.rows],
                        "datatype": "BYTES",
                        "data": prediction.labels,
                    }
                )
            elif prediction.probabilities is not None:
                outputs.append(
                    {
                        "name": PROBA_OUTPUT,
                        "shape": list(prediction.probabilities.shape),
                        "datatype": "FP64",
                        "data": prediction.probabilities.ravel(),
                    }
                )
        response: dict[str, Any] = {"model_name": self.name, "model_version": self.version}
        if request.id is not None:
            response["id"] = request.id
        response["parameters"] = {**(request.parameters or {}), **self.lineage}
        response["outputs"] = outputs
        return orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)

    def wants_probabilities(self, request: V2Request) -> bool:
        return PROBA_OUTPUT in request.outputs


def model_metadata(model: ServedModel, entry: ModelEntry) -> dict[str, Any]:
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
            "datatype": "BYTES" if feature.dtype == "string" else "FP64",
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
