"""PIPESERVE_OUT_OF_RANGE on both inference paths: flag warns per prediction, reject answers
422 naming the field, accept only counts; the metrics move for shifted inputs only."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.bundle.io import load_bundle
from pipeserve.project.params import ProjectParams, load_params
from pipeserve.settings import Settings
from pipeserve.training.evaluate import evaluate
from pipeserve.training.publish import publish
from pipeserve.training.train import train
from tests.conftest import APPLICANT, FEATURES, PROJECT, iris_frame

FAR = {"sepal_length": 1e200, "sepal_width": 3.0, "petal_length": 4.0, "petal_width": 1.2}
WARNING = "sepal_length 1e+200 is outside the training range [4.3, 7.9]"


def _client(model_dir: Path, **settings: Any) -> FlaskClient:
    return create_app(Settings(model_dir=model_dir, log_level="WARNING", **settings)).test_client()


def _predict(client: FlaskClient, rows: list[dict[str, float]]) -> Any:
    body = orjson.dumps({"instances": rows})
    return client.post("/api/v1/models/iris/predict", data=body, content_type="application/json")


def _metric(client: FlaskClient, name: str, feature: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(rf'^{name}\{{[^}}]*feature="{feature}"[^}}]*\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("path", ["onnx", "sklearn"])
def test_flag_answers_with_a_warning_on_both_paths(model_dir: Path, path: str) -> None:
    client = _client(model_dir, inference_path=path)
    typical = dict(zip(FEATURES, [5.1, 3.5, 1.4, 0.2], strict=True))

    answer = _predict(client, [typical, FAR])

    assert answer.status_code == 200
    first, second = answer.get_json()["predictions"]
    assert "warnings" not in first
    assert second["warnings"] == [WARNING]
    assert second["label"] == "virginica"


@pytest.mark.parametrize("path", ["onnx", "sklearn"])
def test_reject_answers_422_naming_the_field_on_both_paths(model_dir: Path, path: str) -> None:
    client = _client(model_dir, inference_path=path, out_of_range="reject")

    answer = _predict(client, [FAR])
    v1 = client.post(
        "/v1/models/iris:predict", data=orjson.dumps({"instances": [FAR]}),
        content_type="application/json",
    )  # fmt: skip

    assert answer.status_code == 422
    assert answer.get_json()["errors"] == [
        {
            "field": "instances[0].sepal_length",
            "message": "1e+200 is outside the training range [4.3, 7.9]",
        }
    ]
    assert v1.status_code == 400
    assert "sepal_length" in v1.get_json()["error"]
    assert _metric(client, "pipeserve_input_out_of_range_total", "sepal_length") == 2


def test_reject_names_the_value_in_v2_s_own_terms(model_dir: Path) -> None:
    """The data plane finds the value; the V2 codec says where it was in a V2 request."""
    client = _client(model_dir, out_of_range="reject")
    inputs = [
        {"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
        for name, value in FAR.items()
    ]

    answer = client.post("/v2/models/iris/infer", json={"inputs": inputs})

    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith("inputs.sepal_length.data[0] 1e+200 is outside")


def test_accept_answers_without_warnings_but_counts(model_dir: Path) -> None:
    client = _client(model_dir, out_of_range="accept")

    answer = _predict(client, [FAR])

    assert "warnings" not in answer.get_json()["predictions"][0]
    assert _metric(client, "pipeserve_input_out_of_range_total", "sepal_length") == 1


def test_drift_metric_stays_flat_for_training_rows_and_rises_when_shifted(
    model_dir: Path,
) -> None:
    steady, shifted = _client(model_dir), _client(model_dir)
    rows = iris_frame()[FEATURES].to_dict("records")
    moved = [{**row, "petal_length": row["petal_length"] + 2.0} for row in rows]

    for start in range(0, len(rows), 10):
        assert _predict(steady, rows[start : start + 10]).status_code == 200
        assert _predict(shifted, moved[start : start + 10]).status_code == 200

    assert _metric(steady, "pipeserve_input_drift_psi", "petal_length") < 0.1
    # The ranges are the training split's: a test row or two of all iris may fall outside.
    typical = _metric(steady, "pipeserve_input_out_of_range_total", "petal_length")
    assert typical <= 2
    assert _metric(shifted, "pipeserve_input_drift_psi", "petal_length") > 0.25
    assert _metric(shifted, "pipeserve_input_out_of_range_total", "petal_length") > 10 * typical
    card = shifted.get("/models/iris").get_data(as_text=True)
    assert "Live: this worker" in card


# --- what the pipeline's own steps report: the credit example's geocoder ---------------------

NOWHERE = {**APPLICANT, "address": "Hauptstraße 1, Atlantis"}
IMPUTED = "address matched no known place; coordinates imputed"


@pytest.fixture(scope="module")
def compiled_credit(
    tmp_path_factory: pytest.TempPathFactory, credit_split: tuple[Path, Path]
) -> Path:
    """The credit pipeline with logistic regression, whose compiled form runs the geocoding
    step in Python and the rest in onnxruntime (the gradient-boosted default has none)."""
    workdir = tmp_path_factory.mktemp("credit-lr")
    loaded = load_params(PROJECT / "params.yaml", "credit")
    train_section = {**loaded.train.model_dump(), **loaded.train.builder_params}
    params = ProjectParams.model_validate(
        {**loaded.model_dump(), "train": {**train_section, "estimator": "logistic_regression"}}
    )
    train(params, credit_split[0], workdir / "trained")
    evaluate(workdir / "trained", credit_split[1], "outcome", workdir / "m.json", workdir / "c.csv")
    bundle = workdir / "models" / "credit"
    publish(workdir / "trained", workdir / "m.json", list(credit_split), {}, bundle)
    assert load_bundle(bundle).manifest.fast_path.verified  # type: ignore[union-attr]
    return bundle


@pytest.fixture
def credit_models(model_dir: Path, compiled_credit: Path) -> Path:
    shutil.copytree(compiled_credit, model_dir / "credit")
    return model_dir


def _credit(client: FlaskClient, rows: list[dict[str, Any]]) -> Any:
    return client.post("/api/v1/models/credit/predict", json={"instances": rows})


def _counted(client: FlaskClient, kind: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(
        rf'^pipeserve_input_out_of_range_total\{{(?=[^}}]*model="credit")(?=[^}}]*feature='
        rf'"address")(?=[^}}]*kind="{kind}")[^}}]*\}} (\S+)$',
        text,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("path", ["onnx", "sklearn"])
def test_an_unmatched_address_is_flagged_alike_on_both_paths(
    credit_models: Path, path: str
) -> None:
    client = _client(credit_models, inference_path=path)

    answer = _credit(client, [APPLICANT, NOWHERE])

    assert answer.status_code == 200, answer.get_json()
    first, second = answer.get_json()["predictions"]
    assert "warnings" not in first
    assert second["warnings"] == [IMPUTED]
    assert _counted(client, "address_unmatched") == 1
    card = client.get("/models/credit").get_data(as_text=True)
    assert "noted by the pipeline" in card
    assert 'id="noted-address">1<' in card


@pytest.mark.parametrize("path", ["onnx", "sklearn"])
def test_an_unmatched_address_under_reject_is_a_422_naming_the_field(
    credit_models: Path, path: str
) -> None:
    client = _client(credit_models, inference_path=path, out_of_range="reject")

    answer = _credit(client, [APPLICANT, NOWHERE])
    typical = _credit(client, [APPLICANT])

    assert answer.status_code == 422
    assert answer.get_json()["errors"] == [
        {"field": "instances[1].address", "message": "matched no known place"}
    ]
    assert typical.status_code == 200
    assert _counted(client, "address_unmatched") == 1


def test_an_unmatched_address_under_accept_is_only_counted(credit_models: Path) -> None:
    client = _client(credit_models, out_of_range="accept")

    answer = _credit(client, [NOWHERE, APPLICANT])

    assert answer.status_code == 200
    assert all("warnings" not in p for p in answer.get_json()["predictions"])
    assert _counted(client, "address_unmatched") == 1


def test_the_warning_stays_with_its_row_when_requests_are_batched(credit_models: Path) -> None:
    client = _client(credit_models, batching=True)

    answer = _credit(client, [APPLICANT, APPLICANT, NOWHERE])

    assert [p.get("warnings") for p in answer.get_json()["predictions"]] == [None, None, [IMPUTED]]
