"""Build a served bundle from a fitted pipeline: the Python API for teams without DVC.

``pipeserve.bundle.build_bundle`` (which calls :func:`build_bundle`) takes a fitted scikit-learn
pipeline and a sample of the rows it was trained on; the input schema, the ranges seen in
training and the documented example come from that sample. The result is the same bundle
``pipeserve bundle build`` writes, with the same checks: the types it holds must be on the
trusted list, and a compiled fast path is kept only when it reproduces the pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeserve.bundle.io import untrusted_types, write_bundle
from pipeserve.bundle.manifest import Manifest
from pipeserve.bundle.trusted import Trust
from pipeserve.bundle.versions import library_versions
from pipeserve.errors import TrainingError, UntrustedTypeError
from pipeserve.project.builder import estimator_name, task_of
from pipeserve.training.compile import ONNX_FILE, compile_pipeline
from pipeserve.training.data import describe_features, example_row, typed_features
from pipeserve.training.statistics import describe_distributions


def describe_pipeline(
    pipeline: Any, features: pd.DataFrame, *, name: str, version: str
) -> Manifest:
    """The manifest of a fitted ``pipeline`` whose input columns ``features`` shows (without
    metrics, lineage or fast path yet)."""
    task = task_of(pipeline, name)
    classes = [str(c) for c in pipeline.classes_] if task == "classification" else []
    return Manifest(
        name=name,
        version=version,
        created_at=build_time(),
        task=task,
        estimator=estimator_name(pipeline),
        classes=classes,
        features=describe_features(features, closed_category_columns(pipeline)),
        example=example_row(features),
        statistics=describe_distributions(features),
        library_versions=library_versions(),
    )


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


def closed_category_columns(estimator: Any) -> frozenset[str]:
    """The input columns whose first encoder refuses categories unseen in training
    (``handle_unknown="error"``, the default of scikit-learn's one-hot and ordinal encoders):
    for those only, the training categories become the allowed values of the request schema.
    Others accept any text and let the encoder decide (``handle_unknown="ignore"``, say)."""
    from sklearn.compose import ColumnTransformer  # noqa: PLC0415
    from sklearn.pipeline import Pipeline  # noqa: PLC0415
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder  # noqa: PLC0415

    found: set[str] = set()

    def visit(step: Any, columns: list[str] | None) -> None:
        if isinstance(step, Pipeline):
            visit(step.steps[0][1], columns)
        elif isinstance(step, ColumnTransformer):
            for _, transformer, selected in step.transformers_:
                names = [selected] if isinstance(selected, str) else selected
                if isinstance(names, list) and all(isinstance(n, str) for n in names):
                    visit(transformer, names)
        elif isinstance(step, OneHotEncoder | OrdinalEncoder) and step.handle_unknown == "error":
            found.update(columns or [str(n) for n in getattr(step, "feature_names_in_", [])])

    visit(estimator, None)
    return frozenset(found)


def check_trusted(pipeline: Any, trust: Trust) -> None:
    """Refuse a pipeline that refers to types outside ``trust``, before it is written.

    Raises :class:`UntrustedTypeError` listing every such type.
    """
    import skops.io  # noqa: PLC0415  # what write_bundle will persist, checked first

    refused = trust.refused(untrusted_types(skops.io.dumps(pipeline), "the pipeline"))
    if refused:
        raise UntrustedTypeError(
            f"the pipeline holds types that are not declared as trusted: {', '.join(refused)}; "
            f"review each and, if it is safe to load, add it to {trust.review}",
            types=refused,
            setting=trust.review,
        )


def build_bundle(
    pipeline: Any,
    sample: pd.DataFrame,
    output: Path,
    *,
    name: str,
    version: str,
    target: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    trusted_types: Iterable[str] = (),
    compile_fast_path: bool = True,
) -> Manifest:
    """Write the fitted ``pipeline`` as a bundle at ``output`` and return its manifest.

    ``sample``: rows the pipeline was trained on (its ``target`` column, if named, is dropped);
    ``trusted_types``: the project's reviewed types beyond pipeserve's built-in list (the server
    must trust the same ones, see ``PIPESERVE_TRUSTED_TYPES``). Raises
    :class:`UntrustedTypeError` for an undeclared type and :class:`TrainingError` for an
    unusable sample.
    """
    frame = sample.drop(columns=[target]) if target is not None else sample
    if frame.empty:
        raise TrainingError("the sample has no rows; pass rows the pipeline was trained on")
    features = typed_features(frame, "sample")
    check_trusted(pipeline, Trust.with_types(trusted_types, review="trusted_types"))
    manifest = describe_pipeline(pipeline, features, name=name, version=version)
    if metrics is not None:
        manifest = manifest.model_copy(update={"metrics": dict(metrics)})
    extra: dict[str, bytes] | None = None
    if compile_fast_path:
        compiled = compile_pipeline(pipeline, features)
        manifest = manifest.model_copy(update={"fast_path": compiled.report})
        extra = {ONNX_FILE: compiled.onnx} if compiled.onnx is not None else None
    return write_bundle(Path(output), pipeline, manifest, extra)
