"""A bundle's creation time comes from SOURCE_DATE_EPOCH, never from the clock; a bundle
written before lineage dropped the git revision still loads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from pipeserve.bundle.io import load_bundle
from pipeserve.errors import TrainingError
from pipeserve.training.build import build_time


def test_no_epoch_means_no_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)

    assert build_time() is None


def test_the_epoch_is_the_creation_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")

    assert build_time() == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_malformed_epoch_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")

    with pytest.raises(TrainingError, match="SOURCE_DATE_EPOCH"):
        build_time()


def test_a_bundle_with_the_old_git_lineage_still_loads(bundle_dir: Path) -> None:
    path = bundle_dir / "bundle.json"
    document = orjson.loads(path.read_bytes())
    document["lineage"].update(git_revision="0" * 40, git_dirty=False)
    path.write_bytes(orjson.dumps(document))

    assert load_bundle(bundle_dir).manifest.lineage.inputs
