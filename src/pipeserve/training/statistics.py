"""Per-feature training distributions for the bundle: what the server's input monitoring
compares live requests with (quantile bins for numbers, shares of each value for text)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from pipeserve.bundle.manifest import FeatureStatistics
from pipeserve.training.data import is_text_feature

# Ten bins: enough to see a shift, few enough that a window of a few hundred rows fills them.
BINS = 10
# Text with more distinct values than this share of rows is free text (addresses), not a
# category: a new value is normal there, so it is not counted as unseen.
FREE_TEXT_SHARE = 0.2
_DIGITS = 12  # rounding keeps the manifest short and stable across platforms


def describe_distributions(features: pd.DataFrame) -> list[FeatureStatistics]:
    """The distribution of each column of ``features`` (the training frame)."""
    return [_describe(str(name), features[name]) for name in features.columns]


def _describe(name: str, column: pd.Series) -> FeatureStatistics:
    count = len(column)
    missing = float(column.isna().mean()) if count else 0.0
    values = column.dropna()
    if is_text_feature(column):
        shares = values.astype(str).value_counts(normalize=True, sort=False)
        if len(shares) > max(1.0, FREE_TEXT_SHARE * len(values)):
            return FeatureStatistics(name=name, count=count, missing=round(missing, _DIGITS))
        categories = {str(k): round(float(v), _DIGITS) for k, v in sorted(shares.items())}
        return FeatureStatistics(
            name=name, count=count, missing=round(missing, _DIGITS), categories=categories
        )
    numbers = values.to_numpy(dtype=np.float64)
    quantiles = np.linspace(0, 1, BINS + 1)[1:-1]
    edges: NDArray[np.float64] = (
        np.unique(np.quantile(numbers, quantiles)) if len(numbers) else np.empty(0)
    )
    fractions = bin_fractions(numbers, edges)
    return FeatureStatistics(
        name=name,
        count=count,
        missing=round(missing, _DIGITS),
        edges=[round(float(edge), _DIGITS) for edge in edges],
        fractions=[round(float(share), _DIGITS) for share in fractions],
    )


def bin_fractions(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.float64]:
    """The share of ``values`` in each bin that ``edges`` (inner edges) delimit; a value equal
    to an edge falls in the bin above it, as :func:`numpy.searchsorted` with ``side="right"``
    places it (the server counts live values the same way)."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)
