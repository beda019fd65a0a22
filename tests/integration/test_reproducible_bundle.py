"""The same inputs, params and code give the same bundle bytes: the DVC stages' commands run
twice, in two fresh directories and two sets of processes, write identical files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks.harness import venv_environment

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).parents[2]
_STAGES = [
    ["pipeserve", "train", "--train-csv", "train.csv", "--output", "build/iris"],
    [
        "pipeserve", "evaluate", "--bundle", "build/iris", "--test-csv", "test.csv",
        "--metrics", "metrics.json", "--confusion", "confusion.csv",
    ],
    [
        "pipeserve", "bundle", "build", "--trained", "build/iris", "--metrics", "metrics.json",
        "--input", "train.csv", "--input", "test.csv", "--confusion", "confusion.csv",
        "--output", "models/iris",
    ],
]  # fmt: skip


def _project(root: Path, split: tuple[Path, Path]) -> Path:
    root.mkdir()
    shutil.copy(PROJECT / "params.yaml", root / "params.yaml")
    shutil.copy(split[0], root / "train.csv")
    shutil.copy(split[1], root / "test.csv")
    return root


def _files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*")
            if p.is_file()}  # fmt: skip


def test_two_builds_write_the_same_bytes(tmp_path: Path, iris_split: tuple[Path, Path]) -> None:
    roots = [_project(tmp_path / name, iris_split) for name in ("first", "second")]
    env = venv_environment()
    env.pop("SOURCE_DATE_EPOCH", None)
    for stage in _STAGES:  # both projects at once: the runs overlap in time, not in memory
        runs = [
            subprocess.Popen(stage, cwd=root, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
            for root in roots
        ]  # fmt: skip
        for run in runs:
            output, _ = run.communicate(timeout=300)
            assert run.returncode == 0, output.decode()

    first, second = (_files(root / "models" / "iris") for root in roots)
    assert set(first) >= {"bundle.json", "pipeline.skops", "pipeline.onnx", "confusion.svg"}
    assert first == second
    assert _files(roots[0] / "build") == _files(roots[1] / "build")
    assert b"git_revision" not in first["bundle.json"]
    assert (
        b"created_at" not in first["bundle.json"] or b'"created_at": null' in first["bundle.json"]
    )
