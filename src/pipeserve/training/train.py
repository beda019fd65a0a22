"""Fit the pipeline on the prepared training data and write it as an (unpublished) bundle."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from sklearn.pipeline import Pipeline

from pipeserve.bundle.io import write_bundle
from pipeserve.bundle.manifest import Manifest
from pipeserve.bundle.versions import library_versions
from pipeserve.errors import TrainingError
from pipeserve.training.data import describe_features, example_row, read_table
from pipeserve.training.params import CreditParams, Params
from pipeserve.training.pipeline import build_pipeline
from pipeserve.training.statistics import describe_distributions

logger = logging.getLogger(__name__)


def fit_pipeline(params: Params | CreditParams, train_csv: Path) -> tuple[Pipeline, Manifest]:
    """Fit the configured pipeline and describe it in a manifest (without metrics yet).

    Raises :class:`~pipeserve.errors.TrainingError` for unusable training data.
    """
    features, labels = read_table(train_csv, params.train.target)
    pipeline = build_pipeline(params.train)
    logger.info("fitting %s on %d rows x %d features", params.train.estimator, *features.shape)
    pipeline.fit(features, labels)
    manifest = Manifest(
        name=params.bundle.name,
        version=params.bundle.version,
        created_at=build_time(),
        estimator=params.train.estimator,
        classes=[str(c) for c in pipeline.classes_],
        features=describe_features(features),
        example=example_row(features),
        statistics=describe_distributions(features),
        library_versions=library_versions(),
    )
    return pipeline, manifest


def build_time() -> datetime | None:
    """The build time reproducible builds agree on: ``SOURCE_DATE_EPOCH`` (seconds) if set,
    else none at all; the wall clock would make every rebuild differ in bytes.

    Raises :class:`~pipeserve.errors.TrainingError` for a value that is not a number.
    """
    # The reproducible-builds.org convention, read by the build step, not the server.
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    if not epoch.isdigit():
        raise TrainingError(f"SOURCE_DATE_EPOCH must be seconds since 1970, got {epoch!r}")
    return datetime.fromtimestamp(int(epoch), UTC)


def train(params: Params | CreditParams, train_csv: Path, output_dir: Path) -> Manifest:
    """Fit and write the bundle to ``output_dir``; return its manifest."""
    pipeline, manifest = fit_pipeline(params, train_csv)
    return write_bundle(output_dir, pipeline, manifest)
