"""Product features: new columns that multiply two input columns.

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
            indices.append((self._resolve(pair[0], names), self._resolve(pair[1], names)))
        self.product_indices_ = indices
        return self

    def _resolve(self, ref: ColumnRef, names: list[str]) -> int:
        if isinstance(ref, str):
            if ref not in names:
                raise ValueError(f"column {ref!r} is not among the input features {names!r}")
            return names.index(ref)
        if isinstance(ref, int | np.integer) and 0 <= ref < self.n_features_in_:
            return int(ref)
        raise ValueError(
            f"column {ref!r} is neither a feature name nor a position "
            f"< n_features = {self.n_features_in_}"
        )

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
        if input_features is not None:
            names = [str(name) for name in input_features]
            if len(names) != self.n_features_in_:
                raise ValueError(
                    f"expected {self.n_features_in_} input feature names, got {names!r}"
                )
        elif hasattr(self, "feature_names_in_"):
            names = [str(name) for name in self.feature_names_in_]
        else:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray([*names, *(self.products or {})], dtype=object)
