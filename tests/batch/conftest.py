"""Fixtures of the batch engines' tests: one real Spark session (``local[2]``) for the whole
run (starting one costs seconds; small files are still split into several partitions, as big
ones are), a credit bundle whose geocoder rejects unknown addresses, and a regressor."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeserve.bundle.io import load_bundle, write_bundle
from tests.conftest import iris_frame

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as patch:
        # The workers run this interpreter, with pipeserve installed (as PYSPARK_PYTHON would).
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        session = (
            SparkSession.builder.master("local[2]")
            .appName("pipeserve tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.files.maxPartitionBytes", "2048")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


@pytest.fixture(scope="session")
def strict_credit_bundle(tmp_path_factory: pytest.TempPathFactory, credit_bundle: Path) -> Path:
    """The credit pipeline with a geocoder that rejects unknown addresses."""
    loaded = load_bundle(credit_bundle)
    place = loaded.pipeline.named_steps["features"].named_transformers_["place"]
    place.named_steps["geocode"].set_params(on_failure="reject")
    manifest = loaded.manifest.model_copy(update={"name": "credit-strict"})
    directory = tmp_path_factory.mktemp("strict") / "credit-strict"
    write_bundle(directory, loaded.pipeline, manifest)
    return directory


@pytest.fixture(scope="session")
def ridge_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A regressor, built as a user would build their own: a Ridge predicting iris petal widths
    from the other measurements, through ``pipeserve.bundle.build_bundle``."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from pipeserve.bundle import build_bundle

    sample = iris_frame().drop(columns="species")
    features = sample.drop(columns="petal_width")
    pipeline = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    pipeline.fit(features, sample["petal_width"])
    output = tmp_path_factory.mktemp("ridge") / "petal-width"
    build_bundle(pipeline, sample, output, target="petal_width", name="petal-width", version="1")
    return output
