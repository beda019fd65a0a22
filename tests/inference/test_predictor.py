"""The predictor answers exactly as the fitted pipeline does, and checks its bundle."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeserve.bundle.io import load_bundle
from pipeserve.errors import BundleError, InvalidInputError
from pipeserve.inference.predictor import Predictor
from tests.conftest import FEATURES, iris_frame


def test_labels_and_probabilities_equal_the_pipeline(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    rows = iris_frame()[FEATURES]

    exact = Predictor(bundle, "sklearn").predict_rows(rows.to_dict("records"))
    compiled = Predictor(bundle).predict_rows(rows.to_dict("records"))

    assert exact.labels == compiled.labels == list(bundle.pipeline.predict(rows))
    np.testing.assert_allclose(exact.probabilities, bundle.pipeline.predict_proba(rows))
    np.testing.assert_allclose(
        compiled.probabilities, bundle.pipeline.predict_proba(rows), rtol=0, atol=1e-6
    )


def test_the_compiled_path_needs_no_scikit_learn_pipeline_in_memory(bundle_dir: Path) -> None:
    predictor = Predictor(load_bundle(bundle_dir, with_pipeline=False))
    rows = iris_frame()[FEATURES].head(3).to_dict("records")

    assert predictor.inference_path == "onnx"
    assert predictor.predict_rows(rows).labels == ["setosa"] * 3


def test_without_a_compiled_form_the_pipeline_is_read_when_needed(bundle_dir: Path) -> None:
    predictor = Predictor(load_bundle(bundle_dir, with_pipeline=False), "sklearn")

    assert predictor.inference_path == "sklearn"
    assert predictor.predict_rows(iris_frame()[FEATURES].head(1).to_dict("records")).labels == [
        "setosa"
    ]


def test_probabilities_can_be_left_out(bundle_dir: Path) -> None:
    prediction = Predictor(load_bundle(bundle_dir)).predict_rows(
        iris_frame()[FEATURES].head(2).to_dict("records"), probabilities=False
    )

    assert prediction.probabilities is None
    assert prediction.labels == ["setosa", "setosa"]


def test_column_order_of_the_input_does_not_matter(bundle_dir: Path) -> None:
    predictor = Predictor(load_bundle(bundle_dir))
    frame = iris_frame()[FEATURES]

    shuffled = predictor.predict_frame(frame[list(reversed(FEATURES))])

    assert shuffled.labels == predictor.predict_frame(frame).labels


def test_a_manifest_that_disagrees_with_the_pipeline_is_refused(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    wrong_classes = bundle.manifest.model_copy(update={"classes": ["a", "b", "c"]})
    wrong_features = bundle.manifest.model_copy(
        update={"features": list(reversed(bundle.manifest.features))}
    )

    with pytest.raises(BundleError, match="classes"):
        Predictor(replace(bundle, manifest=wrong_classes))
    with pytest.raises(BundleError, match="fitted on features"):
        Predictor(replace(bundle, manifest=wrong_features))


def test_values_that_overflow_the_pipeline_are_invalid_input(bundle_dir: Path) -> None:
    predictor = Predictor(load_bundle(bundle_dir), path="sklearn")
    huge = dict.fromkeys(FEATURES, 1e300)

    with pytest.raises(InvalidInputError, match="too large") as raised:
        predictor.predict_rows([huge], probabilities=False)

    # The core names no wire field; each protocol adds its own (tests/api).
    assert "field" not in raised.value.details["errors"][0]
