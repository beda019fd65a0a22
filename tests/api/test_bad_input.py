"""One table of bad inputs, sent through the friendly API, KServe V1 and V2: each case gets the
same field-level message on every protocol (only the location is in that protocol's terms), and
the same status (422 on the friendly API is the standard protocols' 400, as documented)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.settings import Settings
from tests.conftest import FEATURES

IRIS = dict(zip(FEATURES, [5.1, 3.5, 1.4, 0.2], strict=True))
COLOURS = {"colour": "red", "size": 2.5}
MODELS = {"iris": IRIS, "colours": COLOURS}
STRING_FEATURES = {"colour"}
MISSING = object()  # a feature left out


@dataclass(frozen=True)
class Case:
    """One bad row: ``changes`` applied to the model's example row (``MISSING`` drops a
    feature); the expected message and the feature it names (``None``: the rows as a whole)."""

    id: str
    model: str
    changes: dict[str, Any]
    message: str
    feature: str


ROW_CASES = [
    Case(
        "string", "iris", {"sepal_length": "5.1"}, "must be a number, got a string", "sepal_length"
    ),
    Case(
        "boolean", "iris", {"sepal_width": True}, "must be a number, got a boolean", "sepal_width"
    ),
    Case("null", "iris", {"petal_length": None}, "must be a number, got null", "petal_length"),
    Case("list", "iris", {"petal_width": [0.2]}, "must be a number, got an array", "petal_width"),
    Case(
        "object",
        "iris",
        {"sepal_length": {"v": 1}},
        "must be a number, got an object",
        "sepal_length",
    ),
    Case("empty string", "colours", {"colour": ""}, "must not be empty", "colour"),
    Case(
        "string too long",
        "colours",
        {"colour": "x" * 1001},
        "is too long: at most 1000 characters (PIPESERVE_MAX_STRING_LENGTH)",
        "colour",
    ),
    Case(
        "number for a string",
        "colours",
        {"colour": 7},
        "must be a string, got an integer",
        "colour",
    ),
    Case(
        "boolean for a string",
        "colours",
        {"colour": False},
        "must be a string, got a boolean",
        "colour",
    ),
    Case("missing feature", "iris", {"petal_width": MISSING}, "is required", "petal_width"),
    Case(
        "extra feature",
        "iris",
        {"colour": "blue"},
        "is not a feature of this model (expected only: " + ", ".join(FEATURES) + ")",
        "colour",
    ),
]


def _row(case: Case) -> dict[str, Any]:
    row = {**MODELS[case.model], **case.changes}
    return {name: value for name, value in row.items() if value is not MISSING}


def _friendly(client: FlaskClient, model: str, rows: list[dict[str, Any]]) -> Any:
    return client.post(f"/api/v1/models/{model}/predict", json={"instances": rows})


def _v1(client: FlaskClient, model: str, rows: list[dict[str, Any]]) -> Any:
    # Rows that hold exactly the features go as arrays in feature order (V1's other layout).
    order = list(MODELS[model])
    instances = [[row[n] for n in order] if list(row) == order else row for row in rows]
    return client.post(f"/v1/models/{model}:predict", json={"instances": instances})


def _v2(client: FlaskClient, model: str, rows: list[dict[str, Any]]) -> Any:
    names = list(dict.fromkeys(name for row in rows for name in row))
    inputs = [
        {
            "name": name,
            "shape": [len(rows)],
            "datatype": "BYTES" if name in STRING_FEATURES else "FP64",
            "data": [row[name] for row in rows],
        }
        for name in names
    ]
    return client.post(f"/v2/models/{model}/infer", json={"inputs": inputs})


def _field(protocol: str, feature: str) -> str:
    if protocol == "v2":
        return f"inputs.{feature}.data[0]"
    return f"instances[0].{feature}"


def _fields(protocol: str, response: Any) -> list[dict[str, str]]:
    """The field-level errors: the problem's ``errors``, or the standard protocols' one-line
    ``{"error": "<field> <message>"}`` split back into field and message."""
    body = response.get_json()
    if protocol == "friendly":
        assert response.mimetype == "application/problem+json"
        return [{"field": e["field"], "message": e["message"]} for e in body["errors"]]
    assert set(body) == {"error"}
    field, _, message = body["error"].partition(" ")
    return [{"field": field, "message": message}]


SEND: dict[str, Callable[[FlaskClient, str, list[dict[str, Any]]], Any]] = {
    "friendly": _friendly,
    "v1": _v1,
    "v2": _v2,
}
STATUS = {"friendly": 422, "v1": 400, "v2": 400}


@pytest.mark.parametrize("protocol", SEND)
@pytest.mark.parametrize("case", ROW_CASES, ids=lambda case: case.id)
def test_a_bad_value_gets_the_same_message_on_every_protocol(
    multi_client: FlaskClient, case: Case, protocol: str
) -> None:
    response = SEND[protocol](multi_client, case.model, [_row(case)])

    assert response.status_code == STATUS[protocol], response.get_data(as_text=True)
    (error,) = _fields(protocol, response)
    if case.id == "missing feature" and protocol == "v2":  # a whole tensor is missing
        assert error["field"] == "inputs.petal_width"
        assert error["message"].startswith(f"{case.message} (missing input: petal_width;")
    elif case.id == "extra feature" and protocol == "v2":  # a whole tensor is extra
        assert error == {"field": "inputs.colour", "message": case.message}
    else:
        assert error == {"field": _field(protocol, case.feature), "message": case.message}


@pytest.fixture
def sklearn_client(model_dir: Path) -> FlaskClient:
    """The iris model on its scikit-learn path, whose arithmetic overflow is detected."""
    settings = Settings(model_dir=model_dir, log_level="WARNING", inference_path="sklearn")
    return create_app(settings).test_client()


@pytest.mark.parametrize("protocol", SEND)
def test_values_that_overflow_the_model_name_the_rows_in_each_protocol(
    sklearn_client: FlaskClient, protocol: str
) -> None:
    response = SEND[protocol](sklearn_client, "iris", [dict.fromkeys(FEATURES, 1e300)])

    assert response.status_code == STATUS[protocol]
    (error,) = _fields(protocol, response)
    assert error["field"] == ("inputs" if protocol == "v2" else "instances")
    assert error["message"].startswith("hold numbers too large for this model to compute with")


def test_the_offending_row_is_located_among_many(multi_client: FlaskClient) -> None:
    rows = [dict(IRIS) for _ in range(10)]
    rows[7]["sepal_length"] = "5.1"

    expected = "must be a number, got a string"
    assert _fields("friendly", _friendly(multi_client, "iris", rows)) == [
        {"field": "instances[7].sepal_length", "message": expected}
    ]
    assert _fields("v1", _v1(multi_client, "iris", rows)) == [
        {"field": "instances[7].sepal_length", "message": expected}
    ]
    assert _fields("v2", _v2(multi_client, "iris", rows)) == [
        {"field": "inputs.sepal_length.data[7]", "message": expected}
    ]
    matrix = [list(row.values()) for row in rows]
    response = multi_client.post(
        "/v2/models/iris/infer",
        json={"inputs": [{"name": "x", "shape": [10, 4], "datatype": "FP64", "data": matrix}]},
    )
    assert response.get_json() == {"error": f"inputs.x.data[7][0] {expected}"}


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ([], ("instances", "inputs"), "must be a non-empty array (at least 1 item): no rows"),
        (
            [IRIS] * 11,
            ("instances", "inputs"),
            "has too many rows: at most 10 per request (PIPESERVE_MAX_INSTANCES); split the batch",
        ),
    ],
    ids=["no rows", "too many rows"],
)
@pytest.mark.parametrize("protocol", SEND)
def test_row_limits_are_the_same_on_every_protocol(
    multi_client: FlaskClient,
    protocol: str,
    rows: list[dict[str, Any]],
    field: tuple[str, str],
    message: str,
) -> None:
    if protocol == "v2" and not rows:  # V2 says "no rows" with a shape, not an empty list
        response = multi_client.post(
            "/v2/models/iris/infer",
            json={"inputs": [{"name": "x", "shape": [0, 4], "datatype": "FP64", "data": []}]},
        )
    else:
        response = SEND[protocol](multi_client, "iris", rows)

    assert response.status_code == STATUS[protocol]
    (error,) = _fields(protocol, response)
    assert error["field"] == field[protocol == "v2"]
    assert error["message"].startswith(message)


URLS = {
    "friendly": "/api/v1/models/iris/predict",
    "v1": "/v1/models/iris:predict",
    "v2": "/v2/models/iris/infer",
}


def _error_text(protocol: str, response: Any) -> str:
    body = response.get_json()
    return str(body["detail"] if protocol == "friendly" else body["error"])


@pytest.mark.parametrize("protocol", SEND)
@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("NaN", "NaN and Infinity are not JSON numbers"),
        ("Infinity", "NaN and Infinity are not JSON numbers"),
        ("-Infinity", "NaN and Infinity are not JSON numbers"),
        ("1e999", "a number overflows a double"),
    ],
)
def test_non_finite_numbers_are_malformed_json_on_every_protocol(
    multi_client: FlaskClient, protocol: str, literal: str, message: str
) -> None:
    if protocol == "v2":
        body = (
            '{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", '
            f'"data": [1.0, {literal}, 1.0, 1.0]}}]}}'
        )
    elif protocol == "v1":
        body = f'{{"instances": [[1.0, {literal}, 1.0, 1.0]]}}'
    else:
        features = ", ".join(f'"{n}": {literal if n == "sepal_width" else 1.0}' for n in FEATURES)
        body = f'{{"instances": [{{{features}}}]}}'

    response = multi_client.post(URLS[protocol], data=body, content_type="application/json")

    assert response.status_code == 400
    assert message in _error_text(protocol, response)


@pytest.mark.parametrize("protocol", SEND)
@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{", "application/json", 400, "not valid JSON"),
        (b'{"instances": [], "inputs": [], "a": 1, "a": 2}', "application/json", 400, "twice"),
        (b"[]", "application/json", 422, "(body) must be a JSON object, got an array"),
        (b"{}", "text/plain", 415, "must be JSON"),
        (b'{"pad": "' + b"x" * 5000 + b'"}', "application/json", 413, "larger than the limit"),
    ],
    ids=["not JSON", "duplicate key", "not an object", "not declared JSON", "too large"],
)
def test_bodies_that_are_not_requests_get_the_same_status_on_every_protocol(  # noqa: PLR0917
    multi_client: FlaskClient,
    protocol: str,
    body: bytes,
    content_type: str,
    status: int,
    message: str,
) -> None:
    response = multi_client.post(URLS[protocol], data=body, content_type=content_type)

    assert response.status_code == (STATUS[protocol] if status == 422 else status)
    assert message in _error_text(protocol, response)


# --- what only V2 can say: typed tensors, binary data -----------------------------------------


def _tensor(datatype: str, data: list[Any]) -> dict[str, Any]:
    return {"name": "x", "shape": [1, 4], "datatype": datatype, "data": data}


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        ("INT8", [1, 2, 1000, 4], "does not fit INT8 (-128 to 127), got 1000"),
        ("UINT8", [1, 2, -1, 4], "does not fit UINT8 (0 to 255), got -1"),
        ("INT32", [1, 2, 3.5, 4], "must be an integer: the tensor is INT32, got 3.5"),
        ("FP32", [1, 2, 1e300, 4], "does not fit FP32"),
    ],
)
def test_a_tensor_value_must_fit_its_datatype(
    multi_client: FlaskClient, datatype: str, data: list[Any], message: str
) -> None:
    response = multi_client.post(
        "/v2/models/iris/infer", json={"inputs": [_tensor(datatype, data)]}
    )

    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f"inputs.x.data[0][2] {message}")


def _binary(inputs: list[tuple[dict[str, Any], bytes]]) -> tuple[bytes, dict[str, str]]:
    header = orjson.dumps(
        {
            "inputs": [
                {**tensor, "parameters": {"binary_data_size": len(chunk)}}
                for tensor, chunk in inputs
            ]
        }
    )
    headers = {"Inference-Header-Content-Length": str(len(header))}
    return header + b"".join(chunk for _, chunk in inputs), headers


def test_binary_nan_is_refused_like_any_non_finite_number(multi_client: FlaskClient) -> None:
    values = np.array([5.1, np.nan, 1.4, 0.2], dtype="<f8").tobytes()
    body, headers = _binary([({"name": "x", "shape": [1, 4], "datatype": "FP64"}, values)])

    response = multi_client.post(
        "/v2/models/iris/infer", data=body, headers=headers, content_type="application/octet-stream"
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == (
        "inputs.x.data[0][1] must be a finite number (NaN and Infinity are not allowed)"
    )


def test_binary_empty_strings_are_refused_as_in_json(multi_client: FlaskClient) -> None:
    colour = struct.pack("<I", 0)  # one BYTES element of length 0
    size = np.array([2.5], dtype="<f8").tobytes()
    body, headers = _binary(
        [
            ({"name": "colour", "shape": [1], "datatype": "BYTES"}, colour),
            ({"name": "size", "shape": [1], "datatype": "FP64"}, size),
        ]
    )

    response = multi_client.post(
        "/v2/models/colours/infer",
        data=body,
        headers=headers,
        content_type="application/octet-stream",
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "inputs.colour.data[0] must not be empty"
