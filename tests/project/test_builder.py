"""The pipeline builder is found by import path and must return a model; every mistake names
what to fix."""

from __future__ import annotations

import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pipeserve.errors import ConfigurationError
from pipeserve.project.builder import build_estimator, estimator_name, load_builder, task_of


def transformer_only(params: object) -> Pipeline:
    return Pipeline([("scale", StandardScaler())])


def not_an_estimator(params: object) -> str:
    return "a pipeline, honestly"


NOT_CALLABLE = 3


def test_the_examples_builder_is_called_with_its_params() -> None:
    pipeline = build_estimator("iris_example.pipeline:build", {"estimator": "decision_tree"})

    assert estimator_name(pipeline) == "DecisionTreeClassifier"
    assert task_of(pipeline, "iris") == "classification"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_package.pipeline:build", "cannot import 'no_such_package'"),
        ("iris_example.pipeline:missing", "has no attribute 'missing'"),
        ("tests.project.test_builder:NOT_CALLABLE", "is not callable"),
        ("nocolon", "must look like package.module:function"),
    ],
)
def test_a_builder_that_cannot_be_found_is_named(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_builder(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.project.test_builder:transformer_only", "neither a classifier nor a regressor"),
        ("tests.project.test_builder:not_an_estimator", "returned str, not a scikit-learn"),
    ],
)
def test_a_builder_must_return_a_model(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_estimator(spec, {})


def test_a_builder_that_refuses_its_params_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="rejected its parameters"):
        build_estimator("iris_example.pipeline:build", {"estimator": "forest"})
