"""Input monitoring against the training data: out-of-range values and unseen categories are
counted and located; the drift score stays flat for training-like inputs and rises for shifted
ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeserve.bundle.io import read_manifest
from pipeserve.bundle.manifest import FeatureSpec, FeatureStatistics
from pipeserve.inference.monitoring import InputMonitor
from tests.conftest import FEATURES, iris_frame


def _columns(frame: object) -> dict[str, list[float]]:
    return {name: frame[name].tolist() for name in FEATURES}  # type: ignore[index]


def test_a_value_outside_the_training_range_is_located_and_counted(bundle_dir: Path) -> None:
    monitor = InputMonitor(read_manifest(bundle_dir))
    columns = {"sepal_length": [5.0, 1e200], "sepal_width": [3.0, 3.0],
               "petal_length": [4.0, 4.0], "petal_width": [1.2, -1.0]}  # fmt: skip

    report = monitor.observe(columns)

    assert report.by_row() == {
        1: [
            "sepal_length 1e+200 is outside the training range [4.3, 7.9]",
            "petal_width -1 is outside the training range [0.1, 2.5]",
        ]
    }
    assert report.out_of_range == {"sepal_length": 1, "petal_width": 1}
    assert monitor.snapshot()["sepal_length"].out_of_range == 1
    assert monitor.observe({name: [v[0]] for name, v in columns.items()}).findings == []


def test_drift_stays_flat_for_training_data_and_rises_for_shifted_inputs(bundle_dir: Path) -> None:
    training = iris_frame()
    steady, shifted = (
        InputMonitor(read_manifest(bundle_dir)),
        InputMonitor(read_manifest(bundle_dir)),
    )
    moved = training.copy()
    moved["petal_length"] = moved["petal_length"] + 2.0

    for start in range(0, len(training), 10):  # requests of ten rows
        steady.observe(_columns(training.iloc[start : start + 10]))
        shifted.observe(_columns(moved.iloc[start : start + 10]))

    flat, moving = steady.snapshot(), shifted.snapshot()
    assert max(flat[name].psi or 0 for name in FEATURES) < 0.1
    assert moving["petal_length"].psi is not None
    assert moving["petal_length"].psi > 0.25
    assert moving["sepal_length"].psi == pytest.approx(flat["sepal_length"].psi)
    assert moving["petal_length"].out_of_range > 0


def test_the_window_keeps_only_the_newest_rows(bundle_dir: Path) -> None:
    monitor = InputMonitor(read_manifest(bundle_dir), window=60)
    training = iris_frame()
    far = training.copy()
    far[FEATURES] = far[FEATURES] * 0 + np.array([7.9, 4.4, 6.9, 2.5])

    monitor.observe(_columns(far.iloc[:60]))
    drifted = monitor.snapshot()["sepal_length"].psi
    for start in range(0, 120, 7):
        monitor.observe(_columns(training.sample(7, random_state=start)))

    assert monitor.rows_in_window() == 60
    assert drifted is not None
    assert (monitor.snapshot()["sepal_length"].psi or 0) < drifted / 4


def test_an_unseen_category_is_counted(bundle_dir: Path) -> None:
    manifest = read_manifest(bundle_dir).model_copy(
        update={
            "features": [FeatureSpec(name="colour", dtype="string")],
            "statistics": [
                FeatureStatistics(name="colour", count=10, categories={"red": 0.5, "blue": 0.5})
            ],
        }
    )
    monitor = InputMonitor(manifest)

    report = monitor.observe({"colour": ["red", "mauve", "blue"]})

    assert report.unseen == {"colour": 1}
    assert report.by_row() == {1: ["colour 'mauve' is a category not seen in training"]}
