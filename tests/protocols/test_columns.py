"""The column validator on its own: the checks no example bundle exercises."""

from __future__ import annotations

import numpy as np
import pytest

from pipeserve.bundle.manifest import FeatureSpec
from pipeserve.errors import InvalidInputError
from pipeserve.protocols.columns import ColumnValidator, WireType

VALIDATOR = ColumnValidator(
    [FeatureSpec(name="count", dtype="float64"), FeatureSpec(name="kind", dtype="string")],
    max_string_length=5,
    categories={"kind": ["a", "b"]},
)


def _where(feature: int, row: int) -> str:
    return f"rows[{row}].{VALIDATOR.names[feature]}"


def test_valid_columns_become_typed_arrays() -> None:
    columns = VALIDATOR.validate([[1, 2.5], ["a", "b"]], _where)

    assert columns["count"].dtype == np.float64
    assert columns["count"].tolist() == [1.0, 2.5]
    assert columns["kind"].tolist() == ["a", "b"]


@pytest.mark.parametrize(
    ("count", "kind", "field", "message"),
    [
        ([1, True], ["a", "a"], "rows[1].count", "must be a number, got a boolean"),
        ([1, "2"], ["a", "a"], "rows[1].count", "must be a number, got a string"),
        ([1, float("nan")], ["a", "a"], "rows[1].count", "must be a finite number"),
        ([1, 2], ["a", "c"], "rows[1].kind", "is not a known category (one of: a, b)"),
        ([1, 2], ["a", "abcdef"], "rows[1].kind", "is too long: at most 5 characters"),
    ],
)
def test_each_offending_value_is_located(
    count: list[object], kind: list[object], field: str, message: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        VALIDATOR.validate([count, kind], _where)

    (error,) = raised.value.details["errors"]
    assert error["field"] == field
    assert error["message"].startswith(message)


def test_problems_are_listed_row_by_row_across_columns() -> None:
    with pytest.raises(InvalidInputError) as raised:
        VALIDATOR.validate([[None, 1, True], ["", "a", "a"]], _where)

    assert [e["field"] for e in raised.value.details["errors"]] == [
        "rows[0].count",
        "rows[0].kind",
        "rows[2].count",
    ]
    assert raised.value.message.endswith("(and 2 more problems)")


def test_arrays_from_binary_data_are_checked_by_value() -> None:
    numbers = ColumnValidator([FeatureSpec(name="x", dtype="float64")])

    (column,) = numbers.validate([np.array([1, 2], dtype=np.int16)], _where).values()
    assert column.dtype == np.float64
    with pytest.raises(InvalidInputError, match="finite number"):
        numbers.validate([np.array([1.0, np.inf])], lambda f, r: f"x[{r}]")


def test_a_wire_type_bounds_json_values() -> None:
    numbers = ColumnValidator([FeatureSpec(name="x", dtype="float64")])
    uint8 = WireType.of("UINT8", "<u1")

    numbers.validate([[0, 255]], _where, [uint8])
    with pytest.raises(InvalidInputError, match=r"does not fit UINT8 \(0 to 255\), got 256"):
        numbers.validate([[0, 256]], lambda f, r: f"x[{r}]", [uint8])


def test_values_marked_missing_are_refused_as_nulls_in_row_order() -> None:
    numbers = ColumnValidator([FeatureSpec(name="x", dtype="float64")])
    filled = np.array([1.0, 0.0, np.nan, 0.0])  # a columnar file's values, nulls filled
    nulls = np.array([False, True, False, True])

    column, found = numbers.column(0, filled, nulls=nulls)

    assert column is None
    assert found == [
        (1, "must be a number, got null"),
        (2, "must be a finite number (NaN and Infinity are not allowed)"),
        (3, "must be a number, got null"),
    ]
    assert numbers.value_problem(0, None) == found[0][1]  # the same rule as a JSON null
    (valid, none_found) = numbers.column(0, filled[:1], nulls=nulls[:1])
    assert none_found == []
    assert valid is not None
    assert valid.tolist() == [1.0]
