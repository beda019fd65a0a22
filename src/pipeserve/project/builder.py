"""Find and call the project's pipeline builder, named by import path in ``params.yaml``.

``train.pipeline: my_project.pipeline:build`` names a function of the project's own package. It
is called with the rest of the ``train`` section (a plain mapping: the builder checks its own
parameters) and returns an unfitted scikit-learn estimator, usually a ``Pipeline``: pipeserve
serves whatever it returns, feature engineering included.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator, is_classifier, is_regressor

from pipeserve.bundle.manifest import Task
from pipeserve.errors import ConfigurationError

Builder = Callable[[Mapping[str, Any]], Any]


def put_on_path(directory: Path) -> None:
    """Make the packages in ``directory`` (the project root) importable, as ``python -m`` and
    ``flask --app`` do for the working directory, so a project needs no install to train."""
    entry = str(Path(directory).resolve())
    if entry not in sys.path:
        sys.path.insert(0, entry)


def load_builder(spec: str) -> Builder:
    """The callable that ``module:attribute`` names.

    Raises :class:`ConfigurationError` naming the module or attribute that is missing.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"train.pipeline {spec!r} must look like package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(
            f"train.pipeline {spec!r}: cannot import {error.name or module_name!r} ({error}); "
            "run from the project root or install the project's package (pip install -e .)",
            module=module_name,
        ) from error
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigurationError(
                f"train.pipeline {spec!r}: {module_name} has no attribute {attribute!r}",
                module=module_name,
            )
        target = getattr(target, part)
    if not callable(target):
        raise ConfigurationError(f"train.pipeline {spec!r} is not callable")
    builder: Builder = target
    return builder


def build_estimator(spec: str, params: Mapping[str, Any]) -> Any:
    """Call the builder that ``spec`` names with ``params`` and check what it returns.

    Raises :class:`ConfigurationError` when the builder fails on its parameters (a
    ``ValueError`` or ``TypeError``, which pydantic's errors are) or returns something that is
    not an unfitted scikit-learn estimator that classifies or regresses.
    """
    builder = load_builder(spec)
    try:
        estimator = builder(params)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"train.pipeline {spec!r} rejected its parameters: {error}") from (
            error
        )
    if not isinstance(estimator, BaseEstimator) or not hasattr(estimator, "fit"):
        raise ConfigurationError(
            f"train.pipeline {spec!r} returned {type(estimator).__name__}, not a scikit-learn "
            "estimator"
        )
    task_of(estimator, spec)
    return estimator


def task_of(estimator: Any, source: str) -> Task:
    """``classification`` or ``regression``, from scikit-learn's own estimator tags.

    Raises :class:`ConfigurationError` for an estimator that is neither (a bare transformer).
    """
    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    raise ConfigurationError(
        f"{source}: the estimator {type(estimator).__name__} is neither a classifier nor a "
        "regressor; end the pipeline with a model"
    )


def estimator_name(estimator: Any) -> str:
    """The final estimator's class name (``Ridge``), for the manifest and the metadata."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return type(final).__name__
