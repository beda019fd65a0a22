"""The model repository layout: one directory per model, optionally one per version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeserve.errors import ConfigurationError
from pipeserve.inference.store import (
    BundleLocation,
    discover_repository,
    explicit_locations,
    peek_identity,
    version_sort_key,
)
from tests.conftest import copy_bundle


def test_a_model_directory_holding_a_bundle_is_one_model(model_dir: Path) -> None:
    assert discover_repository(model_dir) == [BundleLocation(model_dir / "iris", "iris", None)]


def test_version_directories_are_versions_in_natural_order(
    tmp_path: Path, session_bundle: Path
) -> None:
    for version in ("10", "2", "1"):
        copy_bundle(session_bundle, tmp_path / "iris" / version, version)
    (tmp_path / "iris" / ".3-staging").mkdir()  # the bundle writer's work in progress

    locations = discover_repository(tmp_path)

    assert [(loc.name, loc.version) for loc in locations] == [
        ("iris", "1"),
        ("iris", "2"),
        ("iris", "10"),
    ]


def test_hidden_and_plain_files_are_not_models(model_dir: Path) -> None:
    shutil.copytree(model_dir / "iris", model_dir / "iris-v2")
    (model_dir / ".iris-staging").mkdir()
    (model_dir / "README.txt").write_text("not a model")

    assert [loc.name for loc in discover_repository(model_dir)] == ["iris", "iris-v2"]


def test_a_directory_without_bundle_is_listed_so_that_it_fails_visibly(model_dir: Path) -> None:
    (model_dir / "empty").mkdir()

    assert BundleLocation(model_dir / "empty", "empty", None) in discover_repository(model_dir)


def test_a_missing_model_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PIPESERVE_MODEL_DIR"):
        discover_repository(tmp_path / "absent")


def test_explicit_bundles_are_named_by_their_manifest(bundle_dir: Path) -> None:
    (location,) = explicit_locations([bundle_dir])

    assert (location.name, location.version) == (None, None)
    assert peek_identity(location.path) == ("iris", "7")


def test_peeking_at_a_broken_bundle_names_nothing(tmp_path: Path) -> None:
    (tmp_path / "bundle.json").write_text("[1, 2")

    assert peek_identity(tmp_path) == (None, None)
    assert peek_identity(tmp_path / "absent") == (None, None)


def test_versions_sort_numbers_numerically_and_before_words() -> None:
    versions = ["1.10", "beta", "1.9", "2", "10"]

    assert sorted(versions, key=version_sort_key) == ["1.9", "1.10", "2", "10", "beta"]
