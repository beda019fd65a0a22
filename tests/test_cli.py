"""The pipeserve command: bundle inspection, batch scoring, OpenAPI output, clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

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


def _sneaky_trained(bundle_dir: Path, directory: Path) -> Path:
    from sklearn.pipeline import Pipeline

    from pipeserve.bundle.io import load_bundle, write_bundle
    from tests.bundle.test_io import Sneaky

    loaded = load_bundle(bundle_dir)
    pipeline = Pipeline([("sneaky", Sneaky()), ("rest", loaded.pipeline)])
    pipeline.fit(iris_frame()[FEATURES], iris_frame()["species"])
    write_bundle(directory / "trained", pipeline, loaded.manifest)
    (directory / "metrics.json").write_text('{"accuracy": 1.0}')
    (directory / "params.yaml").write_text(
        "train:\n  pipeline: iris_example.pipeline:build\n  target: species\n"
        "bundle:\n  name: iris\n"
    )
    return directory / "trained"


def _build(runner: CliRunner, directory: Path, *extra: str) -> Any:
    return runner.invoke(
        main,
        [
            "bundle",
            "build",
            "--params",
            str(directory / "params.yaml"),
            "--trained",
            str(directory / "trained"),
            "--metrics",
            str(directory / "metrics.json"),
            "--output",
            str(directory / "models" / "iris"),
            *extra,
        ],
    )


def test_bundle_build_refuses_an_undeclared_type_and_prints_it_to_review(
    runner: CliRunner, bundle_dir: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _sneaky_trained(bundle_dir, work)

    result = _build(runner, work)

    assert result.exit_code == 1
    assert "review: tests.bundle.test_io.Sneaky" in result.output
    assert "--trusted-types" in result.output
    assert not (work / "models" / "iris").exists()


def test_bundle_build_accepts_a_type_the_project_declares(
    runner: CliRunner, bundle_dir: Path, tmp_path: Path
) -> None:
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    _sneaky_trained(bundle_dir, tmp_path)
    (tmp_path / "trusted_types.txt").write_text("# reviewed\ntests.bundle.test_io.Sneaky\n")

    result = _build(runner, tmp_path, "--trusted-types", str(tmp_path / "trusted_types.txt"))

    assert result.exit_code == 0, result.output
    assert (tmp_path / "models" / "iris" / "bundle.json").is_file()


def test_init_writes_a_project_and_says_where_pipeserve_comes_from(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["init", str(tmp_path / "my-rents")])

    assert result.exit_code == 0, result.output
    assert "package my_rents" in result.output
    assert "source checkout" in result.output
    project = tmp_path / "my-rents"
    assert (project / "my_rents" / "features.py").is_file()
    assert "my_rents.pipeline:build" in (project / "params.yaml").read_text()
    assert "my_rents.features.YearsSince" in (project / "trusted_types.txt").read_text()
    assert "name: my-rents" in (project / "params.yaml").read_text()
    assert not list(project.rglob("*.tmpl"))


def test_init_refuses_a_package_name_python_cannot_import(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(main, ["init", str(tmp_path / "p"), "--package", "not-valid"])

    assert result.exit_code == 1
    assert "is not a Python package name" in result.output


def test_serve_refuses_a_missing_trusted_types_file_before_starting(
    runner: CliRunner, model_dir: Path, tmp_path: Path
) -> None:
    # Settings through the environment only: CliRunner restores it (serve's options do not).
    result = runner.invoke(
        main,
        ["serve"],
        env={
            "PIPESERVE_MODEL_DIR": str(model_dir),
            "PIPESERVE_TRUSTED_TYPES_FILE": str(tmp_path / "trusted_types.txt"),
        },
    )

    assert result.exit_code == 1
    assert "trusted_types.txt does not exist" in result.output
