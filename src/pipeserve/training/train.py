"""Fit the project's pipeline on the prepared training data and write it as an (unpublished)
bundle."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeserve.bundle.io import write_bundle
from pipeserve.bundle.manifest import Manifest
from pipeserve.bundle.trusted import Trust
from pipeserve.project.builder import build_estimator, task_of
from pipeserve.project.params import ProjectParams
from pipeserve.training.build import check_trusted, describe_pipeline
from pipeserve.training.data import read_table, target_values

logger = logging.getLogger(__name__)


def fit_pipeline(params: ProjectParams, train_csv: Path) -> tuple[Any, Manifest]:
    """Build the pipeline ``train.pipeline`` names, fit it and describe it in a manifest
    (without metrics yet).

    Raises :class:`~pipeserve.errors.ConfigurationError` for a builder that cannot be found or
    refuses its parameters, :class:`~pipeserve.errors.TrainingError` for unusable training data.
    """
    features, target = read_table(train_csv, params.train.target)
    pipeline = build_estimator(params.train.pipeline, params.train.builder_params)
    task = task_of(pipeline, params.train.pipeline)
    logger.info(
        "fitting %s (%s) on %d rows x %d features", params.train.pipeline, task, *features.shape
    )
    pipeline.fit(features, target_values(target, task, str(train_csv)))
    manifest = describe_pipeline(
        pipeline, features, name=params.bundle.name, version=params.bundle.version
    )
    return pipeline, manifest


def train(
    params: ProjectParams, train_csv: Path, output_dir: Path, trust: Trust | None = None
) -> Manifest:
    """Fit and write the bundle to ``output_dir``; return its manifest.

    Raises :class:`~pipeserve.errors.UntrustedTypeError` before writing anything when the fitted
    pipeline holds a type outside ``trust`` (default: pipeserve's built-in list).
    """
    pipeline, manifest = fit_pipeline(params, train_csv)
    check_trusted(pipeline, trust or Trust())
    return write_bundle(output_dir, pipeline, manifest)
