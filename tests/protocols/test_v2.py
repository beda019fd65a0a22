"""Open Inference Protocol codec: both tensor layouts, binary data, outputs, precise errors."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from pipeserve.errors import InvalidInputError, MalformedRequestError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelVersion, ServedModel, load_entry
from pipeserve.inference.store import BundleLocation
from pipeserve.protocols.v2 import V2Codec, model_metadata
from tests.conftest import FEATURES


@pytest.fixture
def iris(bundle_dir: Path) -> ModelVersion:
    return load_entry(BundleLocation(bundle_dir, "iris", None))


@pytest.fixture
def colours(colour_bundle: Path) -> ModelVersion:
    return load_entry(BundleLocation(colour_bundle, "colours", None))


def _tensor(name: str, datatype: str, shape: list[int], data: list[Any]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def _decode(entry: ModelVersion, document: dict[str, Any], max_instances: int = 5) -> Any:
    return V2Codec(entry, max_instances).decode(orjson.dumps(document))


def test_one_2d_tensor_is_split_into_feature_columns(iris: ModelVersion) -> None:
    request = _decode(
        iris, {"inputs": [_tensor("input-0", "FP32", [2, 4], [[1, 2, 3, 4], [5, 6, 7, 8]])]}
    )

    assert request.rows == 2
    assert list(request.columns) == FEATURES
    assert request.columns["petal_length"].tolist() == [3.0, 7.0]
    assert request.outputs == ("predict", "predict_proba")


def test_one_tensor_per_feature_carries_strings_as_bytes(colours: ModelVersion) -> None:
    request = _decode(
        colours,
        {
            "id": "r1",
            "parameters": {"content_type": "pd"},
            "inputs": [
                _tensor("size", "INT64", [2, 1], [[3], [9]]),
                _tensor("colour", "BYTES", [2], ["red", "blue"]),
            ],
            "outputs": [{"name": "predict"}],
        },
    )

    assert request.columns["colour"].tolist() == ["red", "blue"]
    assert request.columns["size"].tolist() == [3.0, 9.0]
    assert (request.id, request.parameters, request.outputs) == (
        "r1",
        {"content_type": "pd"},
        ("predict",),
    )


def test_binary_tensor_data_is_read_after_the_json_header(colours: ModelVersion) -> None:
    sizes = np.array([1.5, 8.0], dtype="<f4").tobytes()
    strings = b"".join(struct.pack("<I", len(s)) + s for s in (b"green", b"r\xc3\xb6t"))
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "size",
                    "datatype": "FP32",
                    "shape": [2],
                    "parameters": {"binary_data_size": len(sizes)},
                },
                {
                    "name": "colour",
                    "datatype": "BYTES",
                    "shape": [2],
                    "parameters": {"binary_data_size": len(strings)},
                },
            ]
        }
    )

    request = V2Codec(colours, 5).decode(header + sizes + strings, len(header))

    assert request.columns["size"].tolist() == [1.5, 8.0]
    assert request.columns["colour"].tolist() == ["green", "röt"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([_tensor("x", "FP64", [1, 3], [1, 2, 3])], "has 3 columns; this model takes 4"),
        ([_tensor("x", "FP64", [2, 4], [1, 2, 3])], "has shape [2, 4] but 3 values"),
        ([_tensor("x", "BYTES", [1, 4], ["a", "b", "c", "d"])], "features are numbers"),
        (
            [_tensor("x", "FP64", [1, 4], [1, 2, "3", 4])],
            "inputs.x.data[0][2] must be a number, got a string",
        ),
        (
            [_tensor("x", "FP64", [1, 4], [1, 2, True, 4])],
            "inputs.x.data[0][2] must be a number, got a boolean",
        ),
        (
            [_tensor("x", "INT32", [1, 4], [1, 2, 3.5, 4])],
            "inputs.x.data[0][2] must be an integer: the tensor is INT32, got 3.5",
        ),
        (
            [_tensor("x", "INT8", [1, 4], [1, 2, 1000, 4])],
            "inputs.x.data[0][2] does not fit INT8 (-128 to 127), got 1000",
        ),
        (
            [_tensor("sepal_length", "FP64", [1], [1.0])],
            "inputs.sepal_width is required (missing input: sepal_width;",
        ),
        (
            [_tensor(name, "FP64", [1], [1.0]) for name in FEATURES]
            + [_tensor("colour", "BYTES", [1], ["x"])],
            "inputs.colour is not a feature of this model",
        ),
        (
            [_tensor(name, "FP64", [1], [1.0]) for name in FEATURES[:3]]
            + [_tensor("petal_width", "FP64", [2], [1.0, 2.0])],
            "has 2 rows, the inputs before it 1",
        ),
        (
            [_tensor(name, "FP64", [1, 2], [1.0, 2.0]) for name in FEATURES],
            "a feature tensor is [N] or [N, 1]",
        ),
        ([_tensor("x", "FP64", [6, 4], [1.0] * 24)], "at most 5 per request"),
        ([_tensor("x", "FP64", [0, 4], [])], "no rows"),
    ],
)
def test_tensors_that_do_not_fit_the_model_are_refused_with_the_reason(
    iris: ModelVersion, inputs: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        _decode(iris, {"inputs": inputs})

    assert message in raised.value.message


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"inputs": []}, "inputs"),
        ({"inputs": [_tensor("x", "FP128", [1, 4], [1, 2, 3, 4])]}, "inputs[0].datatype"),
        (
            {"inputs": [_tensor("x", "FP64", [1, 4], [1, 2, 3, 4])], "outputs": [{"name": "p"}]},
            "outputs[0].name",
        ),
        ({"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 4]}]}, "has no data"),
        ({"input": []}, "inputs"),
    ],
)
def test_a_malformed_envelope_names_the_field(
    iris: ModelVersion, document: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        _decode(iris, document)

    assert message in str(raised.value.details["errors"]) + raised.value.message


def test_string_features_need_bytes_tensors(colours: ModelVersion) -> None:
    with pytest.raises(InvalidInputError, match="send it as BYTES, not FP32"):
        _decode(
            colours,
            {"inputs": [_tensor("colour", "FP32", [1], [1]), _tensor("size", "FP32", [1], [1])]},
        )
    with pytest.raises(InvalidInputError, match="send one tensor per feature"):
        _decode(colours, {"inputs": [_tensor("x", "FP32", [1, 2], [1, 2])]})
    with pytest.raises(InvalidInputError, match="numeric feature: send it as FP32"):
        _decode(
            colours,
            {
                "inputs": [
                    _tensor("colour", "BYTES", [1], ["a"]),
                    _tensor("size", "BYTES", [1], ["1"]),
                ]
            },
        )


@pytest.mark.parametrize(
    ("body", "header_length", "message"),
    [
        (b"{", None, "not valid JSON"),
        (b'{"inputs": []}', 99, "Inference-Header-Content-Length is 99"),
        (
            b'{"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 4], '
            b'"parameters": {"binary_data_size": 64}}]}',
            -1,
            "does not fit",
        ),
    ],
)
def test_unreadable_bodies_are_malformed(
    iris: ModelVersion, body: bytes, header_length: int | None, message: str
) -> None:
    length = len(body) if header_length == -1 else header_length
    with pytest.raises(MalformedRequestError, match=message):
        V2Codec(iris, 5).decode(body, length)


def test_the_response_has_both_outputs_and_echoes_id_and_parameters(iris: ModelVersion) -> None:
    codec = V2Codec(iris, 5)
    request = codec.decode(
        orjson.dumps(
            {
                "id": "abc",
                "parameters": {"trace": True},
                "inputs": [_tensor("x", "FP64", [2, 4], [1.0] * 8)],
            }
        )
    )
    prediction = Prediction(["setosa", "virginica"], np.array([[0.9, 0.05, 0.05], [0, 0.1, 0.9]]))

    response = orjson.loads(codec.encode(prediction, request))

    assert response["model_name"] == "iris"
    assert response["model_version"] == "7"
    assert response["id"] == "abc"
    assert response["parameters"] == {
        "trace": True,
        "model_version": "7",
        "model_digest": iris.digest,
    }
    assert iris.digest is not None
    assert iris.digest.startswith("sha256:")
    assert response["outputs"][0] == {
        "name": "predict",
        "shape": [2],
        "datatype": "BYTES",
        "data": ["setosa", "virginica"],
    }
    assert response["outputs"][1]["shape"] == [2, 3]
    assert response["outputs"][1]["data"] == [0.9, 0.05, 0.05, 0, 0.1, 0.9]


def test_metadata_lists_one_input_per_feature_and_both_outputs(iris: ModelVersion) -> None:
    metadata = model_metadata(ServedModel("iris", (iris,)), iris)

    assert [tensor["name"] for tensor in metadata["inputs"]] == FEATURES
    assert metadata["outputs"][1] == {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]}
    assert orjson.loads(metadata["parameters"]["classes"]) == ["setosa", "versicolor", "virginica"]
    assert metadata["versions"] == ["7"]


@pytest.mark.parametrize(
    ("tensor", "field"),
    [
        (_tensor("x", "FP64", ["1", "4"], [1, 2, 3, 4]), "inputs[0].shape[0]"),  # type: ignore[list-item]
        (_tensor("x", "FP64", [1.0, 4.0], [1, 2, 3, 4]), "inputs[0].shape[0]"),  # type: ignore[list-item]
        (_tensor(1, "FP64", [1, 4], [1, 2, 3, 4]), "inputs[0].name"),  # type: ignore[arg-type]
    ],
)
def test_the_envelope_is_read_strictly(
    iris: ModelVersion, tensor: dict[str, Any], field: str
) -> None:
    """A shape is integers and a name a string, as the document says, not text that could be
    read as one."""
    with pytest.raises(InvalidInputError) as raised:
        _decode(iris, {"inputs": [tensor]})

    assert raised.value.details["errors"][0]["field"] == field


def test_nested_data_follows_the_shape(iris: ModelVersion) -> None:
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    nested = _decode(iris, {"inputs": [_tensor("x", "FP64", [2, 4], rows)]})
    flat = _decode(iris, {"inputs": [_tensor("x", "FP64", [2, 4], rows[0] + rows[1])]})
    assert nested.columns["sepal_length"].tolist() == flat.columns["sepal_length"].tolist()

    with pytest.raises(InvalidInputError, match=r"nested as 2 rows of 4 values"):
        _decode(iris, {"inputs": [_tensor("x", "FP64", [2, 4], [rows[0] + rows[1]])]})


def test_a_value_of_a_row_is_located_in_the_request_s_own_layout(iris: ModelVersion) -> None:
    codec = V2Codec(iris, 5)
    named = codec.decode(
        orjson.dumps({"inputs": [_tensor(name, "FP64", [1], [1.0]) for name in FEATURES]})
    )
    matrix = codec.decode(orjson.dumps({"inputs": [_tensor("x", "FP64", [1, 4], [1.0] * 4)]}))

    assert codec.locate(named, "petal_length", 0) == "inputs.petal_length.data[0]"
    assert codec.locate(matrix, "petal_length", 0) == "inputs.x.data[0][2]"
