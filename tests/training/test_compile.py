"""The compiled (ONNX) fast path is built only when it answers like scikit-learn, and says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from iris_example.pipeline import build
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from pipeserve.bundle.io import load_bundle
from pipeserve.errors import BundleError
from pipeserve.inference.predictor import Predictor
from pipeserve.training.compile import TOLERANCE, compile_pipeline
from tests.conftest import FEATURES, PRODUCTS, build_bundle, iris_frame


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    frame = iris_frame()
    return frame[FEATURES], frame["species"]


@pytest.mark.parametrize("estimator", ["svm", "decision_tree", "mlp"])
def test_every_iris_estimator_compiles_and_matches_scikit_learn(
    iris: tuple[pd.DataFrame, pd.Series], estimator: str
) -> None:
    features, labels = iris
    pipeline = build({"estimator": estimator, "products": PRODUCTS})
    pipeline.fit(features, labels)

    compiled = compile_pipeline(pipeline, features)

    report = compiled.report
    assert compiled.onnx is not None, report.reason
    assert report.verified
    assert report.labels_equal
    assert report.rows_checked == len(features)
    assert report.max_probability_difference is not None
    assert report.max_probability_difference <= TOLERANCE
    # Trees have no double-precision ONNX operator; float32 had to pass the same check.
    assert report.input_dtype == ("float32" if estimator == "decision_tree" else "float64")
    # The opsets in a fixed order: skl2onnx's follows the run's hash seed.
    opsets = [
        (entry.domain, entry.version) for entry in onnx.load_from_string(compiled.onnx).opset_import
    ]
    assert opsets == sorted(opsets)
    assert len(opsets) == 2


@pytest.mark.parametrize("estimator", ["svm", "decision_tree", "mlp"])
def test_served_predictions_are_equal_on_both_paths(
    tmp_path: Path, iris_split: tuple[Path, Path], estimator: str
) -> None:
    bundle = load_bundle(build_bundle(tmp_path, iris_split, estimator=estimator))
    fast, slow = Predictor(bundle, "onnx"), Predictor(bundle, "sklearn")
    test = pd.read_csv(iris_split[1])
    rows = test[FEATURES].to_dict("records")

    fast_rows, slow_rows = fast.predict_rows(rows), slow.predict_rows(rows)
    fast_columns = fast.predict_columns({name: test[name].to_numpy() for name in FEATURES})

    assert (fast.inference_path, slow.inference_path) == ("onnx", "sklearn")
    assert fast_rows.labels == slow_rows.labels == fast_columns.labels
    assert fast_rows.probabilities is not None
    assert slow_rows.probabilities is not None
    assert np.abs(fast_rows.probabilities - slow_rows.probabilities).max() <= TOLERANCE


def test_the_credit_pipeline_records_why_it_is_not_compiled(credit_bundle: Path) -> None:
    # Its HistGradientBoostingClassifier has no working converter with scikit-learn 1.9 (the
    # converter emits a node onnx refuses): the bundle says so and serving uses scikit-learn.
    bundle = load_bundle(credit_bundle)
    report = bundle.manifest.fast_path
    assert report is not None
    assert not report.verified
    assert "TreeEnsembleClassifier" in (report.reason or "")

    auto = Predictor(bundle, "auto")
    assert auto.inference_path == "sklearn"
    assert "did not pass its check" in auto.path_reason


class _Majority(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier skl2onnx has no converter for."""

    def fit(self, features: object, labels: pd.Series) -> _Majority:
        self.classes_, counts = np.unique(labels, return_counts=True)
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, features: object) -> np.ndarray:
        return np.tile(self.prior_, (len(features), 1))  # type: ignore[arg-type]


def test_a_pipeline_without_converter_is_recorded_and_not_compiled(
    iris: tuple[pd.DataFrame, pd.Series],
) -> None:
    features, labels = iris
    pipeline = Pipeline([("model", _Majority())]).fit(features, labels)

    compiled = compile_pipeline(pipeline, features)

    assert compiled.onnx is None
    assert not compiled.report.verified
    assert "_Majority" in (compiled.report.reason or "")


def test_auto_falls_back_visibly_and_onnx_refuses_without_a_fast_path(
    tmp_path: Path, iris_split: tuple[Path, Path]
) -> None:
    bundle = load_bundle(build_bundle(tmp_path, iris_split))
    stripped = bundle.manifest.model_copy(update={"fast_path": None})
    plain = type(bundle)(bundle.directory, stripped, bundle.pipeline, [], {})

    auto = Predictor(plain, "auto")

    assert auto.inference_path == "sklearn"
    assert "no compiled form" in auto.path_reason
    with pytest.raises(BundleError, match="PIPESERVE_INFERENCE_PATH=onnx"):
        Predictor(plain, "onnx")


def test_a_refusal_reason_stays_short(credit_bundle: Path) -> None:
    report = load_bundle(credit_bundle).manifest.fast_path
    assert report is not None
    assert len(report.reason or "") < 600  # converter errors can print whole models
