"""Arrow columns (Parquet files, Spark's Arrow batches) into the column validator, and the
prediction columns back out as Arrow, with no Python object per value for numbers.

Arrow keeps a missing value apart from the values (a validity bitmap), so a null in a Parquet
file is reported as JSON's null is (``must be a number, got null``) and a NaN as a NaN, exactly
as the HTTP API words them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

if TYPE_CHECKING:
    from pipeserve.batch.chunks import ChunkScores

REASON = pa.struct([pa.field("field", pa.string()), pa.field("message", pa.string())])
"""One reason a row was rejected, as both engines write it."""


def feature_values(
    array: pa.Array | pa.ChunkedArray,
) -> tuple[NDArray[Any], NDArray[np.bool_] | None]:
    """A column's values as :meth:`ColumnValidator.column` takes them, and its null mask
    (``None`` when nothing is missing).

    Numbers and booleans become one NumPy array (zero-copy when nothing is missing; nulls are
    filled and marked in the mask); text becomes Python strings (``None`` for a null); anything
    else (lists, structs, dates) Python values, which the validator names (``got an array``).
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):  # a categorical column
        array = array.dictionary_decode()
    if pa.types.is_decimal(array.type):  # a number, as JSON's numbers are
        array = array.cast(pa.float64())
    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        nulls = None
        if array.null_count:
            nulls = array.is_null().to_numpy(zero_copy_only=False)
            array = array.fill_null(False if pa.types.is_boolean(kind) else 0)
        return array.to_numpy(zero_copy_only=False), nulls
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=object), None
    values = np.empty(len(array), dtype=object)
    for row, value in enumerate(array.to_pylist()):  # rare types only: each value is named
        values[row] = value
    return values, None


def prediction_arrays(
    scores: ChunkScores, classes: Sequence[str], size: int | None = None
) -> dict[str, pa.Array]:
    """The prediction columns (:func:`~pipeserve.batch.chunks.output_columns`) as Arrow.

    ``size=None``: one value per scored row (the local engine writes rejects elsewhere);
    else ``size`` values, one per input row, null where a row was rejected (Spark keeps every
    row, with its reason in ``rejected``).
    """
    columns = scores.predictions(classes)
    rejected = None
    if size is not None:
        rejected = np.ones(size, dtype=bool)
        rejected[scores.positions] = False
    out: dict[str, pa.Array] = {}
    for name, values in columns.items():
        if name == "label":
            out[name] = _labels(scores, classes, size)
        elif rejected is None:
            out[name] = pa.array(values, pa.float64())
        else:
            full = np.zeros(len(rejected))
            full[scores.positions] = values
            out[name] = pa.array(full, pa.float64(), mask=rejected)
    return out


def _labels(scores: ChunkScores, classes: Sequence[str], size: int | None) -> pa.Array:
    """The labels, gathered in Arrow from each row's class index (a label is the arg-max of its
    probabilities, as the predictor says) rather than converted one Python string at a time."""
    if scores.probabilities is None or not len(classes):  # a classifier without probabilities
        labels = scores.labels
        if size is not None:
            labels = np.full(size, None, dtype=object)
            labels[scores.positions] = scores.labels
        return pa.array(labels, pa.string())
    codes = np.argmax(scores.probabilities, axis=1).astype(np.int32)
    mask = None
    if size is not None:
        full = np.zeros(size, dtype=np.int32)
        full[scores.positions] = codes
        codes = full
        mask = np.ones(size, dtype=bool)
        mask[scores.positions] = False
    return pa.array(classes, pa.string()).take(pa.array(codes, pa.int32(), mask=mask))


def reasons_array(scores: ChunkScores, size: int) -> pa.Array:
    """Each row's reasons as ``list<struct<field, message>>``, null for a scored row; built
    from the rejected rows alone (offsets and a validity mask for the rest)."""
    counts = np.zeros(size, dtype=np.int32)
    fields: list[str] = []
    messages: list[str] = []
    for position, errors in scores.rejects:
        counts[position] = len(errors)
        fields += [str(error.get("field", "")) for error in errors]
        messages += [str(error["message"]) for error in errors]
    offsets = np.zeros(size + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = pa.StructArray.from_arrays(
        [pa.array(fields, pa.string()), pa.array(messages, pa.string())], fields=list(REASON)
    )
    scored = np.ones(size, dtype=bool)
    scored[[position for position, _ in scores.rejects]] = False
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(scored))
