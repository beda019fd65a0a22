"""The pipeserve command: bundle inspection, batch scoring, OpenAPI output, clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeserve.bundle.manifest import PIPELINE_FILE
from pipeserve.cli import main
from tests.conftest import FEATURES, iris_frame


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_verify_accepts_a_good_bundle(runner: CliRunner, bundle_dir: Path) -> None:
    result = runner.invoke(main, ["bundle", "verify", str(bundle_dir)])

    assert result.exit_code == 0
    assert "ok: iris 7 verified" in result.output


def test_verify_refuses_a_tampered_bundle_without_a_traceback(
    runner: CliRunner, bundle_dir: Path
) -> None:
    (bundle_dir / PIPELINE_FILE).write_bytes(b"tampered")

    result = runner.invoke(main, ["bundle", "verify", str(bundle_dir)])

    assert result.exit_code == 1
    assert "Error:" in result.output
    assert "does not match its recorded sha256" in result.output
    assert "Traceback" not in result.output


def test_inspect_prints_the_manifest(runner: CliRunner, bundle_dir: Path) -> None:
    result = runner.invoke(main, ["bundle", "inspect", str(bundle_dir)])

    assert json.loads(result.output)["classes"] == ["setosa", "versicolor", "virginica"]


def test_predict_scores_a_csv_and_rejects_bad_rows_with_reasons(
    runner: CliRunner, bundle_dir: Path, tmp_path: Path
) -> None:
    frame = iris_frame()
    frame["sepal_length"] = frame["sepal_length"].astype(object)
    frame.loc[3, "petal_width"] = None
    frame.loc[5, "sepal_length"] = "wide"
    frame.to_csv(tmp_path / "in.csv", index=False)

    result = runner.invoke(
        main,
        [
            "predict",
            "--bundle",
            str(bundle_dir),
            str(tmp_path / "in.csv"),
            "--output",
            str(tmp_path / "out.csv"),
            "--chunk-size",
            "40",
        ],
    )

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "out.csv").read_text().splitlines()))
    rejects = [
        json.loads(line) for line in (tmp_path / "out.csv.rejects.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 148
    assert [r["row"] for r in rejects] == [3, 5]
    assert rejects[0]["errors"][0]["field"] == "petal_width"
    assert "finite number" in rejects[0]["errors"][0]["message"]
    assert "must be a number, got a string" in rejects[1]["errors"][0]["message"]
    assert set(rows[0]) == {"row", "label", "proba_setosa", "proba_versicolor", "proba_virginica"}
    accuracy = sum(r["label"] == frame.loc[int(r["row"]), "species"] for r in rows) / len(rows)
    assert accuracy > 0.9
    assert "148 of 150 rows scored" in result.output


def test_predict_reads_and_writes_json_lines(
    runner: CliRunner, bundle_dir: Path, tmp_path: Path
) -> None:
    iris_frame().head(10).to_json(tmp_path / "in.jsonl", orient="records", lines=True)

    result = runner.invoke(
        main,
        [
            "predict",
            "--bundle",
            str(bundle_dir),
            str(tmp_path / "in.jsonl"),
            "--output",
            str(tmp_path / "out.jsonl"),
            "--no-probabilities",
        ],
    )

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert lines[0] == {"row": 0, "label": "setosa"}
    assert len(lines) == 10


def test_predict_names_missing_feature_columns(
    runner: CliRunner, bundle_dir: Path, tmp_path: Path
) -> None:
    iris_frame().drop(columns="petal_width").to_csv(tmp_path / "in.csv", index=False)

    result = runner.invoke(
        main,
        [
            "predict",
            "--bundle",
            str(bundle_dir),
            str(tmp_path / "in.csv"),
            "--output",
            str(tmp_path / "out.csv"),
        ],
    )

    assert result.exit_code == 1
    assert "lacks the feature columns ['petal_width']" in result.output


def test_predict_refuses_an_unknown_file_type(
    runner: CliRunner, bundle_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "in.xlsx").write_text("x")

    result = runner.invoke(
        main,
        [
            "predict",
            "--bundle",
            str(bundle_dir),
            str(tmp_path / "in.xlsx"),
            "--output",
            str(tmp_path / "out.csv"),
        ],
    )

    assert result.exit_code == 1
    assert "unsupported file type '.xlsx'" in result.output


def test_openapi_prints_the_document_with_the_models(runner: CliRunner, model_dir: Path) -> None:
    result = runner.invoke(main, ["openapi", "--model-dir", str(model_dir)])

    spec = json.loads(result.output)
    assert list(spec["components"]["schemas"]["IrisInstance"]["properties"]) == FEATURES


def test_train_reports_a_bad_params_file_by_key(
    runner: CliRunner, tmp_path: Path, iris_split: tuple[Path, Path]
) -> None:
    (tmp_path / "params.yaml").write_text(
        "train:\n  pipeline: iris_example.pipeline:build\n  target: species\n"
        "  estimator: forest\nbundle:\n  name: iris\n"
    )

    result = runner.invoke(
        main,
        [
            "train",
            "--params",
            str(tmp_path / "params.yaml"),
            "--train-csv",
            str(iris_split[0]),
            "--output",
            str(tmp_path / "out"),
        ],
    )

    assert result.exit_code == 1
    assert "rejected its parameters" in result.output
    assert "estimator" in result.output
    assert "Traceback" not in result.output
