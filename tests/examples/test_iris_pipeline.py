"""The iris example's builder: every estimator it offers trains, scores well and uses the
engineered feature."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from iris_example.pipeline import build

from tests.conftest import PRODUCTS


def _load(split: tuple[Path, Path]) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    train, test = (pd.read_csv(path) for path in split)
    return (
        train.drop(columns="species"),
        train["species"],
        test.drop(columns="species"),
        test["species"],
    )


@pytest.mark.parametrize("estimator", ["decision_tree", "svm", "mlp"])
def test_each_estimator_reaches_ninety_percent_test_accuracy(
    estimator: str, iris_split: tuple[Path, Path]
) -> None:
    x_train, y_train, x_test, y_test = _load(iris_split)
    pipeline = build({"estimator": estimator, "products": PRODUCTS})

    pipeline.fit(x_train, y_train)

    assert pipeline.score(x_test, y_test) >= 0.9


@pytest.mark.parametrize("estimator", ["decision_tree", "svm", "mlp"])
def test_the_model_receives_the_engineered_feature(
    estimator: str, iris_split: tuple[Path, Path]
) -> None:
    x_train, y_train, _, _ = _load(iris_split)
    pipeline = build({"estimator": estimator, "products": PRODUCTS})

    pipeline.fit(x_train, y_train)

    assert list(pipeline[:-1].get_feature_names_out())[-1] == "petal_area"
    assert pipeline[-1].n_features_in_ == 5


def test_the_decision_tree_splits_on_petal_area(iris_split: tuple[Path, Path]) -> None:
    x_train, y_train, _, _ = _load(iris_split)
    pipeline = build({"estimator": "decision_tree", "products": PRODUCTS})

    pipeline.fit(x_train, y_train)

    importances = dict(
        zip(pipeline[:-1].get_feature_names_out(), pipeline[-1].feature_importances_, strict=True)
    )
    assert importances["petal_area"] > 0.1


def test_svm_probabilities_come_from_calibration_not_the_deprecated_flag() -> None:
    model = build({"estimator": "svm"})[-1]

    assert type(model).__name__ == "CalibratedClassifierCV"
    assert model.estimator.get_params()["probability"] in (False, "deprecated")


def test_a_wrong_parameter_is_named() -> None:
    with pytest.raises(ValueError, match=r"svm\.C"):
        build({"svm": {"C": -1}})
