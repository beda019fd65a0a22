"""Build the (unfitted) iris pipeline from the ``train`` section of params.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from pipeserve.features.interactions import ProductFeatures


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecisionTreeParams(_Section):
    criterion: Literal["gini", "entropy", "log_loss"] = "gini"
    max_depth: int | None = Field(default=4, ge=1)
    min_samples_leaf: int = Field(default=1, ge=1)


class SvmParams(_Section):
    C: float = Field(default=1.0, gt=0)
    kernel: Literal["linear", "poly", "rbf", "sigmoid"] = "rbf"
    gamma: Literal["scale", "auto"] | float = "scale"
    calibration: Literal["sigmoid", "isotonic"] = Field(
        default="sigmoid",
        description="How CalibratedClassifierCV turns SVM scores into probabilities "
        "(SVC(probability=True) is deprecated in scikit-learn 1.9).",
    )
    calibration_folds: int = Field(default=5, ge=2)
    calibration_ensemble: bool = Field(
        default=False,
        description="True: one calibrated SVM per fold, averaged (five model calls per "
        "prediction); false: the folds only calibrate and one SVM fitted on all rows answers.",
    )


class MlpParams(_Section):
    hidden_layer_sizes: list[int] = Field(default_factory=lambda: [16], min_length=1)
    activation: Literal["relu", "tanh", "logistic"] = "relu"
    solver: Literal["lbfgs", "adam", "sgd"] = "lbfgs"
    alpha: float = Field(default=1e-3, ge=0)
    max_iter: int = Field(default=2000, ge=1)


class IrisParams(_Section):
    """The builder's keys of ``train``: the estimator, its hyper-parameters, derived features."""

    estimator: Literal["decision_tree", "svm", "mlp"] = "svm"
    seed: int = 42
    products: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Engineered features: new column name -> the two columns it multiplies.",
    )
    decision_tree: DecisionTreeParams = Field(default_factory=DecisionTreeParams)
    svm: SvmParams = Field(default_factory=SvmParams)
    mlp: MlpParams = Field(default_factory=MlpParams)


def build_estimator(params: IrisParams) -> ClassifierMixin:
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
            ensemble=svm.calibration_ensemble,
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


def build(params: Mapping[str, Any]) -> Pipeline:
    """Feature engineering, scaling and the estimator, in that order (pipeserve calls this with
    the ``train`` section; pydantic names a wrong key)."""
    checked = IrisParams.model_validate(dict(params))
    products = {name: tuple(columns) for name, columns in checked.products.items()}
    return Pipeline(
        [
            ("features", ProductFeatures(products=products or None)),
            ("scale", StandardScaler()),
            ("model", build_estimator(checked)),
        ]
    )
