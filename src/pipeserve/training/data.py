"""Reading prepared training tables and describing their columns for the bundle."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from pipeserve.bundle.manifest import FeatureSpec
from pipeserve.errors import TrainingError


def read_table(path: Path, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and labels of a prepared CSV file.

    Raises :class:`TrainingError` when the file is missing, empty, lacks the target column or
    has a non-numeric feature column.
    """
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError as error:
        raise TrainingError(f"{path} does not exist (run the prepare stage first)") from error
    if frame.empty:
        raise TrainingError(f"{path} has no rows")
    if target not in frame.columns:
        raise TrainingError(
            f"{path} has no target column {target!r}; columns are {list(frame.columns)}"
        )
    features = frame.drop(columns=[target])
    non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        raise TrainingError(f"{path}: feature columns {non_numeric} are not numeric")
    return features.astype("float64"), frame[target].astype(str)


def describe_features(features: pd.DataFrame) -> list[FeatureSpec]:
    """Name, dtype and range seen in training of each feature column."""
    return [
        FeatureSpec(
            name=str(name),
            dtype="float64",
            minimum=float(features[name].min()),
            maximum=float(features[name].max()),
        )
        for name in features.columns
    ]


def example_row(features: pd.DataFrame) -> dict[str, Any]:
    """The first training row as plain JSON values, used as the API's documented example."""
    return {str(k): float(v) for k, v in features.iloc[0].items()}


def file_md5(path: Path) -> str:
    """md5 of a file's bytes: the hash DVC 3 records for a file in ``dvc.lock``."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
