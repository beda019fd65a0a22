"""The registry loads every bundle of a model repository and keeps failures apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeserve.errors import ConfigurationError, ModelNotFoundError, ModelNotReadyError
from pipeserve.inference.registry import ModelRegistry
from pipeserve.inference.store import discover_bundles


def test_discovers_one_model_per_directory_and_skips_dot_directories(model_dir: Path) -> None:
    shutil.copytree(model_dir / "iris", model_dir / "iris-v2")
    (model_dir / ".iris-staging").mkdir()
    (model_dir / "README.txt").write_text("not a model")

    assert list(discover_bundles(model_dir)) == ["iris", "iris-v2"]


def test_a_missing_model_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PIPESERVE_MODEL_DIR"):
        discover_bundles(tmp_path / "absent")


def test_a_broken_bundle_does_not_stop_the_others(model_dir: Path) -> None:
    (model_dir / "empty").mkdir()

    registry = ModelRegistry.from_directory(model_dir)

    assert registry.entry("iris").ready
    assert not registry.entry("empty").ready
    assert "is not a bundle" in (registry.entry("empty").error or "")
    assert not registry.ready


def test_lookup_errors_say_what_exists_and_why_not_ready(model_dir: Path) -> None:
    (model_dir / "empty").mkdir()
    registry = ModelRegistry.from_directory(model_dir)

    with pytest.raises(ModelNotFoundError, match=r"available: empty, iris"):
        registry.entry("wine")
    with pytest.raises(ModelNotReadyError, match=r"model 'empty' is not ready: .*is not a bundle"):
        registry.ready_entry("empty")


def test_an_empty_repository_is_never_ready(tmp_path: Path) -> None:
    registry = ModelRegistry.from_directory(tmp_path)

    assert len(registry) == 0
    assert not registry.ready
