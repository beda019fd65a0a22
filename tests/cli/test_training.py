"""``pipeserve train`` and ``evaluate``: the DVC stages' errors, by key, without a traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pipeserve.cli import main


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
