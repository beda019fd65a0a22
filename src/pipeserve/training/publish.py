"""Publish a trained bundle for serving: add its metrics and lineage and write it to
``models/<name>/``.

This is a stage of its own so that no DVC stage rewrites another stage's output: ``train``
writes the fitted pipeline, ``evaluate`` the metrics, and ``bundle`` combines both.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from pipeserve.bundle.io import load_bundle, write_bundle
from pipeserve.bundle.manifest import FastPath, InputDigest, Lineage, Manifest
from pipeserve.bundle.trusted import Trust
from pipeserve.errors import TrainingError
from pipeserve.training.compile import ONNX_FILE, compile_pipeline
from pipeserve.training.data import file_md5
from pipeserve.training.figures import (
    CONFUSION_FILE,
    PIPELINE_FILE,
    RESIDUALS_FILE,
    confusion_svg,
    pipeline_svg,
    residual_svg,
)


def publish(
    trained_dir: Path,
    metrics_path: Path,
    inputs: list[Path],
    params: dict[str, Any],
    output_dir: Path,
    *,
    trust: Trust | None = None,
    confusion_path: Path | None = None,
) -> Manifest:
    """Verify the trained bundle, attach metrics, lineage and the model card's pictures (the
    pipeline's steps; from ``confusion_path``, the evaluate stage's ``actual,predicted`` table,
    the confusion matrix of a classifier or the residual plot of a regressor), and write the
    served bundle.

    Raises :class:`TrainingError` when the metrics file is missing or not a JSON object,
    :class:`~pipeserve.errors.UntrustedTypeError` when the pipeline holds a type outside
    ``trust`` (the project's declared list; default: pipeserve's built-in one) and
    :class:`~pipeserve.errors.BundleError` when the trained bundle does not verify.
    """
    bundle = load_bundle(trained_dir, trust=trust)
    try:
        metrics = orjson.loads(Path(metrics_path).read_bytes())
    except FileNotFoundError as error:
        raise TrainingError(f"{metrics_path} does not exist (run the evaluate stage)") from error
    except orjson.JSONDecodeError as error:
        raise TrainingError(f"{metrics_path} is not valid JSON") from error
    if not isinstance(metrics, dict):
        raise TrainingError(f"{metrics_path} must hold a JSON object of metrics")
    lineage = Lineage(
        inputs=[InputDigest(path=Path(p).as_posix(), md5=file_md5(p)) for p in inputs],
        params=params,
    )
    manifest = bundle.manifest.model_copy(update={"metrics": metrics, "lineage": lineage})
    extra: dict[str, bytes] = {}
    if inputs:
        compiled = compile_pipeline(bundle.pipeline, _input_rows(inputs, manifest))
        manifest = manifest.model_copy(update={"fast_path": compiled.report})
        if compiled.onnx is not None:
            extra[ONNX_FILE] = compiled.onnx
    else:
        reason = "no --input data to check a compiled form against"
        manifest = manifest.model_copy(update={"fast_path": FastPath(reason=reason)})
    figures = {"pipeline": PIPELINE_FILE}
    extra[PIPELINE_FILE] = pipeline_svg(bundle.pipeline, manifest.feature_names)
    if confusion_path is not None and manifest.task == "classification":
        actual, predicted = _confusion_table(confusion_path)
        extra[CONFUSION_FILE] = confusion_svg(actual, predicted, manifest.classes)
        figures["confusion"] = CONFUSION_FILE
    elif confusion_path is not None:  # a regressor: the same table holds numbers
        actual, predicted = _confusion_table(confusion_path)
        extra[RESIDUALS_FILE] = residual_svg(_numbers(actual), _numbers(predicted))
        figures["residuals"] = RESIDUALS_FILE
    manifest = manifest.model_copy(update={"figures": figures})
    return write_bundle(output_dir, bundle.pipeline, manifest, extra)


def _confusion_table(path: Path) -> tuple[list[str], list[str]]:
    """The ``actual`` and ``predicted`` columns that the evaluate stage wrote."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError as error:
        raise TrainingError(f"{path} does not exist (run the evaluate stage)") from error
    if not rows or not {"actual", "predicted"} <= set(rows[0]):
        raise TrainingError(f"{path} must be a table with columns actual,predicted")
    return [row["actual"] for row in rows], [row["predicted"] for row in rows]


def _numbers(cells: list[str]) -> list[float]:
    try:
        return [float(cell) for cell in cells]
    except ValueError as error:
        message = f"a regressor's actual,predicted table holds a non-number: {error}"
        raise TrainingError(message) from error


def _input_rows(inputs: list[Path], manifest: Manifest) -> pd.DataFrame:
    """The raw feature columns of the prepared data, typed as the server will pass them, to
    check the compiled form against: every row scikit-learn was trained and tested on."""
    dtypes = {feature.name: feature.column_dtype for feature in manifest.features}
    frames = [
        pd.read_csv(path, keep_default_na=False, na_values=[""])[list(dtypes)].astype(dtypes)
        for path in inputs
    ]
    return pd.concat(frames, ignore_index=True)
