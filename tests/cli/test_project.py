"""``pipeserve init``: a new project, and the names it refuses."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pipeserve.cli import main


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
