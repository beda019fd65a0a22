"""Fit the pipeline on the prepared training data and write it as an (unpublished) bundle."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from sklearn.pipeline import Pipeline

from pipeserve.bundle.io import write_bundle
from pipeserve.bundle.manifest import Manifest
from pipeserve.bundle.versions import library_versions
from pipeserve.training.data import describe_features, example_row, read_table
from pipeserve.training.params import CreditParams, Params
from pipeserve.training.pipeline import build_pipeline

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
        created_at=datetime.now(UTC),
        estimator=params.train.estimator,
        classes=[str(c) for c in pipeline.classes_],
        features=describe_features(features),
        example=example_row(features),
        library_versions=library_versions(),
    )
    return pipeline, manifest


def train(params: Params | CreditParams, train_csv: Path, output_dir: Path) -> Manifest:
    """Fit and write the bundle to ``output_dir``; return its manifest."""
    pipeline, manifest = fit_pipeline(params, train_csv)
    return write_bundle(output_dir, pipeline, manifest)
