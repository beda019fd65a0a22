"""The manifest's feature dtypes: one table that every vocabulary reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from pipeserve.bundle.io import read_manifest
from pipeserve.bundle.manifest import DTYPES, MANIFEST_FILE, Dtype, FeatureSpec, Manifest
from pipeserve.errors import BundleError
from pipeserve.protocols.columns import ColumnValidator
from pipeserve.protocols.schemas import InputLimits, feature_schema

FEATURES = [FeatureSpec(name="amount", dtype="float64"), FeatureSpec(name="town", dtype="string")]
MANIFEST = Manifest(
    name="m",
    version="1",
    estimator="Stub",
    classes=["a", "b"],
    features=FEATURES,
    example={"amount": 1.5, "town": "Köln"},
    library_versions={},
)


def test_every_declared_dtype_has_one_row_in_the_table() -> None:
    assert set(get_args(Dtype)) == set(DTYPES)


def test_a_bundle_declaring_a_dtype_training_never_writes_is_refused(bundle_dir: Path) -> None:
    # int64 was declared but never produced: integer columns are numbers (float64).
    manifest = json.loads((bundle_dir / MANIFEST_FILE).read_text())
    manifest["features"][0]["dtype"] = "int64"
    (bundle_dir / MANIFEST_FILE).write_text(json.dumps(manifest))

    with pytest.raises(BundleError, match=r"features\.0\.dtype: Input should be 'float64' or"):
        read_manifest(bundle_dir)


@pytest.mark.parametrize("feature", FEATURES, ids=lambda f: f.dtype)
def test_the_validator_and_the_document_follow_the_table(feature: FeatureSpec) -> None:
    row = MANIFEST.example[feature.name]
    index = MANIFEST.feature_names.index(feature.name)
    validator = ColumnValidator(FEATURES)

    column, problems = validator.column(index, [row])
    schema = feature_schema(feature, MANIFEST, InputLimits(max_instances=1, max_string_length=9))

    assert problems == []
    assert column is not None
    assert column.dtype == np.dtype(DTYPES[feature.dtype].column)
    assert schema["type"] == DTYPES[feature.dtype].json_type
    assert feature.v2_datatype == {"float64": "FP64", "string": "BYTES"}[feature.dtype]
