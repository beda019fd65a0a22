"""The Open Inference Protocol's JSON shapes: they validate a request's envelope (strictly: a
shape of ``["1"]`` or ``[1.0]`` is not a shape) and document requests and responses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from pipeserve.protocols.policy import WireModel

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

Parameters = dict[str, str | int | float | bool]


class _Request(WireModel):
    # Strict: JSON gives each value its type, and the documented schema says exactly that type.
    model_config = ConfigDict(extra="forbid", strict=True)


class RequestInput(_Request):
    name: str = Field(description="A feature name, or any name for the one 2-D tensor.")
    shape: list[int] = Field(min_length=1, max_length=2, description="[N] or [N, n_features].")
    datatype: Datatype
    parameters: Parameters | None = None
    data: list[Any] | None = Field(
        default=None,
        description="Row-major values, flat or nested; absent only with the binary extension.",
    )


class RequestOutput(_Request):
    name: Literal["predict", "predict_proba"]
    parameters: Parameters | None = None


class InferenceRequest(_Request):
    id: str | None = Field(default=None, description="Echoed in the response.")
    parameters: Parameters | None = Field(default=None, description="Echoed in the response.")
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = Field(
        default=None, description="Which outputs to return; default: all of them."
    )


class ResponseOutput(WireModel):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: Parameters | None = None
    data: list[Any]


class InferenceResponse(WireModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(WireModel):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1 is a dimension of any size.")
    parameters: Parameters | None = None


class ModelMetadataResponse(WireModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: Parameters | None = None


class ServerMetadataResponse(WireModel):
    name: str
    version: str
    extensions: list[str]


class ServerLive(WireModel):
    live: bool


class Readiness(WireModel):
    name: str | None = Field(default=None, description="The model, for a model's readiness.")
    ready: bool
