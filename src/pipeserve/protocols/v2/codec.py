"""Open Inference Protocol requests to columns, and predictions to responses, for one model
version (see :mod:`pipeserve.protocols.v2`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import ValidationError

from pipeserve.bundle.manifest import Manifest
from pipeserve.errors import InvalidInputError, MalformedRequestError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelVersion
from pipeserve.protocols.columns import (
    REQUIRED,
    Column,
    ColumnValidator,
    invalid,
    invalid_fields,
)
from pipeserve.protocols.jsonbody import parse_json
from pipeserve.protocols.policy import DecodedRequest, check_row_count, require_object
from pipeserve.protocols.v2.tensors import (
    NUMERIC_TYPES,
    WIRE_TYPES,
    decode_binary,
    flat_values,
    split_binary,
)
from pipeserve.protocols.v2.wire import (
    PREDICT_OUTPUT,
    PROBA_OUTPUT,
    InferenceRequest,
    Parameters,
    RequestInput,
)


@dataclass(frozen=True)
class V2Request(DecodedRequest):
    """A decoded, validated inference request: one column per feature, and the outputs asked
    for (``probabilities``: whether ``predict_proba`` is one of them)."""

    outputs: tuple[str, ...]
    id: str | None
    parameters: Parameters | None
    matrix: str | None = None
    """The name of the one 2-D tensor, when the inputs are one (else one tensor per feature)."""


class V2Codec:
    """Decode inference requests for one model version; encode its predictions."""

    rows_field = "inputs"

    def __init__(self, entry: ModelVersion, max_instances: int) -> None:
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
        self.features = {feature.name: feature for feature in entry.manifest.features}
        self.has_probabilities = entry.predictor.has_probabilities
        self.max_instances = max_instances
        self._strings = [name for name, feature in self.features.items() if feature.is_text]

    @property
    def output_names(self) -> tuple[str, ...]:
        return (PREDICT_OUTPUT, PROBA_OUTPUT) if self.has_probabilities else (PREDICT_OUTPUT,)

    def decode(self, body: bytes, binary_header_length: int | None = None) -> V2Request:
        """Raises :class:`MalformedRequestError` for a body that is not JSON and
        :class:`InvalidInputError` for one that does not fit the model."""
        header, binary = (
            split_binary(body, binary_header_length)
            if binary_header_length is not None
            else (body, b"")
        )
        request = self._envelope(header)
        values = self._values(request, binary)
        columns, rows = self._columns(request.inputs, values)
        outputs = self._outputs(request)
        matrix = request.inputs[0].name if self._is_matrix(request.inputs) else None
        return V2Request(
            columns, rows, PROBA_OUTPUT in outputs, outputs, request.id, request.parameters, matrix
        )

    def _is_matrix(self, inputs: list[RequestInput]) -> bool:
        """One 2-D tensor named like no feature: the features as its columns."""
        return (
            len(inputs) == 1 and len(inputs[0].shape) == 2 and inputs[0].name not in self.features
        )

    def locate(self, request: V2Request, feature: str, row: int) -> str:
        """Where one value of ``request`` was: ``inputs.x.data[3]``, or in the one 2-D tensor
        ``inputs.matrix.data[3][0]``."""
        if request.matrix is not None:
            return f"inputs.{request.matrix}.data[{row}][{self.validator.index[feature]}]"
        return f"inputs.{feature}.data[{row}]"

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
                values.append(decode_binary(chunk, tensor, f"inputs.{tensor.name}.data"))
                offset += size
            elif tensor.data is None:
                raise invalid(
                    f"inputs.{tensor.name}.data",
                    "is required: the input has no data (nor parameters.binary_data_size)",
                )
            else:
                values.append(flat_values(tensor, f"inputs.{tensor.name}"))
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
        if self._is_matrix(inputs):
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
        if tensor.datatype not in NUMERIC_TYPES:
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
        wire = [WIRE_TYPES[tensor.datatype]] * width
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
            feature = self.features.get(tensor.name)
            if feature is None:
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
            if feature.is_text and tensor.datatype != feature.v2_datatype:
                raise invalid(
                    f"{field}.datatype",
                    f"is a string feature: send it as {feature.v2_datatype}, not {tensor.datatype}",
                )
            if not feature.is_text and tensor.datatype not in NUMERIC_TYPES:
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
        wire = [WIRE_TYPES.get(tensor.datatype) for tensor, _ in ordered]
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
        return request.probabilities


def format_location(location: Sequence[int | str]) -> str:
    """pydantic's ``("inputs", 0, "shape")`` as ``inputs[0].shape``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(body)"
