"""Reading prepared training tables and describing their columns for the bundle."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from pipeserve.bundle.manifest import DTYPES, FeatureSpec, Task
from pipeserve.errors import TrainingError


def read_table(path: Path, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and the target column of a prepared CSV file: numeric features as float64, text
    features (such as an address) as Python strings; the target as read (see
    :func:`target_values`).

    Raises :class:`TrainingError` when the file is missing, empty, lacks the target column or
    has a feature column that is neither numeric nor text.
    """
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except FileNotFoundError as error:
        raise TrainingError(f"{path} does not exist (run the prepare stage first)") from error
    if frame.empty:
        raise TrainingError(f"{path} has no rows")
    if target not in frame.columns:
        raise TrainingError(
            f"{path} has no target column {target!r}; columns are {list(frame.columns)}"
        )
    return typed_features(frame.drop(columns=[target]), str(path)), frame[target]


def typed_features(features: pd.DataFrame, source: str) -> pd.DataFrame:
    """The feature columns as the server passes them: numbers as float64, text as Python
    strings.

    Raises :class:`TrainingError` for a column that is neither.
    """
    columns: dict[str, pd.Series] = {}
    for name in features.columns:
        column = features[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            columns[str(name)] = column.astype(DTYPES["float64"].column)
        elif _is_text(column):
            columns[str(name)] = column.astype(DTYPES["string"].column)
        else:
            raise TrainingError(f"{source}: feature column {name!r} is neither numeric nor text")
    return pd.DataFrame(columns, index=features.index)


def target_values(target: pd.Series, task: Task, source: str) -> pd.Series:
    """Labels as strings for a classifier (the API answers with strings), numbers as float64
    for a regressor.

    Raises :class:`TrainingError` when a regressor's target is not numeric or has gaps.
    """
    if task == "classification":
        return target.astype(str)
    values = pd.to_numeric(target, errors="coerce")
    if values.isna().any():
        raise TrainingError(
            f"{source}: the target {target.name!r} of a regressor must be a number in every row"
        )
    return values.astype("float64")


def _is_text(column: pd.Series) -> bool:
    values = column.dropna()
    return bool(len(values)) and all(isinstance(value, str) for value in values)


def is_text_feature(column: pd.Series) -> bool:
    """Whether a column that :func:`read_table` returned holds text."""
    return not pd.api.types.is_numeric_dtype(column)


def describe_features(
    features: pd.DataFrame, closed: frozenset[str] = frozenset()
) -> list[FeatureSpec]:
    """Name, dtype and range seen in training of each feature column (no range for text); the
    text columns in ``closed`` (whose encoder refuses unknown values) list their categories."""
    return [
        FeatureSpec(
            name=str(name),
            dtype="string",
            categories=sorted(map(str, features[name].dropna().unique()))
            if name in closed
            else None,
        )
        if is_text_feature(features[name])
        else FeatureSpec(
            name=str(name),
            dtype="float64",
            minimum=float(features[name].min()),
            maximum=float(features[name].max()),
        )
        for name in features.columns
    ]


def example_row(features: pd.DataFrame) -> dict[str, Any]:
    """The first complete training row as plain JSON values, used as the API's documented
    example."""
    complete = features.dropna()
    row = (complete if len(complete) else features).iloc[0]
    return {
        str(name): str(value) if is_text_feature(features[name]) else float(value)
        for name, value in row.items()
    }


def file_md5(path: Path) -> str:
    """md5 of a file's bytes: the hash DVC 3 records for a file in ``dvc.lock``."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
