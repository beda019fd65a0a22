"""`pipeserve init` writes a complete project from the template, with nothing left to fill in."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeserve.errors import ConfigurationError
from pipeserve.project.init import init_project, source_checkout


def test_every_placeholder_is_filled_and_the_package_named(tmp_path: Path) -> None:
    report = init_project(tmp_path / "Flat Rents 2")

    assert report.package == "flat_rents_2"
    assert report.model_name == "flat-rents-2"
    for path in report.files:
        assert "__PACKAGE__" not in path.read_text(), path
        assert "__MODEL__" not in path.read_text(), path
        assert "__PIPESERVE" not in path.read_text(), path
    params = yaml.safe_load((report.directory / "params.yaml").read_text())
    assert params["train"]["pipeline"] == "flat_rents_2.pipeline:build"
    assert params["bundle"]["name"] == "flat-rents-2"
    stages = yaml.safe_load((report.directory / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["prepare", "train", "evaluate", "bundle"]
    assert all(stage["cmd"].startswith("pipeserve ") for stage in stages.values())


def test_pipeserve_comes_from_the_source_checkout_init_ran_from(tmp_path: Path) -> None:
    report = init_project(tmp_path / "p")

    source = source_checkout()
    assert source is not None  # the tests run from a checkout
    assert report.pipeserve_requirement == f"pipeserve[train] @ {source.as_uri()}"
    makefile = (report.directory / "Makefile").read_text()
    assert f"PIPESERVE_SOURCE := {source}" in makefile
    locked = (report.directory / "requirements" / "constraints.txt").read_text()
    assert locked == (source / "requirements" / "constraints.txt").read_text()


def test_a_directory_with_files_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")

    with pytest.raises(ConfigurationError, match="is not empty"):
        init_project(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_the_generated_python_compiles(tmp_path: Path) -> None:
    report = init_project(tmp_path / "p")

    for path in report.files:
        if path.suffix == ".py":
            compile(path.read_text(), str(path), "exec")
