"""The friendly codec: bytes in, validated rows out; predictions in, documents out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from pipeserve.errors import InvalidInputError, MalformedRequestError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ServedModel, load_entry
from pipeserve.inference.store import BundleLocation
from pipeserve.protocols.friendly import FriendlyCodec, describe, summarize


@pytest.fixture
def codec(bundle_dir: Path) -> FriendlyCodec:
    return FriendlyCodec(load_entry(BundleLocation(bundle_dir, "iris", None)), max_instances=3)


def test_decodes_rows_in_feature_terms(codec: FriendlyCodec) -> None:
    body = (
        b'{"instances": [{"sepal_length": 1, "sepal_width": 2.5, "petal_length": 3, '
        b'"petal_width": 4}]}'
    )

    request = codec.decode(body)

    assert request.rows == 1
    assert {name: column.tolist() for name, column in request.columns.items()} == {
        "sepal_length": [1.0],
        "sepal_width": [2.5],
        "petal_length": [3.0],
        "petal_width": [4.0],
    }
    assert request.probabilities is True


def test_malformed_and_invalid_bodies_raise_typed_errors(codec: FriendlyCodec) -> None:
    with pytest.raises(MalformedRequestError):
        codec.decode(b"{")
    with pytest.raises(InvalidInputError) as raised:
        codec.decode(b'{"instances": [{}, {}, {}, {}]}')
    assert raised.value.details["errors"] == [
        {
            "field": "instances",
            "message": "has too many rows: at most 3 per request (PIPESERVE_MAX_INSTANCES); "
            "split the batch",
        }
    ]


def test_encodes_probabilities_by_class_name(codec: FriendlyCodec) -> None:
    prediction = Prediction(["versicolor"], np.array([[0.1, 0.7, 0.2]]))

    document = orjson.loads(codec.encode(prediction))

    assert document == {
        "model": {"name": "iris", "version": "7"},
        "predictions": [
            {
                "label": "versicolor",
                "probabilities": {"setosa": 0.1, "versicolor": 0.7, "virginica": 0.2},
            }
        ],
    }


def test_a_failed_model_is_described_without_its_missing_manifest(tmp_path: Path) -> None:
    entry = load_entry(BundleLocation(tmp_path, "broken", None))
    model = ServedModel("broken", (entry,))

    assert describe(model, entry) == summarize(model)
    assert summarize(model)["ready"] is False
    with pytest.raises(ValueError, match="not ready"):
        FriendlyCodec(entry, max_instances=3)


def test_warnings_join_the_items_of_their_rows_only(codec: FriendlyCodec) -> None:
    probabilities = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    prediction = Prediction(
        ["versicolor", "setosa", "setosa"],
        probabilities,
        warnings={1: ['petal_width: 9 is outside the training range [0.1, 2.5], "x"']},
    )

    document = orjson.loads(codec.encode(prediction))

    assert [item.get("warnings") for item in document["predictions"]] == [
        None,
        ['petal_width: 9 is outside the training range [0.1, 2.5], "x"'],
        None,
    ]
    assert document["predictions"][1]["probabilities"] == {
        "setosa": 0.5,
        "versicolor": 0.25,
        "virginica": 0.25,
    }


def test_labels_alone_and_a_regressor_s_values(codec: FriendlyCodec) -> None:
    labels_only = orjson.loads(codec.encode(Prediction(["setosa", "virginica"], None)))
    values = Prediction([], None, values=np.array([1.5, -2.0, np.nan]), warnings={2: ["w"]})
    regression = orjson.loads(codec.encode(values))
    nothing = orjson.loads(codec.encode(Prediction([], None, values=np.array([]))))

    assert labels_only["predictions"] == [{"label": "setosa"}, {"label": "virginica"}]
    assert regression["predictions"] == [
        {"value": 1.5},
        {"value": -2.0},
        {"value": None, "warnings": ["w"]},
    ]
    assert nothing["predictions"] == []
