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
from typing import Any, Literal

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeserve.bundle.manifest import Manifest
from pipeserve.errors import InvalidInputError, MalformedRequestError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelEntry, ServedModel
from pipeserve.inference.schema import MAX_STRING_LENGTH, format_location
from pipeserve.protocols.jsonbody import parse_json

PROTOCOL_VERSION = "2"
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


class V2Error(_Wire):
    error: str = Field(description="What is wrong with the request.")


# --- codec ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class V2Request:
    """A decoded, validated inference request: one column per feature."""

    columns: dict[str, NDArray[Any] | list[Any]]
    rows: int
    outputs: tuple[str, ...]
    id: str | None
    parameters: Parameters | None


def _invalid(message: str, field: str = "(body)") -> InvalidInputError:
    return InvalidInputError(message, errors=[{"field": field, "message": message}])


def _flatten(data: list[Any]) -> list[Any]:
    if not data or not isinstance(data[0], list):
        return data
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


def _numbers(values: list[Any], tensor: RequestInput) -> NDArray[Any]:
    integer = tensor.datatype in _INTEGER_TYPES
    for index, value in enumerate(values):
        # bool is an int in Python; JSON true is not a number.
        if type(value) is float:
            if integer and not value.is_integer():
                raise _invalid(
                    f"input {tensor.name!r} is {tensor.datatype} but element {index} is {value}",
                    f"inputs.{tensor.name}.data[{index}]",
                )
            if not math.isfinite(value):  # the envelope parser lets NaN/Infinity literals in
                raise _invalid(f"input {tensor.name!r} element {index} is not finite")
        elif type(value) is not int:
            raise _invalid(
                f"input {tensor.name!r} is {tensor.datatype}, so its data must be numbers; "
                f"element {index} is {_json_kind(value)}",
                f"inputs.{tensor.name}.data[{index}]",
            )
    return np.asarray(values, dtype=np.float64)


def _strings(values: list[Any], tensor: RequestInput, max_length: int) -> list[str]:
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise _invalid(
                f"input {tensor.name!r} is BYTES, so its data must be strings; element {index} "
                f"is {_json_kind(value)}",
                f"inputs.{tensor.name}.data[{index}]",
            )
        if len(value) > max_length:
            raise _invalid(
                f"input {tensor.name!r} element {index} is too long: at most {max_length} "
                "characters (PIPESERVE_MAX_STRING_LENGTH)",
                f"inputs.{tensor.name}.data[{index}]",
            )
    return values


def _json_kind(value: Any) -> str:
    return {
        bool: "a boolean",
        str: "a string",
        type(None): "null",
        dict: "an object",
        list: "an array",
    }.get(type(value), "a number")


def _split_binary(body: bytes, header_length: int) -> tuple[bytes, bytes]:
    if header_length < 0 or header_length > len(body):
        raise MalformedRequestError(
            f"Inference-Header-Content-Length is {header_length} but the body has {len(body)} bytes"
        )
    return body[:header_length], body[header_length:]


def _decode_binary(chunk: bytes, tensor: RequestInput) -> list[Any]:
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
                raise _invalid(f"input {tensor.name!r} holds bytes that are not UTF-8") from error
            offset += length
        return values
    dtype = np.dtype(_BINARY_DTYPES[tensor.datatype])
    if len(chunk) % dtype.itemsize:
        raise MalformedRequestError(
            f"input {tensor.name!r}: {len(chunk)} bytes are not a whole number of "
            f"{tensor.datatype} values"
        )
    array = np.frombuffer(chunk, dtype=dtype)
    if tensor.datatype.startswith("FP") and not np.isfinite(array).all():
        raise _invalid(f"input {tensor.name!r} holds NaN or infinite values")
    return list(array.tolist())


class V2Codec:
    """Decode inference requests for one model version; encode its predictions."""

    def __init__(self, entry: ModelEntry, max_instances: int) -> None:
        if entry.manifest is None or entry.predictor is None:
            raise ValueError(f"model {entry.label!r} is not ready; it has no input schema")
        self.name = entry.name
        self.version = entry.version
        # Lineage in every response's parameters, as the X-Model-* headers carry it.
        self.lineage: Parameters = {"model_version": entry.version or ""}
        if entry.digest:
            self.lineage["model_digest"] = entry.digest
        self.manifest: Manifest = entry.manifest
        self.features = {feature.name: feature.dtype for feature in entry.manifest.features}
        self.has_probabilities = entry.predictor.has_probabilities
        self.max_instances = max_instances
        self.max_string_length = (
            entry.validator.max_string_length if entry.validator else MAX_STRING_LENGTH
        )

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
        if rows == 0:
            raise _invalid("the inputs have no rows", "inputs")
        if rows > self.max_instances:
            raise _invalid(
                f"the request has {rows} rows; at most {self.max_instances} per request "
                "(PIPESERVE_MAX_INSTANCES): split the batch"
            )
        return V2Request(columns, rows, self._outputs(request), request.id, request.parameters)

    @staticmethod
    def _envelope(header: bytes) -> InferenceRequest:
        document = parse_json(header)
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
    def _values(request: InferenceRequest, binary: bytes) -> list[list[Any]]:
        values: list[list[Any]] = []
        offset = 0
        for tensor in request.inputs:
            size = (tensor.parameters or {}).get("binary_data_size")
            if size is not None:
                if type(size) is not int or size < 0 or offset + size > len(binary):
                    raise MalformedRequestError(
                        f"input {tensor.name!r}: binary_data_size {size!r} does not fit the "
                        f"{len(binary)} bytes after the JSON header"
                    )
                values.append(_decode_binary(binary[offset : offset + size], tensor))
                offset += size
            elif tensor.data is None:
                raise _invalid(f"input {tensor.name!r} has no data", f"inputs.{tensor.name}.data")
            else:
                values.append(_flatten(tensor.data))
        if offset != len(binary):
            raise MalformedRequestError(
                f"{len(binary) - offset} bytes after the JSON header belong to no input"
            )
        return values

    def _columns(
        self, inputs: list[RequestInput], values: list[list[Any]]
    ) -> tuple[dict[str, NDArray[Any] | list[Any]], int]:
        for tensor, flat in zip(inputs, values, strict=True):
            expected = math.prod(tensor.shape)
            if any(dim < 0 for dim in tensor.shape) or expected != len(flat):
                raise _invalid(
                    f"input {tensor.name!r} has shape {tensor.shape} but {len(flat)} values",
                    f"inputs.{tensor.name}.shape",
                )
        names = [tensor.name for tensor in inputs]
        if len(inputs) == 1 and len(inputs[0].shape) == 2 and names[0] not in self.features:
            return self._matrix(inputs[0], values[0])
        return self._named(inputs, values)

    def _matrix(
        self, tensor: RequestInput, values: list[Any]
    ) -> tuple[dict[str, NDArray[Any] | list[Any]], int]:
        rows, width = tensor.shape
        if width != len(self.features):
            raise _invalid(
                f"input {tensor.name!r} has {width} columns; this model takes "
                f"{len(self.features)} in this order: {', '.join(self.features)}",
                f"inputs.{tensor.name}.shape",
            )
        strings = [name for name, dtype in self.features.items() if dtype == "string"]
        if strings:
            raise _invalid(
                f"this model has string features ({', '.join(strings)}): send one tensor per "
                "feature, named like the feature, instead of one 2-D tensor",
                f"inputs.{tensor.name}",
            )
        if tensor.datatype not in _NUMERIC_TYPES:
            raise _invalid(
                f"input {tensor.name!r} is {tensor.datatype}; this model's features are numbers "
                "(FP32, FP64 or INT*)",
                f"inputs.{tensor.name}.datatype",
            )
        matrix = _numbers(values, tensor).reshape(rows, width)
        return {name: matrix[:, column] for column, name in enumerate(self.features)}, rows

    def _named(
        self, inputs: list[RequestInput], values: list[list[Any]]
    ) -> tuple[dict[str, NDArray[Any] | list[Any]], int]:
        columns: dict[str, NDArray[Any] | list[Any]] = {}
        rows: int | None = None
        for tensor, flat in zip(inputs, values, strict=True):
            field = f"inputs.{tensor.name}"
            dtype = self.features.get(tensor.name)
            if dtype is None:
                raise _invalid(
                    f"input {tensor.name!r} is not a feature of model {self.name!r} (expected "
                    f"one tensor per feature: {', '.join(self.features)}, or one 2-D tensor)",
                    field,
                )
            if tensor.name in columns:
                raise _invalid(f"input {tensor.name!r} is given twice", field)
            if len(tensor.shape) == 2 and tensor.shape[1] != 1:
                raise _invalid(
                    f"input {tensor.name!r} has shape {tensor.shape}; a feature tensor is [N] "
                    "or [N, 1]",
                    f"{field}.shape",
                )
            if rows is not None and tensor.shape[0] != rows:
                raise _invalid(
                    f"input {tensor.name!r} has {tensor.shape[0]} rows, the inputs before it "
                    f"{rows}",
                    f"{field}.shape",
                )
            rows = tensor.shape[0]
            if dtype == "string":
                if tensor.datatype != "BYTES":
                    raise _invalid(
                        f"input {tensor.name!r} is a string feature: send it as BYTES, "
                        f"not {tensor.datatype}",
                        f"{field}.datatype",
                    )
                columns[tensor.name] = _strings(flat, tensor, self.max_string_length)
            else:
                if tensor.datatype not in _NUMERIC_TYPES:
                    raise _invalid(
                        f"input {tensor.name!r} is a numeric feature: send it as FP32, FP64 or "
                        f"INT*, not {tensor.datatype}",
                        f"{field}.datatype",
                    )
                columns[tensor.name] = _numbers(flat, tensor)
        missing = [name for name in self.features if name not in columns]
        if missing:
            raise _invalid(
                f"missing input{'s' if len(missing) > 1 else ''}: {', '.join(missing)} (one "
                "tensor per feature, or one 2-D tensor of all features)",
                f"inputs.{missing[0]}",
            )
        return columns, rows or 0

    def _outputs(self, request: InferenceRequest) -> tuple[str, ...]:
        if request.outputs is None:
            return self.output_names
        names = tuple(dict.fromkeys(output.name for output in request.outputs))
        if PROBA_OUTPUT in names and not self.has_probabilities:
            raise _invalid(
                f"model {self.name!r} gives no probabilities; its only output is "
                f"{PREDICT_OUTPUT!r}",
                "outputs",
            )
        return names

    def encode(self, prediction: Prediction, request: V2Request) -> dict[str, Any]:
        """The inference response for ``prediction``."""
        outputs: list[dict[str, Any]] = []
        for name in request.outputs:
            if name == PREDICT_OUTPUT:
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
        return response

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
    document["outputs"] = [{"name": PREDICT_OUTPUT, "datatype": "BYTES", "shape": [-1]}]
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
