"""Interaction features: new columns that multiply or divide input columns.

Iris is separated far better by petal *area* than by either petal dimension alone; computing the
area inside the served pipeline means a client sends the four raw measurements and the server
derives the rest, exactly as in training. (The seed project computed such a feature in its
notebook and then dropped it before fitting; keeping it in the ``Pipeline`` makes that mistake
impossible.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

ColumnRef = str | int


def resolve_column(estimator: Any, ref: ColumnRef, names: list[str]) -> int:
    """Position of a column referred to by name (fitted on a DataFrame) or by position."""
    if isinstance(ref, str):
        if ref not in names:
            raise ValueError(f"column {ref!r} is not among the input features {names!r}")
        return names.index(ref)
    if isinstance(ref, int | np.integer) and 0 <= ref < estimator.n_features_in_:
        return int(ref)
    raise ValueError(
        f"column {ref!r} is neither a feature name nor a position "
        f"< n_features = {estimator.n_features_in_}"
    )


def input_feature_names(estimator: Any, input_features: Any) -> list[str]:
    """The names of a fitted transformer's input columns, as ``get_feature_names_out`` takes
    them; raises ``ValueError`` when ``input_features`` has the wrong length."""
    if input_features is not None:
        names = [str(name) for name in input_features]
        if len(names) != estimator.n_features_in_:
            raise ValueError(
                f"expected {estimator.n_features_in_} input feature names, got {names!r}"
            )
        return names
    if hasattr(estimator, "feature_names_in_"):
        return [str(name) for name in estimator.feature_names_in_]
    return [f"x{i}" for i in range(estimator.n_features_in_)]


class ProductFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Append ``left * right`` for each named pair and pass the input columns through.

    Parameters
    ----------
    products:
        Mapping from the new feature's name to the two input columns it multiplies. Columns are
        referred to by name when the pipeline is fitted on a DataFrame, or by position.
        ``None`` (the default) appends nothing.
    """

    def __init__(self, products: Mapping[str, Sequence[ColumnRef]] | None = None) -> None:
        self.products = products

    def fit(self, X: Any, y: Any = None) -> ProductFeatures:
        """Resolve the column references against the training data's columns.

        Raises ``ValueError`` when a pair does not name two existing columns.
        """
        validate_data(self, X, reset=True, dtype="numeric", ensure_all_finite=True)
        names = list(getattr(self, "feature_names_in_", []))
        indices: list[tuple[int, int]] = []
        for new_name, pair in (self.products or {}).items():
            if len(pair) != 2:
                raise ValueError(
                    f"product {new_name!r} must name exactly two columns, got {pair!r}"
                )
            indices.append(
                (resolve_column(self, pair[0], names), resolve_column(self, pair[1], names))
            )
        self.product_indices_ = indices
        return self

    def transform(self, X: Any) -> NDArray[np.float64]:
        """Return the input columns followed by one column per product."""
        check_is_fitted(self, "product_indices_")
        data = validate_data(self, X, reset=False, dtype="numeric", ensure_all_finite=True)
        if not self.product_indices_:
            return np.asarray(data, dtype=np.float64)
        extra = np.column_stack([data[:, i] * data[:, j] for i, j in self.product_indices_])
        return np.hstack([data, extra]).astype(np.float64, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """Input feature names followed by the products' names."""
        check_is_fitted(self, "product_indices_")
        names = input_feature_names(self, input_features)
        return np.asarray([*names, *(self.products or {})], dtype=object)


class RatioFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Append, for each named ratio, the product of its numerator columns divided by the product
    of its denominator columns, and pass the input columns through.

    ``{"monthly_burden": {"numerator": ["loan_amount"], "denominator": ["term_months",
    "income"]}}`` is the share of a monthly income that a loan's repayment takes. A zero
    denominator gives NaN (missing), not infinity.
    """

    def __init__(
        self, ratios: Mapping[str, Mapping[str, Sequence[ColumnRef]]] | None = None
    ) -> None:
        self.ratios = ratios

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any = None) -> RatioFeatures:
        """Resolve the column references; raises ``ValueError`` for an unknown column or a ratio
        without numerator and denominator."""
        validate_data(self, X, reset=True, dtype="numeric", ensure_all_finite="allow-nan")
        names = list(getattr(self, "feature_names_in_", []))
        indices: list[tuple[list[int], list[int]]] = []
        for new_name, spec in (self.ratios or {}).items():
            if set(spec) != {"numerator", "denominator"} or not spec["denominator"]:
                raise ValueError(
                    f"ratio {new_name!r} needs a 'numerator' and a non-empty 'denominator' list"
                )
            indices.append(
                (
                    [resolve_column(self, ref, names) for ref in spec["numerator"]],
                    [resolve_column(self, ref, names) for ref in spec["denominator"]],
                )
            )
        self.ratio_indices_ = indices
        return self

    def transform(self, X: Any) -> NDArray[np.float64]:
        """Return the input columns followed by one column per ratio."""
        check_is_fitted(self, "ratio_indices_")
        data = np.asarray(
            validate_data(self, X, reset=False, dtype="numeric", ensure_all_finite="allow-nan"),
            dtype=np.float64,
        )
        columns = [data]
        for numerator, denominator in self.ratio_indices_:
            top = np.prod(data[:, numerator], axis=1)
            bottom = np.prod(data[:, denominator], axis=1)
            ratio = np.full(len(data), np.nan)
            np.divide(top, bottom, out=ratio, where=bottom != 0)
            columns.append(ratio[:, None])
        return np.hstack(columns)

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """Input feature names followed by the ratios' names."""
        check_is_fitted(self, "ratio_indices_")
        names = input_feature_names(self, input_features)
        return np.asarray([*names, *(self.ratios or {})], dtype=object)
