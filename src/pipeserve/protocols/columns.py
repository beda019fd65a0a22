"""The one input validator, by column: every protocol's values are checked here.

A codec (friendly, KServe V1, V2, the batch reader) gathers the values of each feature into one
column (a list of parsed JSON values, or a NumPy array read from binary tensor data) and says
where each value came from with a *locator*: ``(feature index, row) -> field`` in that
protocol's own terms (``instances[7].sepal_length``, ``inputs.x.data[7][0]``). This module checks
each column vectorised (one ``set(map(type, ...))``, one array conversion, one ``isfinite``);
only when a check fails does it walk the column to locate each offending value, with the same
per-value rule (:meth:`ColumnValidator.value_problem`), so the fast path and the error messages
cannot disagree.

Rules, per feature dtype of the bundle (:data:`~pipeserve.bundle.manifest.DTYPES`):

* ``float64``: a JSON number (not a boolean), finite; within the declared tensor type's range
  when the wire declares one (an ``FP32`` tensor holding ``1e300`` does not fit, an ``INT8``
  one holds integers from -128 to 127);
* ``string``: a non-empty string of at most ``max_string_length`` characters, one of the known
  categories when the bundle lists them.

Pure: no Flask, no HTTP status; raises :class:`~pipeserve.errors.InvalidInputError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeserve.bundle.manifest import FeatureSpec
from pipeserve.errors import InvalidInputError

# Longest string accepted for a string feature unless configured otherwise (an address fits).
MAX_STRING_LENGTH = 1000
STRING_LENGTH_SETTING = "PIPESERVE_MAX_STRING_LENGTH"

Locator = Callable[[int, int], str]
"""``(feature index, row) -> field``: where a value came from, in the protocol's terms."""

Column = NDArray[Any]
RawColumn = Sequence[Any] | NDArray[Any]

# What a JSON value is called in messages.
_JSON_NAMES: dict[type, str] = {
    str: "a string",
    bool: "a boolean",
    type(None): "null",
    list: "an array",
    tuple: "an array",
    dict: "an object",
    int: "an integer",
    float: "a number",
}
_NUMBER_TYPES = frozenset({float, int})
NOT_FINITE = "must be a finite number (NaN and Infinity are not allowed)"
EMPTY = "must not be empty"
REQUIRED = "is required"


def json_name(value: Any) -> str:
    """``a string``, ``null``, ``an array``...: how a message names what was sent."""
    name = _JSON_NAMES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, np.generic):
        return "an integer" if isinstance(value, np.integer) else "a number"
    return type(value).__name__


@dataclass(frozen=True)
class WireType:
    """The type a wire format declares for a column (a V2 tensor's datatype): its values must
    fit it. ``integral`` types refuse fractions; ``low``/``high`` bound the values."""

    name: str
    integral: bool
    low: float
    high: float

    @classmethod
    def of(cls, name: str, dtype: str) -> WireType:
        """The wire type ``name`` stored as NumPy ``dtype``."""
        numpy_type = np.dtype(dtype)
        info: np.iinfo[Any] | np.finfo[Any] = (
            np.iinfo(numpy_type) if numpy_type.kind in "iu" else np.finfo(numpy_type)
        )
        return cls(name, numpy_type.kind in "iu", float(info.min), float(info.max))

    def problem(self, value: float) -> str | None:
        if self.integral and not float(value).is_integer():
            return f"must be an integer: the tensor is {self.name}, got {value!r}"
        if not self.low <= value <= self.high:
            return f"does not fit {self.name} ({self.low:g} to {self.high:g}), got {value!r}"
        return None


@dataclass(frozen=True)
class ColumnSpec:
    """What one feature accepts (from the bundle's manifest and the server's settings)."""

    name: str
    text: bool
    """Text (a string feature), else numbers."""
    max_length: int = MAX_STRING_LENGTH
    categories: frozenset[str] | None = None


class ColumnValidator:
    """Validate and convert columns for one bundle's features (built once per model version)."""

    def __init__(
        self,
        features: Sequence[FeatureSpec],
        max_string_length: int = MAX_STRING_LENGTH,
        categories: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """``categories`` lists the allowed values of string features that have a closed set."""
        known = categories or {}
        self.specs: tuple[ColumnSpec, ...] = tuple(
            ColumnSpec(
                feature.name,
                feature.is_text,
                max_string_length,
                frozenset(known[feature.name]) if feature.name in known else None,
            )
            for feature in features
        )
        self.names: tuple[str, ...] = tuple(spec.name for spec in self.specs)
        self.index: dict[str, int] = {name: i for i, name in enumerate(self.names)}
        self.max_string_length = max_string_length
        self.numeric = not any(spec.text for spec in self.specs)
        self._all_floats = bool(self.specs) and self.numeric
        self.unknown_feature = (
            f"is not a feature of this model (expected only: {', '.join(self.names)})"
        )

    def validate(
        self,
        columns: Sequence[RawColumn],
        locate: Locator,
        wire: Sequence[WireType | None] | None = None,
    ) -> dict[str, Column]:
        """The columns (one per feature, in feature order, of equal length) converted to arrays.

        Raises :class:`InvalidInputError` listing every offending value, row by row, each
        located by ``locate``.
        """
        if self._all_floats and (wire is None or not any(wire)):
            matrix = _float_matrix(columns)
            if matrix is not None:  # one check and one conversion for all the columns
                return dict(zip(self.names, matrix, strict=True))
        converted: dict[str, Column] = {}
        problems: list[tuple[int, int, str]] = []
        for index, values in enumerate(columns):
            column, found = self.column(index, values, wire[index] if wire else None)
            if found:
                problems.extend((row, index, message) for row, message in found)
            else:
                converted[self.names[index]] = column  # type: ignore[assignment]
        if problems:
            raise located_error(problems, locate)
        return converted

    def column(
        self,
        index: int,
        values: RawColumn,
        wire: WireType | None = None,
        nulls: NDArray[np.bool_] | None = None,
    ) -> tuple[Column | None, list[tuple[int, str]]]:
        """Feature ``index``'s column as an array, or the ``(row, message)`` of each bad value.

        ``nulls`` marks the missing values of a column read from a columnar file (Arrow keeps
        them apart from the values, which hold a filler there): each is reported as JSON's null
        is, by the same rule (:meth:`value_problem` of ``None``)."""
        if nulls is not None and nulls.any():
            return None, self._with_nulls(index, values, wire, nulls)
        spec = self.specs[index]
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
            return self._numeric_array(spec, values)
        sequence: Sequence[Any] = values  # type: ignore[assignment]  # not a numeric array
        if spec.text:
            return self._strings(spec, sequence)
        return self._numbers(spec, sequence, wire)

    def value_problem(self, index: int, value: Any, wire: WireType | None = None) -> str | None:
        """What is wrong with one value of feature ``index`` (``None``: nothing). The definition
        of validity; the vectorised checks prove its absence for whole columns."""
        spec = self.specs[index]
        if spec.text:
            return _string_problem(spec, value)
        return _number_problem(spec, value, wire)

    # --- vectorised checks ------------------------------------------------------------------

    def _with_nulls(
        self, index: int, values: RawColumn, wire: WireType | None, nulls: NDArray[np.bool_]
    ) -> list[tuple[int, str]]:
        _, found = self.column(index, values, wire)
        missing = self.value_problem(index, None, wire) or REQUIRED
        problems = [(row, message) for row, message in found if not nulls[row]]
        problems += [(int(row), missing) for row in np.flatnonzero(nulls)]
        return sorted(problems)

    def _numbers(
        self, spec: ColumnSpec, values: Sequence[Any], wire: WireType | None
    ) -> tuple[Column | None, list[tuple[int, str]]]:
        types = set(map(type, values))
        if types <= _NUMBER_TYPES and (wire is None or self._fits(values, types, wire)):
            try:
                array: Column = np.array(values, dtype=np.float64)
            except OverflowError:  # an integer beyond float64: located below
                pass
            else:
                if float not in types or np.isfinite(array).all():
                    return array, []
        return None, self._locate(spec, values, wire)

    @staticmethod
    def _fits(values: Sequence[Any], types: set[type], wire: WireType) -> bool:
        if not values:
            return True
        if wire.integral and float in types and not all(map(float.is_integer, map(float, values))):
            return False
        return bool(wire.low <= min(values) and max(values) <= wire.high)

    def _strings(
        self, spec: ColumnSpec, values: Sequence[Any]
    ) -> tuple[Column | None, list[tuple[int, str]]]:
        if set(map(type, values)) <= {str}:
            lengths = list(map(len, values))
            fits = not lengths or (min(lengths) > 0 and max(lengths) <= spec.max_length)
            if fits and (spec.categories is None or spec.categories.issuperset(values)):
                array: Column = np.empty(len(values), dtype=object)
                array[:] = values
                return array, []
        return None, self._locate(spec, values, None)

    def _numeric_array(
        self, spec: ColumnSpec, values: NDArray[Any]
    ) -> tuple[Column | None, list[tuple[int, str]]]:
        """A column read from binary tensor data: the wire type already fits by construction."""
        if spec.text or values.dtype.kind == "b":  # every value is of the wrong type
            got = "a boolean" if values.dtype.kind == "b" else "a number"
            return None, [
                (row, f"must be {_expected(spec)}, got {got}") for row in range(len(values))
            ]
        if values.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                return None, [(int(row), NOT_FINITE) for row in bad]
        return values.astype(np.float64, copy=False), []

    def _locate(
        self, spec: ColumnSpec, values: Sequence[Any], wire: WireType | None
    ) -> list[tuple[int, str]]:
        index = self.index[spec.name]
        found = []
        for row, value in enumerate(values):
            message = self.value_problem(index, value, wire)
            if message is not None:
                found.append((row, message))
        return found


def _float_matrix(columns: Sequence[RawColumn]) -> NDArray[np.float64] | None:
    """``(n_features, n_rows)`` floats when every value of every column is a finite JSON
    number, else ``None`` (then each column is checked on its own to name the problems)."""
    if any(isinstance(column, np.ndarray) for column in columns):
        return None
    types = set(map(type, chain.from_iterable(columns)))
    if not types <= _NUMBER_TYPES:
        return None
    matrix = np.array(columns, dtype=np.float64)
    if float in types and not np.isfinite(matrix).all():
        return None
    return matrix


def _string_problem(spec: ColumnSpec, value: Any) -> str | None:
    if type(value) is not str:
        return f"must be a string, got {json_name(value)}"
    if not value:
        return EMPTY
    if len(value) > spec.max_length:
        return f"is too long: at most {spec.max_length} characters ({STRING_LENGTH_SETTING})"
    if spec.categories is not None and value not in spec.categories:
        return f"is not a known category (one of: {', '.join(sorted(spec.categories))})"
    return None


def _number_problem(spec: ColumnSpec, value: Any, wire: WireType | None) -> str | None:
    if type(value) not in _NUMBER_TYPES and not _is_numpy_number(value):
        return f"must be {_expected(spec)}, got {json_name(value)}"
    problem = wire.problem(value) if wire is not None else None
    if problem is None and not np.isfinite(value):
        problem = NOT_FINITE
    return problem


def _expected(spec: ColumnSpec) -> str:
    return "a string" if spec.text else "a number"


def _is_numpy_number(value: Any) -> bool:
    return isinstance(value, np.integer | np.floating)


def located_error(problems: Sequence[tuple[int, int, str]], locate: Locator) -> InvalidInputError:
    """One error listing ``(row, feature index, message)`` problems row by row."""
    errors = [
        {"field": locate(index, row), "message": message}
        for row, index, message in sorted(problems, key=lambda p: (p[0], p[1]))
    ]
    return invalid_fields(errors)


def invalid(field: str, message: str) -> InvalidInputError:
    """An :class:`InvalidInputError` for one field."""
    return invalid_fields([{"field": field, "message": message}])


def invalid_fields(errors: list[dict[str, str]]) -> InvalidInputError:
    return InvalidInputError(summarize_errors(errors), errors=errors)


def summarize_errors(errors: Sequence[Mapping[str, str]]) -> str:
    """One sentence naming the first problem and how many more there are."""
    first = errors[0]
    extra = len(errors) - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return f"{first['field']} {first['message']}{more}"
