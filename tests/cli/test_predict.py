"""``pipeserve predict``: batch scoring of files, with the bad rows rejected with reasons."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from pipeserve.cli import main
from tests.conftest import iris_frame


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
