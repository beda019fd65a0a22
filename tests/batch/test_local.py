"""The local engine: a file scored chunk by chunk gives the predictor's own answers, and its
rejects name the same rows with the same reasons as the HTTP API."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.batch.local import score_file
from pipeserve.bundle.io import load_bundle
from pipeserve.inference.predictor import Predictor
from pipeserve.settings import Settings
from tests.conftest import FEATURES, iris_frame


@pytest.fixture
def api(model_dir: Path) -> Any:
    """The HTTP API on the same iris bundle, taking as many rows as a test sends."""
    with create_app(Settings(model_dir=model_dir, log_level="WARNING")).test_client() as client:
        yield client


def rejects_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def api_errors(client: FlaskClient, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the friendly API says of ``rows``, as the rejects file words it: by row, with the
    field named as the batch input names it."""
    answer = client.post("/api/v1/models/iris/predict", json={"instances": rows})
    assert answer.status_code == 422
    by_row: dict[int, list[dict[str, str]]] = {}
    for error in answer.get_json()["errors"]:
        place, field = error["field"].split(".", 1)  # instances[7].sepal_length
        row = int(place.removeprefix("instances[").removesuffix("]"))
        by_row.setdefault(row, []).append({"field": field, "message": error["message"]})
    return [{"row": row, "errors": errors} for row, errors in sorted(by_row.items())]


def test_a_parquet_file_scores_as_the_predictor_does_with_nulls_and_nans_rejected(
    session_bundle: Path, api: FlaskClient, tmp_path: Path
) -> None:
    rows = iris_frame()[FEATURES].to_dict("records")
    rows[3]["petal_width"] = None  # a null in the file
    rows[70]["sepal_width"] = math.nan
    rows[121]["sepal_length"] = math.inf
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet", row_group_size=50)
    predictor = Predictor(load_bundle(session_bundle))

    report = score_file(
        predictor,
        tmp_path / "in.parquet",
        tmp_path / "out.parquet",
        tmp_path / "rejects.jsonl",
        chunk_size=40,  # four chunks: rows are numbered across them
    )

    rejects = rejects_of(tmp_path / "rejects.jsonl")
    assert (report.rows, report.scored, report.rejected) == (150, 147, 3)
    assert [r["row"] for r in rejects] == [3, 70, 121]
    # A null is refused in the API's own words; NaN and infinity as the validator words them.
    assert rejects[0]["errors"] == api_errors(api, [rows[3]])[0]["errors"]
    assert rejects[0]["errors"] == [
        {"field": "petal_width", "message": "must be a number, got null"}
    ]
    assert rejects[1]["errors"][0]["message"].startswith("must be a finite number")
    assert rejects[2]["errors"][0]["field"] == "sepal_length"
    scored = pd.read_parquet(tmp_path / "out.parquet")
    keep = [i for i in range(150) if i not in {3, 70, 121}]
    valid = iris_frame()[FEATURES].iloc[keep]
    expected = predictor.predict_columns({name: valid[name].to_numpy() for name in FEATURES})
    assert scored["row"].tolist() == keep
    assert scored["label"].tolist() == expected.labels
    assert expected.probabilities is not None
    proba = scored[[f"proba_{c}" for c in predictor.classes]].to_numpy()
    np.testing.assert_allclose(proba, expected.probabilities, rtol=0, atol=1e-12)


def test_json_lines_rejects_give_the_http_apis_reasons_for_the_same_rows(
    session_bundle: Path, api: FlaskClient, tmp_path: Path
) -> None:
    rows: list[dict[str, Any]] = iris_frame()[FEATURES].head(12).to_dict("records")
    rows[1]["sepal_length"] = "wide"
    rows[4]["petal_length"] = True
    rows[6]["sepal_width"] = [1.0]
    rows[6]["petal_width"] = {"cm": 1}
    rows[9]["petal_width"] = None
    del rows[11]["sepal_width"]  # JSON lines may lack a value: null, as the file reads it
    lines = [json.dumps(row) for row in rows]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")

    score_file(
        Predictor(load_bundle(session_bundle)),
        tmp_path / "in.jsonl",
        tmp_path / "out.jsonl",
        tmp_path / "rejects.jsonl",
        chunk_size=5,
    )

    rejects = rejects_of(tmp_path / "rejects.jsonl")
    sent = [{**row, "sepal_width": None} if "sepal_width" not in row else row for row in rows]
    assert rejects == api_errors(api, sent)
    assert [r["row"] for r in rejects] == [1, 4, 6, 9, 11]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 7


def test_a_regressor_writes_one_value_per_row(ridge_bundle: Path, tmp_path: Path) -> None:
    frame = iris_frame().drop(columns=["species", "petal_width"])
    frame.to_parquet(tmp_path / "in.parquet")
    loaded = load_bundle(ridge_bundle)

    report = score_file(
        Predictor(loaded), tmp_path / "in.parquet", tmp_path / "out.parquet", tmp_path / "r.jsonl"
    )

    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert report.scored == 150
    assert list(scored.columns) == ["row", "value"]
    np.testing.assert_allclose(scored["value"], loaded.pipeline.predict(frame), rtol=0, atol=1e-12)
