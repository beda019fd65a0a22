"""A step of a user's own pipeline reports facts about rows (pipeserve.features.notes): the
predictor collects them per prediction, and a batch split gives each request its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from pipeserve.bundle import build_bundle, load_bundle
from pipeserve.bundle.trusted import Trust
from pipeserve.features.notes import RowNote, collecting, note_rows
from pipeserve.inference.predictor import Prediction, Predictor

CLIPPER = "tests.features.test_notes.Clipper"


class Clipper(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A project's own step: clips negative values to 0 and says which rows it clipped."""

    def fit(self, X: Any, y: Any = None) -> Clipper:
        validate_data(self, X, reset=True)
        return self

    def transform(self, X: Any) -> Any:
        check_is_fitted(self)
        data = validate_data(self, X, reset=False)
        note_rows(np.flatnonzero(data[:, 0] < 0), "x", "was negative; clipped to 0", "clipped")
        return np.maximum(data, 0)


def test_a_users_own_step_reports_rows_to_the_predictor(tmp_path: Path) -> None:
    sample = pd.DataFrame({"x": np.linspace(0, 10, 40), "y": ["a", "b"] * 20})
    pipeline = Pipeline([("clip", Clipper()), ("model", LogisticRegression())])
    pipeline.fit(sample[["x"]], sample["y"])
    build_bundle(pipeline, sample, tmp_path / "b", target="y", name="m", version="1",
                 trusted_types=[CLIPPER], compile_fast_path=False)  # fmt: skip
    predictor = Predictor(load_bundle(tmp_path / "b", trust=Trust.with_types([CLIPPER])))

    prediction = predictor.predict_columns({"x": [1.0, -2.0, 3.0, -4.0]})
    clean = predictor.predict_columns({"x": [1.0]})

    assert [(n.row, n.feature, n.kind) for n in prediction.notes] == [
        (1, "x", "clipped"),
        (3, "x", "clipped"),
    ]
    assert clean.notes == ()


def test_note_rows_outside_a_collection_does_nothing_and_collections_nest() -> None:
    note_rows([0], "x", "ignored", "k")
    with collecting() as outer:
        note_rows([0], "x", "outer", "k")
        with collecting() as inner:
            note_rows([1], "x", "inner", "k")
        note_rows([2], "x", "outer again", "k")

    assert [n.detail for n in outer] == ["outer", "outer again"]
    assert [n.detail for n in inner] == ["inner"]


def test_a_split_batch_gives_each_request_its_own_rows_and_notes() -> None:
    note = RowNote(3, "address", "matched no known place; coordinates imputed", "unmatched")
    merged = Prediction(
        ["a", "b", "c", "d"],
        np.eye(4)[:, :2],
        notes=(RowNote(0, "address", "x", "unmatched"), note),
        warnings={3: ["w"]},
    )

    second = merged.rows(2, 4)

    assert second.labels == ["c", "d"]
    assert second.probabilities is not None
    assert second.probabilities.shape == (2, 2)
    assert second.notes == (RowNote(1, note.feature, note.detail, note.kind),)
    assert second.warnings == {1: ["w"]}
    assert merged.rows(1, 2).notes == ()
