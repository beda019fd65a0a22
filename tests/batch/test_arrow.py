"""Arrow columns into the column validator: each Arrow type a Parquet file or Spark may hold
is checked as the HTTP API checks the JSON value it stands for."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from pipeserve.batch.arrow import feature_values
from pipeserve.bundle.manifest import FeatureSpec
from pipeserve.protocols.columns import ColumnValidator

VALIDATOR = ColumnValidator(
    [FeatureSpec(name="x", dtype="float64"), FeatureSpec(name="city", dtype="string")]
)


def problems(index: int, array: pa.Array) -> list[tuple[int, str]]:
    values, nulls = feature_values(array)
    _, found = VALIDATOR.column(index, values, nulls=nulls)
    return found


def test_clean_numbers_pass_as_one_float_array_without_a_copy() -> None:
    array = pa.array([1.5, 2.5, 3.5])

    values, nulls = feature_values(array)
    column, found = VALIDATOR.column(0, values, nulls=nulls)

    assert nulls is None
    assert found == []
    assert column is not None
    assert column.dtype == np.float64
    assert np.shares_memory(column, values)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (pa.array([1, None, 3], pa.int32()), [(1, "must be a number, got null")]),
        (
            pa.array([True, False]),
            [(0, "must be a number, got a boolean"), (1, "must be a number, got a boolean")],
        ),
        (
            pa.array(["1.5", "x"]),
            [(0, "must be a number, got a string"), (1, "must be a number, got a string")],
        ),
        (
            pa.array([[1.0], None]),
            [(0, "must be a number, got an array"), (1, "must be a number, got null")],
        ),
    ],
)
def test_a_number_feature_names_what_each_bad_value_is(
    array: pa.Array, expected: list[tuple[int, str]]
) -> None:
    assert problems(0, array) == expected


def test_text_may_be_dictionary_encoded_and_a_null_or_empty_string_is_refused() -> None:
    array = pa.array(["Köln", None, "", "Köln"]).dictionary_encode()

    assert problems(1, array) == [(1, "must be a string, got null"), (2, "must not be empty")]
