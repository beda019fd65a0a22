"""The Python API (``pipeserve.bundle.build_bundle``): a team without DVC bundles its own fitted
pipeline, here a regressor with a text category and a transformer of its own, and the server
answers for it on all three protocols."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from pipeserve.api import create_app
from pipeserve.bundle import build_bundle, load_bundle
from pipeserve.bundle.trusted import Trust
from pipeserve.errors import UntrustedTypeError
from pipeserve.settings import Settings

HALVES = "tests.training.test_build.Halves"


class Halves(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A project's own transformer: halves its input (stands for any reviewed custom step)."""

    def fit(self, X: Any, y: Any = None) -> Halves:
        validate_data(self, X, reset=True)
        return self

    def transform(self, X: Any) -> Any:
        check_is_fitted(self)
        return validate_data(self, X, reset=False) / 2

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        check_is_fitted(self)
        return np.asarray(input_features if input_features is not None else self.feature_names_in_)


def flats(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    district = rng.choice(["north", "south", "east"], rows)
    area = rng.uniform(20, 120, rows)
    price = area * np.where(district == "north", 15.0, 10.0) + rng.normal(0, 20, rows)
    return pd.DataFrame({"district": district, "area": area, "price": price})


def fitted(custom: bool = True) -> Pipeline:
    area_steps: list[tuple[str, Any]] = [("halves", Halves())] if custom else []
    features = ColumnTransformer(
        [
            ("district", OneHotEncoder(handle_unknown="ignore"), ["district"]),
            ("area", Pipeline([*area_steps, ("scale", StandardScaler())]), ["area"]),
        ]
    )
    data = flats()
    return Pipeline([("features", features), ("model", Ridge())]).fit(
        data.drop(columns="price"), data["price"]
    )


@pytest.fixture(scope="module")
def regression_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("flats") / "models" / "flats"
    build_bundle(
        fitted(),
        flats(),
        output,
        target="price",
        name="flats",
        version="3",
        metrics={"rmse": 20.0},
        trusted_types=[HALVES],
    )
    return output


@pytest.fixture
def flats_client(regression_bundle: Path) -> Iterator[FlaskClient]:
    settings = Settings(
        model_dir=regression_bundle.parent, trusted_types=[HALVES], log_level="WARNING"
    )
    with create_app(settings).test_client() as client:
        yield client


def test_the_bundle_describes_the_sample_as_a_regressor(regression_bundle: Path) -> None:
    manifest = load_bundle(regression_bundle, trust=Trust.with_types([HALVES])).manifest

    assert manifest.task == "regression"
    assert manifest.classes == []
    assert manifest.estimator == "Ridge"
    assert manifest.feature_names == ["district", "area"]
    assert manifest.features[0].dtype == "string"
    assert manifest.features[1].minimum is not None
    assert manifest.example["district"] in {"north", "south", "east"}
    assert manifest.metrics == {"rmse": 20.0}


def test_an_undeclared_type_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(UntrustedTypeError, match=HALVES) as refused:
        build_bundle(fitted(), flats(), tmp_path / "b", target="price", name="b", version="1")

    assert refused.value.details["types"] == [HALVES]
    assert not (tmp_path / "b").exists()


def test_friendly_v1_and_v2_agree_on_the_value(flats_client: FlaskClient) -> None:
    row = {"district": "north", "area": 50.0}
    friendly = flats_client.post("/api/v1/models/flats/predict", json={"instances": [row]})
    v1 = flats_client.post("/v1/models/flats:predict", json={"instances": [["north", 50.0]]})
    v2 = flats_client.post(
        "/v2/models/flats/infer",
        json={
            "inputs": [
                {"name": "district", "shape": [1], "datatype": "BYTES", "data": ["north"]},
                {"name": "area", "shape": [1], "datatype": "FP64", "data": [50.0]},
            ]
        },
    )

    assert friendly.status_code == v1.status_code == v2.status_code == 200
    value = friendly.get_json()["predictions"][0]["value"]
    assert value == pytest.approx(750, rel=0.1)
    assert v1.get_json()["predictions"] == [value]
    output = v2.get_json()["outputs"][0]
    assert (output["name"], output["datatype"], output["shape"]) == ("predict", "FP64", [1])
    assert output["data"] == [value]


def test_v2_metadata_gives_the_regressors_output_type(flats_client: FlaskClient) -> None:
    outputs = flats_client.get("/v2/models/flats").get_json()["outputs"]

    assert outputs == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]


def test_a_regressor_has_no_probabilities_on_v2(flats_client: FlaskClient) -> None:
    answer = flats_client.post(
        "/v2/models/flats/infer",
        json={
            "inputs": [
                {"name": "district", "shape": [1], "datatype": "BYTES", "data": ["north"]},
                {"name": "area", "shape": [1], "datatype": "FP64", "data": [50.0]},
            ],
            "outputs": [{"name": "predict_proba"}],
        },
    )

    assert answer.status_code == 400  # the request names an output this model has not
    assert "gives no probabilities" in answer.get_json()["error"]


@pytest.mark.parametrize(
    ("instance", "field", "message"),
    [
        ({"district": "north", "area": "big"}, "instances[0].area", "must be a number"),
        ({"district": 7, "area": 50.0}, "instances[0].district", "must be a string"),
        ({"district": "north"}, "instances[0].area", "is required"),
    ],
)
def test_bad_input_gets_field_level_errors(
    flats_client: FlaskClient, instance: dict[str, Any], field: str, message: str
) -> None:
    answer = flats_client.post("/api/v1/models/flats/predict", json={"instances": [instance]})

    assert answer.status_code == 422
    errors = {error["field"]: error["message"] for error in answer.get_json()["errors"]}
    assert errors[field].startswith(message)


def test_an_unseen_category_follows_handle_unknown(flats_client: FlaskClient) -> None:
    answer = flats_client.post(
        "/api/v1/models/flats/predict", json={"instances": [{"district": "west", "area": 50.0}]}
    )

    assert answer.status_code == 200


def test_the_server_refuses_the_type_without_its_setting_and_keeps_serving_others(
    regression_bundle: Path, session_bundle: Path, tmp_path: Path
) -> None:
    import shutil

    repository = tmp_path / "models"
    shutil.copytree(regression_bundle, repository / "flats")
    shutil.copytree(session_bundle, repository / "iris")
    settings = Settings(model_dir=repository, log_level="WARNING", ready_policy="any")

    with create_app(settings).test_client() as client:
        flats = client.get("/api/v1/models/flats").get_json()
        iris = client.post(
            "/api/v1/models/iris/predict",
            json={
                "instances": [
                    {
                        "sepal_length": 5.1,
                        "sepal_width": 3.5,
                        "petal_length": 1.4,
                        "petal_width": 0.2,
                    }
                ]
            },
        )

    assert flats["ready"] is False
    assert HALVES in flats["error"]
    assert "PIPESERVE_TRUSTED_TYPES" in flats["error"]
    assert iris.status_code == 200


def test_a_classifier_built_from_python_keeps_the_fast_path(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    data = flats()
    data["expensive"] = np.where(data["price"] > 800, "yes", "no")
    features = ColumnTransformer(
        [
            ("district", OneHotEncoder(handle_unknown="ignore"), ["district"]),
            ("area", StandardScaler(), ["area"]),
        ]
    )
    pipeline = Pipeline([("features", features), ("model", LogisticRegression())])
    pipeline.fit(data[["district", "area"]], data["expensive"])

    manifest = build_bundle(
        pipeline,
        data.drop(columns="price"),
        tmp_path / "c",
        target="expensive",
        name="c",
        version="1",
    )

    assert manifest.task == "classification"
    assert manifest.classes == ["no", "yes"]
    assert manifest.fast_path is not None


@pytest.fixture(scope="module")
def strict_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    """A regressor whose encoder refuses unseen districts (OneHotEncoder's default)."""
    data = flats()
    features = ColumnTransformer(
        [("district", OneHotEncoder(), ["district"]), ("area", StandardScaler(), ["area"])]
    )
    pipeline = Pipeline([("features", features), ("model", Ridge())])
    pipeline.fit(data.drop(columns="price"), data["price"])
    output = tmp_path_factory.mktemp("strict") / "strict"
    manifest = build_bundle(pipeline, data, output, target="price", name="strict", version="1")
    assert manifest.features[0].categories == ["east", "north", "south"]
    assert manifest.features[1].categories is None
    settings = Settings(model_dir=output.parent, log_level="WARNING")
    with create_app(settings).test_client() as client:
        yield client


def test_only_a_strict_encoder_makes_the_training_categories_the_allowed_values(
    regression_bundle: Path, strict_client: FlaskClient
) -> None:
    lenient = load_bundle(regression_bundle, trust=Trust.with_types([HALVES])).manifest
    row = {"district": "west", "area": 50.0}

    friendly = strict_client.post("/api/v1/models/strict/predict", json={"instances": [row]})
    v1 = strict_client.post("/v1/models/strict:predict", json={"instances": [["west", 50.0]]})
    v2 = strict_client.post(
        "/v2/models/strict/infer",
        json={
            "inputs": [
                {"name": "district", "shape": [1], "datatype": "BYTES", "data": ["west"]},
                {"name": "area", "shape": [1], "datatype": "FP64", "data": [50.0]},
            ]
        },
    )

    assert lenient.features[0].categories is None  # handle_unknown="ignore": any text
    # KServe's protocols answer bad input with 400 and {"error": ...}; the friendly API 422.
    assert friendly.status_code == 422
    assert v1.status_code == v2.status_code == 400
    assert "district" in v1.get_json()["error"]
    assert "district" in v2.get_json()["error"]
    (error,) = friendly.get_json()["errors"]
    assert error["field"] == "instances[0].district"
    assert "east, north, south" in error["message"]
    assert "'west'" in error["message"]
    known = strict_client.post(
        "/api/v1/models/strict/predict", json={"instances": [{**row, "district": "east"}]}
    )
    assert known.status_code == 200


def test_batch_scoring_writes_a_value_per_row(regression_bundle: Path, tmp_path: Path) -> None:
    import csv

    from pipeserve.batch.local import score_file
    from pipeserve.inference.predictor import Predictor

    predictor = Predictor(load_bundle(regression_bundle, trust=Trust.with_types([HALVES])))
    flats().head(5).to_csv(tmp_path / "in.csv", index=False)

    report = score_file(predictor, tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "r.jsonl")

    with (tmp_path / "out.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert report.scored == 5
    assert list(rows[0]) == ["row", "value"]
    assert float(rows[0]["value"]) > 0
