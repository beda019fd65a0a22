"""The types a bundle may contain beyond those skops trusts by default.

skops already trusts scikit-learn's public estimators, NumPy and SciPy containers. Everything
else a pipeline refers to must be named here, one fully qualified name per line, after review:
a bundle referring to anything else is refused before it is deserialised. Adding a transformer
to ``pipeserve.features`` means adding it here, and a test fails until that is done.
"""

from __future__ import annotations

TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # our own feature engineering
        "pipeserve.features.geocoders.gazetteer.Gazetteer",
        "pipeserve.features.geocoding.Geocoder",
        "pipeserve.features.geography.NearestCityDistance",
        "pipeserve.features.interactions.ProductFeatures",
        "pipeserve.features.interactions.RatioFeatures",
        # SimpleImputer keeps the dtype it was fitted on (a dtype object, no code)
        "numpy.dtype",
        # private helpers that scikit-learn's public estimators are built from
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.tree._tree.Tree",
    }
)
