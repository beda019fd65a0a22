"""A fresh clone rebuilds to exactly what is committed: after `dvc repro`, `git status` is
clean (dvc.lock, metrics and plots unchanged) and a second `dvc repro` has nothing to do.

It tests the committed HEAD, as a new user would get it: commit, then `make models`, then
commit dvc.lock, and this test holds. Only the iris stages run (`dvc repro bundle`), to keep it
near a minute; the credit stages go through the same code.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from benchmarks.harness import venv_environment

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).parents[2]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_a_fresh_clone_rebuilds_to_the_committed_lock(tmp_path: Path) -> None:
    if not (PROJECT / ".git").exists():
        pytest.skip("not a git checkout")
    env = venv_environment()
    env.pop("SOURCE_DATE_EPOCH", None)
    clone = tmp_path / "clone"
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(PROJECT), str(clone)], tmp_path, env)
    # The stages run the clone's code, not the (possibly edited) working tree's.
    env["PYTHONPATH"] = str(clone / "src")
    assert not (clone / "models").exists()

    _run(["dvc", "repro", "bundle"], clone, env)
    status = _run(["git", "status", "--porcelain"], clone, env)
    again = _run(["dvc", "repro", "bundle"], clone, env)

    assert (clone / "models" / "iris" / "bundle.json").is_file()
    assert status == "", f"the rebuild differs from what is committed:\n{status}"
    assert "Running stage" not in again
    assert "didn't change, skipping" in again or "up to date" in again
