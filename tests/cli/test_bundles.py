"""``pipeserve bundle``: verify, inspect, and build refusing types nobody reviewed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from pipeserve.bundle.manifest import PIPELINE_FILE
from pipeserve.cli import main
from tests.conftest import FEATURES, iris_frame


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
