"""``bundle.json``: what a bundle promises about the pipeline inside it.

The manifest is the contract between training and serving: the server builds request validation,
the OpenAPI document and model metadata from it alone, without looking into the pipeline. It is
written by training and never edited by hand; ``files`` pins every other file by sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FORMAT_VERSION: Literal[1] = 1
# What the pipeline answers: a class per instance (with probabilities when it has them), or a
# number (a regressor).
Task = Literal["classification", "regression"]
MANIFEST_FILE = "bundle.json"
PIPELINE_FILE = "pipeline.skops"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# What a feature holds: numbers, or text. Integer columns (an age, a term in months) are
# numbers too: training reads every numeric column as float64, and the API accepts 41 and 41.0
# alike for them, as JSON does.
Dtype = Literal["float64", "string"]


@dataclass(frozen=True)
class DtypeMapping:
    """What one declared dtype is in each vocabulary that carries feature values."""

    column: str
    """The NumPy and pandas dtype of the feature's column, as the pipeline is fed it (and as
    training read it): ``float64``, or ``object`` holding Python strings."""
    v2_datatype: str
    """The Open Inference Protocol V2 datatype the feature is listed and best sent as."""
    json_type: Literal["number", "string"]
    """The JSON (Schema) type of one value."""


# The one table of dtype facts: training, the inference core, the codecs, the OpenAPI
# document and the model card read it, through FeatureSpec's properties.
DTYPES: dict[Dtype, DtypeMapping] = {
    "float64": DtypeMapping(column="float64", v2_datatype="FP64", json_type="number"),
    "string": DtypeMapping(column="object", v2_datatype="BYTES", json_type="string"),
}


class FeatureSpec(_Frozen):
    """One input column as seen in training."""

    name: str
    dtype: Dtype
    minimum: float | None = Field(default=None, description="Smallest value seen in training.")
    maximum: float | None = Field(default=None, description="Largest value seen in training.")
    categories: list[str] | None = Field(
        default=None,
        description="The only values accepted, when the pipeline's encoder refuses unknown "
        "categories (handle_unknown='error'): those seen in training. None: any text.",
    )
    description: str | None = None

    @property
    def is_text(self) -> bool:
        """Whether the feature holds text (else numbers)."""
        return self.dtype == "string"

    @property
    def column_dtype(self) -> str:
        """See :attr:`DtypeMapping.column`."""
        return DTYPES[self.dtype].column

    @property
    def v2_datatype(self) -> str:
        """See :attr:`DtypeMapping.v2_datatype`."""
        return DTYPES[self.dtype].v2_datatype

    @property
    def json_type(self) -> Literal["number", "string"]:
        """See :attr:`DtypeMapping.json_type`."""
        return DTYPES[self.dtype].json_type


class FeatureStatistics(_Frozen):
    """How one input was distributed in training: what live inputs are compared with
    (:mod:`pipeserve.inference.monitoring`).

    Numbers: ``edges`` are the inner edges of quantile bins (k - 1 edges for k bins) and
    ``fractions`` the share of training values in each bin. Text: ``categories`` holds each
    value's share; free text (an address, mostly distinct values) records none and is not
    monitored by category.
    """

    name: str
    count: int = Field(ge=0, description="Training rows.")
    missing: float = Field(default=0.0, ge=0, le=1, description="Share of missing values.")
    edges: list[float] = Field(default_factory=list)
    fractions: list[float] = Field(default_factory=list)
    categories: dict[str, float] = Field(default_factory=dict)


class FileDigest(_Frozen):
    """Size and sha256 of one file of the bundle."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class InputDigest(_Frozen):
    """A training input as DVC identifies it (md5 of the file, as in ``dvc.lock``)."""

    path: str
    md5: str


class Lineage(_Frozen):
    """Where the pipeline came from, so a served prediction can be traced to data and code.

    Only what the bundle is built from: the data (as DVC hashes it) and the params; the code is
    ``library_versions``. No git revision: a bundle must not change with an unrelated commit
    (the image build records the revision, see ``Settings.source_revision``).
    """

    # Bundles written before that rule carry git_revision and git_dirty: read, and dropped.
    model_config = ConfigDict(frozen=True, extra="ignore")

    inputs: list[InputDigest] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


class FastPath(_Frozen):
    """The compiled (ONNX) form of the pipeline and the check that allows serving it.

    The server uses it only when ``verified`` is true: labels equal to scikit-learn's on every
    checked row and probabilities within ``tolerance``. ``head_steps`` leading pipeline steps that
    have no ONNX form (a geocoder, say) keep running in Python before the compiled tail.
    """

    format: Literal["onnx"] = "onnx"
    file: str | None = Field(default=None, description="The ONNX file; None when not compiled.")
    verified: bool = False
    reason: str | None = Field(default=None, description="Why there is no verified fast path.")
    head_steps: int = Field(default=0, ge=0)
    input_dtype: Literal["float64", "float32"] = "float64"
    rows_checked: int = Field(default=0, ge=0)
    labels_equal: bool | None = None
    max_probability_difference: float | None = None
    tolerance: float | None = None
    converter_versions: dict[str, str] = Field(default_factory=dict)


class Manifest(_Frozen):
    """The parsed ``bundle.json``."""

    format_version: Literal[1] = FORMAT_VERSION
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    version: str = Field(min_length=1, max_length=64)
    created_at: datetime | None = Field(
        default=None,
        description="SOURCE_DATE_EPOCH when the bundle was built with it set; else absent, so "
        "that the same inputs, params and code give the same bytes.",
    )
    task: Task = "classification"
    estimator: str
    classes: list[str] = Field(
        default_factory=list,
        description="The classes, in probability order; empty for a regressor.",
    )
    features: list[FeatureSpec] = Field(min_length=1)
    example: dict[str, Any] = Field(description="One real training row, used in the API docs.")
    metrics: dict[str, Any] | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    library_versions: dict[str, str]
    files: dict[str, FileDigest] = Field(default_factory=dict)
    statistics: list[FeatureStatistics] = Field(
        default_factory=list, description="Per-feature training distributions (monitoring)."
    )
    figures: dict[str, str] = Field(
        default_factory=dict,
        description="Pictures for the model card by role (confusion, pipeline): file names "
        "in ``files``, drawn when the bundle was built.",
    )
    fast_path: FastPath | None = Field(
        default=None, description="The compiled form, if the bundle step made one."
    )

    @model_validator(mode="after")
    def _classes_match_task(self) -> Manifest:
        if self.task == "classification" and len(self.classes) < 2:
            raise ValueError("a classifier's manifest lists at least two classes")
        if self.task == "regression" and self.classes:
            raise ValueError("a regressor's manifest lists no classes")
        return self

    @property
    def feature_names(self) -> list[str]:
        """Input column names in the order the pipeline expects them."""
        return [feature.name for feature in self.features]
