"""Tensor datatypes and data: how values of each datatype are read (JSON, flat or nested, or the
binary tensor extension) and which range each holds. The datatype a feature is listed and sent
as is the feature's own (:attr:`~pipeserve.bundle.manifest.FeatureSpec.v2_datatype`)."""

from __future__ import annotations

import struct
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeserve.errors import MalformedRequestError
from pipeserve.protocols.columns import WireType, invalid
from pipeserve.protocols.v2.wire import RequestInput

# Little-endian numpy types of the binary tensor extension.
BINARY_DTYPES: dict[str, str] = {
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
INTEGER_TYPES = {name for name in BINARY_DTYPES if "INT" in name}
NUMERIC_TYPES = INTEGER_TYPES | {"FP16", "FP32", "FP64"}

# FP64 holds every JSON number (orjson refuses the rest), so it needs no range check.
WIRE_TYPES: dict[str, WireType | None] = {
    name: WireType.of(name, BINARY_DTYPES[name]) if name != "FP64" else None
    for name in sorted(NUMERIC_TYPES)
}


def flat_values(tensor: RequestInput, field: str) -> list[Any]:
    """The tensor's values, row-major. A [N] tensor's data is flat (an array in it is a value
    of the wrong type); a [N, M] tensor's is flat, or nested as N rows of M values."""
    data = tensor.data or []
    if not data or type(data[0]) is not list or len(tensor.shape) != 2:
        return data
    rows, width = tensor.shape
    if len(data) == rows and set(map(type, data)) == {list} and set(map(len, data)) == {width}:
        return list(chain.from_iterable(data))
    raise invalid(
        f"{field}.data",
        f"must be flat ({rows * width} values) or nested as {rows} rows of {width} values, "
        f"as the shape {tensor.shape} says",
    )


def split_binary(body: bytes, header_length: int) -> tuple[bytes, bytes]:
    if header_length < 0 or header_length > len(body):
        raise MalformedRequestError(
            f"Inference-Header-Content-Length is {header_length} but the body has {len(body)} bytes"
        )
    return body[:header_length], body[header_length:]


def decode_binary(chunk: bytes, tensor: RequestInput, field: str) -> list[Any] | NDArray[Any]:
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
    dtype = np.dtype(BINARY_DTYPES[tensor.datatype])
    if len(chunk) % dtype.itemsize:
        raise MalformedRequestError(
            f"input {tensor.name!r}: {len(chunk)} bytes are not a whole number of "
            f"{tensor.datatype} values"
        )
    return np.frombuffer(chunk, dtype=dtype)
