"""KServe V1 codec: instances as objects or feature-ordered arrays; errors name the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from pipeserve.errors import InvalidInputError, MalformedRequestError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import load_entry
from pipeserve.inference.store import BundleLocation
from pipeserve.protocols.v1 import V1Codec


@pytest.fixture
def codec(colour_bundle: Path) -> V1Codec:
    return V1Codec(load_entry(BundleLocation(colour_bundle, "colours", None)), max_instances=3)


def _body(document: object) -> bytes:
    return orjson.dumps(document)


def test_objects_and_arrays_in_feature_order_decode_to_the_same_rows(codec: V1Codec) -> None:
    request = codec.decode(_body({"instances": [{"colour": "red", "size": 1.5}, ["red", 1.5]]}))

    assert request.rows == 2
    assert request.columns["colour"].tolist() == ["red", "red"]
    assert request.columns["size"].tolist() == [1.5, 1.5]
    assert request.probabilities is False


def test_probabilities_are_asked_for_in_parameters(codec: V1Codec) -> None:
    request = codec.decode(
        _body({"instances": [["red", 1]], "parameters": {"probabilities": True}})
    )

    assert request.probabilities is True


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ({"instances": []}, "instances", "non-empty array"),
        ({}, "instances", "is required"),
        ({"instances": [["red", 1]], "inputs": {}}, "inputs", "not a field"),
        ({"instances": [["red", 1]] * 4}, "instances", "at most 3"),
        ({"instances": [["red"]]}, "instances[0]", "expected 2 in this order: colour, size"),
        ({"instances": [{"colour": 1, "size": 1}]}, "instances[0].colour", "must be a string"),
        ({"instances": [{"colour": "red"}]}, "instances[0].size", "is required"),
        ({"instances": ["red"]}, "instances[0]", "must be an object of named features"),
        ({"instances": [["red", 1]], "parameters": []}, "parameters", "must be an object"),
        (
            {"instances": [["red", 1]], "parameters": {"probabilities": "yes"}},
            "parameters.probabilities",
            "true or false",
        ),
        (
            {"instances": [["red", 1]], "parameters": {"top_k": 1}},
            "parameters.top_k",
            "not supported",
        ),
        ([1, 2], "(body)", "must be a JSON object"),
    ],
)
def test_bad_requests_name_the_field(
    codec: V1Codec, document: object, field: str, message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        codec.decode(_body(document))

    assert raised.value.details["errors"][0]["field"] == field
    assert message in raised.value.message


@pytest.mark.parametrize("body", [b"{", b'{"instances": [[NaN, 1]]}', b"\xff"])
def test_a_body_that_is_not_json_is_malformed(codec: V1Codec, body: bytes) -> None:
    with pytest.raises(MalformedRequestError, match="not valid JSON"):
        codec.decode(body)


def test_predictions_are_labels_with_probabilities_by_class_when_asked(codec: V1Codec) -> None:
    prediction = Prediction(["yes"], np.array([[0.25, 0.75]]))

    assert orjson.loads(codec.encode(prediction)) == {
        "predictions": ["yes"],
        "probabilities": [{"no": 0.25, "yes": 0.75}],
    }
    assert orjson.loads(codec.encode(Prediction(["no"], None))) == {"predictions": ["no"]}
