"""Build the (unfitted) scikit-learn pipeline that ``params.yaml`` describes.

The pipeline holds the whole path from raw client input to prediction, feature engineering
included, so that serving runs exactly what training fitted.
"""

from __future__ import annotations

from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from pipeserve.features.geocoding import Geocoder
from pipeserve.features.geography import NearestCityDistance
from pipeserve.features.interactions import ProductFeatures, RatioFeatures
from pipeserve.training.params import CreditTrainParams, TrainParams


def build_estimator(params: TrainParams) -> ClassifierMixin:
    """The final estimator picked by ``params.estimator``, seeded by ``params.seed``."""
    if params.estimator == "decision_tree":
        tree = params.decision_tree
        return DecisionTreeClassifier(
            criterion=tree.criterion,
            max_depth=tree.max_depth,
            min_samples_leaf=tree.min_samples_leaf,
            random_state=params.seed,
        )
    if params.estimator == "svm":
        svm = params.svm
        # Probabilities come from cross-validated calibration of the SVM's decision function:
        # SVC(probability=True) is deprecated in scikit-learn 1.9 and removed in 1.11.
        return CalibratedClassifierCV(
            SVC(C=svm.C, kernel=svm.kernel, gamma=svm.gamma, random_state=params.seed),
            method=svm.calibration,
            cv=svm.calibration_folds,
        )
    mlp = params.mlp
    return MLPClassifier(
        hidden_layer_sizes=tuple(mlp.hidden_layer_sizes),
        activation=mlp.activation,
        solver=mlp.solver,
        alpha=mlp.alpha,
        max_iter=mlp.max_iter,
        random_state=params.seed,
    )


def build_pipeline(params: TrainParams | CreditTrainParams) -> Pipeline:
    """Feature engineering, scaling and the estimator, in that order."""
    if isinstance(params, CreditTrainParams):
        return build_credit_pipeline(params)
    products = {name: tuple(columns) for name, columns in params.products.items()}
    return Pipeline(
        [
            ("features", ProductFeatures(products=products or None)),
            ("scale", StandardScaler()),
            ("model", build_estimator(params)),
        ]
    )


def build_credit_pipeline(params: CreditTrainParams) -> Pipeline:
    """The credit example: geocode the address, measure the distance to the nearest large city,
    derive loan ratios, impute what geocoding could not find (with a missing indicator), then
    the classifier.

    Input columns: ``params.address`` (text) and ``params.numeric``.
    """
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
