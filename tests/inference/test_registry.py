"""The registry loads every model version, keeps failures apart and reloads without a gap."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from pipeserve.errors import (
    ConfigurationError,
    GeocoderUnavailableError,
    ModelNotFoundError,
    ModelNotReadyError,
)
from pipeserve.inference.predictor import Predictor
from pipeserve.inference.registry import ModelRegistry
from pipeserve.inference.reloader import RepositoryWatcher
from tests.conftest import copy_bundle


@pytest.fixture
def versioned(tmp_path: Path, session_bundle: Path) -> Path:
    """A repository with iris versions 1 and 2."""
    repository = tmp_path / "repo"
    for version in ("1", "2"):
        copy_bundle(session_bundle, repository / "iris" / version, version)
    return repository


def test_a_broken_bundle_does_not_stop_the_others(model_dir: Path) -> None:
    (model_dir / "empty").mkdir()

    registry = ModelRegistry.from_directory(model_dir)

    assert registry.version("iris").ready
    assert not registry.version("empty").ready
    assert "is not a bundle" in (registry.version("empty").error or "")
    assert not registry.ready


def test_lookup_errors_say_what_exists_and_why_not_ready(model_dir: Path) -> None:
    (model_dir / "empty").mkdir()
    registry = ModelRegistry.from_directory(model_dir)

    with pytest.raises(ModelNotFoundError, match=r"available: empty, iris"):
        registry.version("wine")
    with pytest.raises(ModelNotReadyError, match=r"model empty is not ready: .*is not a bundle"):
        registry.ready_version("empty")


def test_an_empty_repository_is_never_ready(tmp_path: Path) -> None:
    registry = ModelRegistry.from_directory(tmp_path)

    assert len(registry) == 0
    assert not registry.ready


def test_the_newest_version_answers_by_default_and_each_can_be_named(versioned: Path) -> None:
    registry = ModelRegistry.from_directory(versioned)

    assert registry.version("iris").version == "2"
    assert registry.version("iris", "1").version == "1"
    assert [entry.label for entry in registry] == ["iris/1", "iris/2"]
    with pytest.raises(ModelNotFoundError, match=r"no version '3' \(available: 1, 2\)"):
        registry.version("iris", "3")


def test_a_broken_newest_version_leaves_the_previous_one_answering(versioned: Path) -> None:
    (versioned / "iris" / "2" / "pipeline.skops").write_bytes(b"tampered")

    registry = ModelRegistry.from_directory(versioned)

    assert registry.version("iris").version == "1"
    assert not registry.version("iris", "2").ready
    assert "sha256" in (registry.version("iris", "2").error or "")
    assert not registry.ready  # policy "all": a broken version keeps the pod out of rotation
    assert ModelRegistry.from_directory(versioned, ready_policy="any").ready


def test_a_manifest_version_must_match_its_version_directory(
    tmp_path: Path, session_bundle: Path
) -> None:
    copy_bundle(session_bundle, tmp_path / "iris" / "3", "4")

    entry = ModelRegistry.from_directory(tmp_path).version("iris", "3")

    assert not entry.ready
    assert "says version '4'" in (entry.error or "")


def test_explicit_bundles_are_served_under_their_manifest_name(
    tmp_path: Path, session_bundle: Path
) -> None:
    first = copy_bundle(session_bundle, tmp_path / "a", "1")
    second = copy_bundle(session_bundle, tmp_path / "b", "2")

    registry = ModelRegistry.from_paths([first, second])

    assert [entry.label for entry in registry] == ["iris/1", "iris/2"]


def test_the_same_version_twice_is_a_configuration_error(
    tmp_path: Path, session_bundle: Path
) -> None:
    first = copy_bundle(session_bundle, tmp_path / "a")
    second = copy_bundle(session_bundle, tmp_path / "b")

    with pytest.raises(ConfigurationError, match="configured twice"):
        ModelRegistry.from_paths([first, second])


def test_reload_loads_new_versions_keeps_unchanged_ones_and_drops_removed_ones(
    versioned: Path, session_bundle: Path
) -> None:
    registry = ModelRegistry.from_directory(versioned)
    unchanged = registry.version("iris", "2")
    copy_bundle(session_bundle, versioned / "iris" / "3", "3")
    shutil.rmtree(versioned / "iris" / "1")

    report = registry.reload()

    assert (report.loaded, report.unchanged, report.removed) == (["iris/3"], ["iris/2"], ["iris/1"])
    assert registry.version("iris").version == "3"
    assert registry.version("iris", "2") is unchanged


def test_a_refused_new_bundle_leaves_the_loaded_version_serving(model_dir: Path) -> None:
    registry = ModelRegistry.from_directory(model_dir)
    serving = registry.version("iris")
    bundle_json = model_dir / "iris" / "bundle.json"
    original = bundle_json.read_bytes()
    (model_dir / "iris" / "pipeline.skops").write_bytes(b"half-copied")
    bundle_json.write_bytes(original.replace(b'"version": "7"', b'"version": "8"'))

    report = registry.reload()

    entry = registry.version("iris")
    assert report.kept == ["iris/7"]
    assert entry.ready
    assert entry.predictor is serving.predictor
    assert "sha256" in (entry.reload_error or "")
    assert registry.ready


def test_a_request_holding_an_entry_finishes_with_it_across_a_reload(
    versioned: Path, session_bundle: Path
) -> None:
    registry = ModelRegistry.from_directory(versioned)
    in_flight = registry.ready_version("iris")
    copy_bundle(session_bundle, versioned / "iris" / "3", "3")

    registry.reload()

    assert registry.version("iris").version == "3"
    assert in_flight.predictor is not None
    assert in_flight.version == "2"
    assert in_flight.predictor.predict_rows([dict.fromkeys(in_flight.predictor.feature_names, 1.0)])


def test_reloading_a_registry_not_loaded_from_disk_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="nothing to reload"):
        ModelRegistry([]).reload()


def test_the_watcher_picks_up_a_new_version_by_itself(
    versioned: Path, session_bundle: Path
) -> None:
    registry = ModelRegistry.from_directory(versioned)
    watcher = RepositoryWatcher(registry, interval=0.05).start()
    try:
        copy_bundle(session_bundle, versioned / "iris" / "3", "3")
        deadline = time.monotonic() + 10
        while registry.version("iris").version != "3" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.stop(timeout=10)

    assert registry.version("iris").version == "3"


def test_the_watcher_needs_a_positive_interval(model_dir: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        RepositoryWatcher(ModelRegistry.from_directory(model_dir), interval=0)


def test_a_model_that_cannot_work_here_is_not_ready_with_the_reason(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def needs_a_url(self: Predictor, rows: object, **_: object) -> None:
        raise ConfigurationError("this model geocodes with Nominatim: set PIPESERVE_GEOCODER_URL")

    monkeypatch.setattr(Predictor, "predict_rows", needs_a_url)

    entry = ModelRegistry.from_directory(model_dir).version("iris")

    assert not entry.ready
    assert "PIPESERVE_GEOCODER_URL" in (entry.error or "")


def test_a_passing_failure_in_the_warm_up_does_not_stop_the_model(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def service_down(self: Predictor, rows: object, **_: object) -> None:
        raise GeocoderUnavailableError("the geocoding service did not answer")

    monkeypatch.setattr(Predictor, "predict_rows", service_down)

    assert ModelRegistry.from_directory(model_dir).version("iris").ready
