"""Bundles round-trip, and anything but the bundle training wrote is refused."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import orjson
import pytest
import skops.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from pipeserve.bundle.io import (
    load_bundle,
    manifest_bytes,
    read_manifest,
    sha256_hex,
    verify_bundle,
    write_bundle,
)
from pipeserve.bundle.manifest import MANIFEST_FILE, PIPELINE_FILE, FileDigest
from pipeserve.bundle.trusted import TRUSTED_TYPES
from pipeserve.errors import BundleError, BundleIntegrityError, UntrustedTypeError
from tests.conftest import FEATURES, iris_frame


class Sneaky(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A type nobody reviewed: stands for code smuggled into a bundle."""

    def fit(self, X, y=None):  # type: ignore[no-untyped-def]
        return self

    def transform(self, X):  # type: ignore[no-untyped-def]
        return X


def test_round_trip_predicts_exactly_as_before(bundle_dir: Path, tmp_path: Path) -> None:
    loaded = load_bundle(bundle_dir)
    rows = iris_frame()[FEATURES]

    rewritten = write_bundle(tmp_path / "copy", loaded.pipeline, loaded.manifest)
    reloaded = load_bundle(tmp_path / "copy")

    np.testing.assert_array_equal(
        reloaded.pipeline.predict_proba(rows), loaded.pipeline.predict_proba(rows)
    )
    assert reloaded.manifest == rewritten
    assert rewritten.model_copy(update={"files": {}}) == loaded.manifest.model_copy(
        update={"files": {}}
    )


def test_manifest_records_what_serving_and_lineage_need(bundle_dir: Path) -> None:
    manifest = read_manifest(bundle_dir)

    assert manifest.classes == ["setosa", "versicolor", "virginica"]
    assert manifest.feature_names == FEATURES
    assert manifest.example in iris_frame()[FEATURES].to_dict("records")
    assert all(f.minimum is not None and f.maximum is not None for f in manifest.features)
    assert manifest.metrics is not None
    assert manifest.metrics["accuracy"] >= 0.9
    assert {"scikit-learn", "numpy", "skops", "python"} <= set(manifest.library_versions)
    assert [len(i.md5) for i in manifest.lineage.inputs] == [32, 32]
    assert len(manifest.files[PIPELINE_FILE].sha256) == 64


def test_a_modified_pipeline_file_is_refused(bundle_dir: Path) -> None:
    path = bundle_dir / PIPELINE_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(BundleIntegrityError, match="does not match its recorded sha256"):
        load_bundle(bundle_dir)
    with pytest.raises(BundleIntegrityError):
        verify_bundle(bundle_dir)


def test_a_missing_pipeline_file_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / PIPELINE_FILE).unlink()

    with pytest.raises(BundleError, match="is missing: the bundle is incomplete"):
        load_bundle(bundle_dir)


def test_a_directory_without_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="is not a bundle"):
        load_bundle(tmp_path)


def test_a_manifest_that_does_not_list_the_pipeline_is_incomplete(bundle_dir: Path) -> None:
    manifest = read_manifest(bundle_dir).model_copy(update={"files": {}})
    (bundle_dir / MANIFEST_FILE).write_bytes(manifest_bytes(manifest))

    with pytest.raises(BundleError, match=r"does not list pipeline\.skops"):
        load_bundle(bundle_dir)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda doc: doc.pop("classes"), "lists at least two classes"),
        (lambda doc: doc.update(format_version=99), "format_version"),
        (lambda doc: doc["files"].update({"../escape": doc["files"][PIPELINE_FILE]}), "escapes"),
    ],
)
def test_a_damaged_manifest_is_refused_with_the_field(bundle_dir: Path, change, message) -> None:  # type: ignore[no-untyped-def]
    path = bundle_dir / MANIFEST_FILE
    document = orjson.loads(path.read_bytes())
    change(document)
    path.write_bytes(orjson.dumps(document))

    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_dir)


def test_a_manifest_that_is_not_json_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / MANIFEST_FILE).write_text("{not json")

    with pytest.raises(BundleError, match="is not a valid bundle manifest"):
        read_manifest(bundle_dir)


def test_untrusted_types_are_refused_even_when_the_digests_match(
    bundle_dir: Path, tmp_path: Path
) -> None:
    """Recomputing the sha256 is easy for whoever can write the files; the type list is not."""
    loaded = load_bundle(bundle_dir)
    smuggled = Pipeline([("sneaky", Sneaky()), ("rest", loaded.pipeline)])
    smuggled.fit(iris_frame()[FEATURES], iris_frame()["species"])
    write_bundle(tmp_path / "evil", smuggled, loaded.manifest)

    with pytest.raises(UntrustedTypeError, match=r"tests\.bundle\.test_io\.Sneaky"):
        load_bundle(tmp_path / "evil")


def test_a_corrupt_archive_with_matching_digest_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / PIPELINE_FILE).write_bytes(b"not a zip file")
    manifest = read_manifest(bundle_dir)
    files = {PIPELINE_FILE: FileDigest(sha256=sha256_hex(b"not a zip file"), size=14)}
    (bundle_dir / MANIFEST_FILE).write_bytes(
        manifest_bytes(manifest.model_copy(update={"files": files}))
    )

    with pytest.raises(BundleError, match="is not a readable skops file"):
        load_bundle(bundle_dir)


def test_library_version_drift_is_warned_about(
    bundle_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = read_manifest(bundle_dir)
    versions = {**manifest.library_versions, "scikit-learn": "0.24.2"}
    (bundle_dir / MANIFEST_FILE).write_bytes(
        manifest_bytes(manifest.model_copy(update={"library_versions": versions}))
    )

    with caplog.at_level(logging.WARNING, logger="pipeserve"):
        loaded = load_bundle(bundle_dir)

    assert loaded.version_warnings == [
        f"scikit-learn {manifest.library_versions['scikit-learn']} differs from the training "
        "version 0.24.2; predictions may differ"
    ]
    assert "0.24.2" in caplog.text


def test_the_trusted_list_covers_every_estimator_we_train(session_bundle: Path) -> None:
    payload = (session_bundle / PIPELINE_FILE).read_bytes()

    assert set(skops.io.get_untrusted_types(data=payload)) <= TRUSTED_TYPES


def test_writing_over_an_existing_bundle_replaces_it_whole(bundle_dir: Path) -> None:
    loaded = load_bundle(bundle_dir)
    (bundle_dir / "stale.txt").write_text("left over")

    write_bundle(bundle_dir, loaded.pipeline, loaded.manifest)

    assert sorted(p.name for p in bundle_dir.iterdir()) == [MANIFEST_FILE, PIPELINE_FILE]
    assert not list(bundle_dir.parent.glob(".iris*"))
    assert load_bundle(bundle_dir).pipeline.predict(iris_frame()[FEATURES].head(1))[0] == "setosa"
