"""The one step both engines share: validate and score one chunk of rows.

A chunk is an Arrow record batch (a Parquet file, Spark's Arrow batches) or a pandas frame (CSV
and JSON lines, typed as :mod:`pipeserve.batch.files` says). Its feature columns go through the
HTTP API's column validator and :class:`~pipeserve.inference.predictor.Predictor` as whole
columns; a row is looked at on its own only when it is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pipeserve.errors import AddressNotFoundError, ConfigurationError
from pipeserve.inference.predictor import Predictor
from pipeserve.inference.schema import InstanceValidator
from pipeserve.protocols.columns import ColumnValidator

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

Rejects = list[tuple[int, list[dict[str, Any]]]]
_EMPTY_LABELS: NDArray[Any] = np.empty(0, dtype=object)


def output_columns(
    classes: Sequence[str], probabilities: bool, regression: bool = False
) -> list[str]:
    """The prediction columns both engines write after the key columns: a regressor's
    ``value``, or ``label`` and, when asked for, ``proba_<class>`` per class."""
    if regression:
        return ["value"]
    return ["label", *([f"proba_{c}" for c in classes] if probabilities else [])]


@dataclass(frozen=True)
class ChunkScores:
    """One chunk scored: the positions (0-based, within the chunk) of the rows that scored with
    their labels and probabilities (a regressor's values instead), and the rejected positions
    with their errors (``[{"field", "message"}]``), in position order."""

    positions: NDArray[np.int64]
    labels: NDArray[Any]  # Python strings
    probabilities: NDArray[np.float64] | None
    rejects: Rejects
    values: NDArray[np.float64] | None = None

    def predictions(self, classes: Sequence[str]) -> dict[str, Any]:
        """The prediction columns of the scored rows, named as :func:`output_columns` says."""
        if self.values is not None:
            return {"value": self.values}
        columns: dict[str, Any] = {"label": self.labels}
        if self.probabilities is not None:
            for index, name in enumerate(classes):
                columns[f"proba_{name}"] = self.probabilities[:, index]
        return columns


def missing_features_error(
    source: str, missing: Sequence[str], needed: Sequence[str]
) -> ConfigurationError:
    """The error both engines raise for an input without some of the model's features."""
    return ConfigurationError(
        f"{source} lacks the feature columns {list(missing)}; the model needs {list(needed)}",
        path=source,
        missing=list(missing),
    )


def chunk_columns(chunk: Any) -> list[str]:
    """The column names of an Arrow record batch or a pandas frame."""
    names = chunk.schema.names if hasattr(chunk, "schema") else chunk.columns
    return [str(name) for name in names]


def score_chunk(
    predictor: Predictor,
    validator: InstanceValidator,
    chunk: pa.RecordBatch | pd.DataFrame,
) -> ChunkScores:
    """Validate and score one chunk: the one step the local and the Spark engine share.

    Columns other than the model's features are ignored. A row that fails validation, or whose
    address a rejecting geocoder cannot find, is rejected with its errors, never dropped.
    Probabilities are kept whenever the model has them (its labels are their arg-max); which
    columns are written is :func:`output_columns`' choice.
    Raises :class:`ConfigurationError` when a feature column is missing from the chunk.
    """
    present = set(chunk_columns(chunk))
    missing = [name for name in predictor.feature_names if name not in present]
    if missing:
        raise missing_features_error("the input", missing, predictor.feature_names)
    probabilities = predictor.has_probabilities
    columns, positions, rejects = valid_columns(validator.columns, chunk)
    scores = predict_valid(predictor, columns, positions, probabilities, rejects)
    rejects.sort(key=lambda reject: reject[0])
    return scores


def _raw_columns(
    validator: ColumnValidator, chunk: Any
) -> list[tuple[NDArray[Any], NDArray[np.bool_] | None]]:
    """Each feature's values (and null mask) as the validator takes them."""
    if hasattr(chunk, "schema"):  # Arrow: pyarrow is there, since the chunk is
        from pipeserve.batch.arrow import feature_values  # noqa: PLC0415

        return [feature_values(chunk.column(name)) for name in validator.names]
    return [(chunk[name].to_numpy(), None) for name in validator.names]


def valid_columns(
    validator: ColumnValidator, chunk: Any
) -> tuple[dict[str, NDArray[Any]], NDArray[np.int64], Rejects]:
    """:func:`score_chunk`'s first step: the chunk's valid rows as validated columns, their
    positions, and each invalid row's position with every problem. Validated by column, as the
    HTTP API does: rows are looked at only when a check fails."""
    raw = _raw_columns(validator, chunk)
    size = chunk.num_rows if hasattr(chunk, "num_rows") else len(chunk)
    problems: dict[int, list[dict[str, Any]]] = {}
    columns: dict[str, NDArray[Any]] = {}
    for index, name in enumerate(validator.names):
        values, nulls = raw[index]
        column, found = validator.column(index, values, nulls=nulls)
        for row, message in found:
            problems.setdefault(row, []).append({"field": name, "message": message})
        if column is not None:
            columns[name] = column
    positions = np.arange(size, dtype=np.int64)
    if not problems:
        return columns, positions, []
    rejects = [(row, problems[row]) for row in sorted(problems)]
    keep = np.setdiff1d(positions, np.fromiter(problems, dtype=np.int64))
    valid = {}
    for index, name in enumerate(validator.names):
        column, _ = validator.column(index, raw[index][0][keep])  # no nulls left among them
        valid[name] = column
    return valid, keep, rejects  # type: ignore[return-value]  # every kept value is valid


def predict_valid(
    predictor: Predictor,
    columns: dict[str, NDArray[Any]],
    positions: NDArray[np.int64],
    probabilities: bool,
    rejects: Rejects,
) -> ChunkScores:
    """:func:`score_chunk`'s second step: scores for valid input rows.

    A geocoder that rejects addresses names every bad row but words the reason for the first
    few only: the named rows join ``rejects`` with its reason; the other rows are scored again
    without the bad ones, and the unnamed bad rows are sent again on their own until each has
    its own reason. So a row's reason never depends on where a chunk happened to start (which
    differs between engines)."""
    done: list[NDArray[np.int64]] = []
    labels: list[NDArray[Any]] = []
    matrices: list[NDArray[np.float64]] = []
    values: list[NDArray[np.float64]] = []
    pending = [(columns, positions)]
    while pending:
        columns, positions = pending.pop()
        if not len(positions):
            continue
        try:
            prediction = predictor.predict_columns(columns, probabilities=probabilities)
        except AddressNotFoundError as error:
            bad = set(error.details.get("rows", []))
            named = {e["row"]: e for e in error.details.get("errors", []) if e["row"] in bad}
            for index in sorted(bad):
                # Without a worded reason for any row, say what is known rather than loop.
                detail = named.get(index) if named else {"field": "address"}
                if detail is not None:
                    message = detail.get("message", "matches no known place")
                    rejects.append(
                        (int(positions[index]), [{"field": detail["field"], "message": message}])
                    )
            unnamed = np.array([i for i in sorted(bad) if named and i not in named], dtype=int)
            good = np.setdiff1d(np.arange(len(positions)), np.fromiter(bad, dtype=int))
            for subset in (unnamed, good):
                pending.append(({n: c[subset] for n, c in columns.items()}, positions[subset]))
            continue
        done.append(positions)
        if prediction.labels:
            labels.append(np.asarray(prediction.labels, dtype=object))
        if prediction.probabilities is not None:
            matrices.append(prediction.probabilities)
        if prediction.values is not None:
            values.append(prediction.values)
    if len(done) == 1:  # scored in one go (the usual case): already in position order
        return ChunkScores(
            done[0],
            labels[0] if labels else _EMPTY_LABELS,
            matrices[0] if matrices else _no_probabilities(predictor, probabilities),
            rejects,
            values[0] if predictor.is_regressor else None,
        )
    scored = np.concatenate(done) if done else np.empty(0, dtype=np.int64)
    order = np.argsort(scored, kind="stable")
    proba = _no_probabilities(predictor, probabilities)
    if matrices:
        proba = np.vstack(matrices)[order]
    regressed = None
    if predictor.is_regressor:
        regressed = np.concatenate(values)[order] if values else np.empty(0)
        proba = None
    return ChunkScores(
        scored[order],
        np.concatenate(labels)[order] if labels else _EMPTY_LABELS,
        proba,
        rejects,
        regressed,
    )


def _no_probabilities(predictor: Predictor, probabilities: bool) -> NDArray[np.float64] | None:
    return np.empty((0, len(predictor.classes))) if probabilities else None
