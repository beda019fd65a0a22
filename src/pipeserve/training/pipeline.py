"""Build the (unfitted) scikit-learn pipeline that ``params.yaml`` describes.

The pipeline holds the whole path from raw client input to prediction, feature engineering
included, so that serving runs exactly what training fitted.
"""

from __future__ import annotations

from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from pipeserve.features.interactions import ProductFeatures
from pipeserve.training.params import TrainParams


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


def build_pipeline(params: TrainParams) -> Pipeline:
    """Feature engineering, scaling and the estimator, in that order."""
    products = {name: tuple(columns) for name, columns in params.products.items()}
    return Pipeline(
        [
            ("features", ProductFeatures(products=products or None)),
            ("scale", StandardScaler()),
            ("model", build_estimator(params)),
        ]
    )
