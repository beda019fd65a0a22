"""Build the (unfitted) credit pipeline from the ``credit.train`` section of params.yaml.

Every step is a reusable transformer of ``pipeserve.features`` or scikit-learn, so the bundle
holds no type of this package: the server needs only pipeserve installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from credit_example.params import CreditParams
from pipeserve.features.geocoding import Geocoder
from pipeserve.features.geography import NearestCityDistance
from pipeserve.features.interactions import RatioFeatures


def build(raw: Mapping[str, Any]) -> Pipeline:
    """Geocode the address, measure the distance to the nearest large city, derive loan ratios,
    impute what geocoding could not find (with a missing indicator), then the classifier.

    Input columns: ``address`` (text) and ``numeric``.
    """
    params = CreditParams.model_validate(dict(raw))
    geo = params.geocoder
    place = Pipeline(
        [
            (
                "geocode",
                Geocoder(
                    geo.backend,
                    country=geo.country,
                    postal_codes=geo.postal_codes,
                    places=geo.places,
                    min_population=geo.min_population,
                    on_failure=geo.on_failure,
                ),
            ),
            (
                "distance",
                NearestCityDistance(
                    min_population=params.large_city_population, country=geo.country
                ),
            ),
        ]
    )
    ratios = {name: ratio.model_dump() for name, ratio in params.ratios.items()}
    features = ColumnTransformer(
        [
            ("place", place, list(params.address)),
            ("loan", RatioFeatures(ratios=ratios or None), list(params.numeric)),
        ],
        verbose_feature_names_out=False,
    )
    steps: list[tuple[str, object]] = [
        ("features", features),
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
    ]
    if params.estimator == "logistic_regression":
        lr = params.logistic_regression
        steps += [
            ("scale", StandardScaler()),
            ("model", LogisticRegression(C=lr.C, max_iter=lr.max_iter)),
        ]
    else:
        hgb = params.hist_gradient_boosting
        steps.append(
            (
                "model",
                HistGradientBoostingClassifier(
                    learning_rate=hgb.learning_rate,
                    max_iter=hgb.max_iter,
                    max_leaf_nodes=hgb.max_leaf_nodes,
                    min_samples_leaf=hgb.min_samples_leaf,
                    l2_regularization=hgb.l2_regularization,
                    random_state=params.seed,
                ),
            )
        )
    return Pipeline(steps)
