"""The credit example served end to end: address text in, default probability out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from pipeserve.bundle.io import load_bundle, write_bundle
from pipeserve.cli import main
from tests.conftest import APPLICANT

PATH = "/api/v1/models/credit/predict"


def test_the_bundle_records_text_and_numeric_inputs_and_probability_metrics(
    credit_bundle: Path,
) -> None:
    manifest = load_bundle(credit_bundle).manifest

    assert [(f.name, f.dtype) for f in manifest.features] == [
        ("address", "string"),
        ("age", "float64"),
        ("income", "float64"),
        ("loan_amount", "float64"),
        ("term_months", "float64"),
    ]
    assert manifest.classes == ["default", "repaid"]
    assert isinstance(manifest.example["address"], str)
    assert manifest.metrics is not None
    assert manifest.metrics["roc_auc"] > 0.6
    assert 0 < manifest.metrics["positive_rate"] < 0.5


def test_an_address_as_text_gets_a_default_probability(credit_client: FlaskClient) -> None:
    response = credit_client.post(PATH, json={"instances": [APPLICANT]})

    assert response.status_code == 200, response.get_json()
    prediction = response.get_json()["predictions"][0]
    assert prediction["label"] in {"default", "repaid"}
    assert 0 < prediction["probabilities"]["default"] < 1
    assert sum(prediction["probabilities"].values()) == pytest.approx(1)


def test_the_region_moves_the_probability(credit_client: FlaskClient) -> None:
    """Same applicant, same loan: only the geocoded address differs (the data has an eastern
    and a remote-area effect, and a Bavarian one the other way)."""
    towns = ["Marienplatz 1, München", "Markt 1, Görlitz"]
    instances = [{**APPLICANT, "address": town} for town in towns]

    response = credit_client.post(PATH, json={"instances": instances})

    munich, goerlitz = (p["probabilities"]["default"] for p in response.get_json()["predictions"])
    assert goerlitz > munich


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (50667, "must be a string, got an integer"),
        ("", "must not be empty"),
        ("x" * 1001, "at most 1000 characters"),
        (None, "must be a string, got null"),
    ],
)
def test_a_bad_address_is_a_422_naming_the_field(
    credit_client: FlaskClient, address: object, message: str
) -> None:
    response = credit_client.post(PATH, json={"instances": [{**APPLICANT, "address": address}]})

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    error = response.get_json()["errors"][0]
    assert error["field"] == "instances[0].address"
    assert message in error["message"]


def test_an_unknown_town_is_imputed_under_the_missing_policy(credit_client: FlaskClient) -> None:
    response = credit_client.post(PATH, json={"instances": [{**APPLICANT, "address": "Atlantis"}]})

    assert response.status_code == 200


@pytest.fixture
def strict_client(credit_model_dir: Path, credit_bundle: Path) -> FlaskClient:
    """The same pipeline with on_failure="reject", published as model credit-strict."""
    from pipeserve.api import create_app
    from pipeserve.settings import Settings

    loaded = load_bundle(credit_bundle)
    # The fitted copy inside the ColumnTransformer is the one that runs.
    place = loaded.pipeline.named_steps["features"].named_transformers_["place"]
    place.named_steps["geocode"].set_params(on_failure="reject")
    manifest = loaded.manifest.model_copy(update={"name": "credit-strict"})
    write_bundle(credit_model_dir / "credit-strict", loaded.pipeline, manifest)
    return create_app(Settings(model_dir=credit_model_dir, log_level="WARNING")).test_client()


def test_an_unknown_town_under_the_reject_policy_is_a_422_naming_field_and_row(
    strict_client: FlaskClient,
) -> None:
    instances = [APPLICANT, {**APPLICANT, "address": "Hauptstraße 1, Atlantis"}]

    response = strict_client.post(
        "/api/v1/models/credit-strict/predict", json={"instances": instances}
    )

    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "address_not_found"
    assert body["errors"] == [
        {
            "field": "address",
            "row": 1,
            "message": "matches no known place: 'Hauptstraße 1, Atlantis'",
        }
    ]
    assert "address of row 1" in body["detail"]


def test_metadata_and_openapi_document_the_text_feature(credit_client: FlaskClient) -> None:
    inputs = credit_client.get("/api/v1/models/credit").get_json()["inputs"]
    spec = credit_client.get("/openapi.json").get_json()

    assert inputs[0] == {
        "name": "address",
        "dtype": "string",
        "minimum": None,
        "maximum": None,
        "categories": None,  # the Geocoder takes any text
        "description": None,
    }
    address = spec["components"]["schemas"]["CreditInstance"]["properties"]["address"]
    assert address["type"] == "string"
    assert address["maxLength"] == 1000  # PIPESERVE_MAX_STRING_LENGTH
    assert isinstance(address["examples"][0], str)


def test_batch_scoring_keeps_postcodes_as_text_and_rejects_with_reasons(
    credit_model_dir: Path, credit_bundle: Path, tmp_path: Path
) -> None:
    rows = [
        {**APPLICANT, "address": "01067"},  # a postcode alone: text, not the number 1067
        {**APPLICANT, "address": ""},
        {**APPLICANT, "age": "old"},
        APPLICANT,
    ]
    with (tmp_path / "in.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(APPLICANT))
        writer.writeheader()
        writer.writerows(rows)

    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--bundle",
            str(credit_bundle),
            str(tmp_path / "in.csv"),
            "--output",
            str(tmp_path / "out.parquet"),
            "--chunk-size",
            "2",
        ],
    )

    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out.parquet").to_pylist()
    rejects = [
        json.loads(line)
        for line in (tmp_path / "out.parquet.rejects.jsonl").read_text().splitlines()
    ]
    assert [r["row"] for r in table] == [0, 3]
    assert set(table[0]) == {"row", "label", "proba_default", "proba_repaid"}
    assert [(r["row"], r["errors"][0]["field"]) for r in rejects] == [(1, "address"), (2, "age")]
    assert "must be a string, got null" in rejects[0]["errors"][0]["message"]


def test_batch_scoring_rejects_unknown_addresses_under_the_reject_policy(
    strict_client: FlaskClient, credit_model_dir: Path, tmp_path: Path
) -> None:
    lines = [{**APPLICANT, "address": town} for town in ["Köln", "Atlantis", "Bonn", "Nowhere"]]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--bundle",
            str(credit_model_dir / "credit-strict"),
            str(tmp_path / "in.jsonl"),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--rejects",
            str(tmp_path / "bad.jsonl"),
            "--chunk-size",
            "3",
        ],
    )

    assert result.exit_code == 0, result.output
    scored = [json.loads(line)["row"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    rejects = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert scored == [0, 2]
    assert [(r["row"], r["errors"][0]["field"]) for r in rejects] == [
        (1, "address"),
        (3, "address"),
    ]
    assert "2 of 4 rows scored" in result.output
