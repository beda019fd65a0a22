"""``params.yaml``, parsed and checked before any training starts.

DVC tracks the same file (``dvc params diff``, ``dvc exp run -S train.estimator=mlp``); parsing
it here into typed models gives a message naming the key when a value is wrong, instead of a
scikit-learn traceback halfway through a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeserve.errors import ConfigurationError

EstimatorName = Literal["decision_tree", "svm", "mlp"]


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


class MlpParams(_Section):
    hidden_layer_sizes: list[int] = Field(default_factory=lambda: [16], min_length=1)
    activation: Literal["relu", "tanh", "logistic"] = "relu"
    solver: Literal["lbfgs", "adam", "sgd"] = "lbfgs"
    alpha: float = Field(default=1e-3, ge=0)
    max_iter: int = Field(default=2000, ge=1)


class TrainParams(_Section):
    """The ``train`` section: which estimator, its hyper-parameters and the derived features."""

    estimator: EstimatorName = "svm"
    seed: int = 42
    target: str = "species"
    products: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Engineered features: new column name -> the two columns it multiplies.",
    )
    decision_tree: DecisionTreeParams = Field(default_factory=DecisionTreeParams)
    svm: SvmParams = Field(default_factory=SvmParams)
    mlp: MlpParams = Field(default_factory=MlpParams)


class BundleParams(_Section):
    """The ``bundle`` section: how the served model is named and versioned."""

    name: str = "iris"
    version: str = "1"


class PrepareParams(_Section):
    """The ``prepare`` section, read by ``notebooks/prepare_training_data.py``."""

    test_size: float = Field(default=0.3, gt=0, lt=1)
    seed: int = 42


class Params(BaseModel):
    """The sections of ``params.yaml`` the package reads (``paths`` is for dvc.yaml)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    prepare: PrepareParams = Field(default_factory=PrepareParams)
    train: TrainParams = Field(default_factory=TrainParams)
    bundle: BundleParams = Field(default_factory=BundleParams)


def load_params(path: Path) -> Params:
    """Read and check ``params.yaml``.

    Raises :class:`ConfigurationError` naming the file and the offending key.
    """
    try:
        raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigurationError(f"params file {path} does not exist", path=str(path)) from error
    except yaml.YAMLError as error:
        raise ConfigurationError(f"params file {path} is not valid YAML", path=str(path)) from error
    try:
        return Params.model_validate(raw or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise ConfigurationError(f"{path}: {problems}", path=str(path)) from error
