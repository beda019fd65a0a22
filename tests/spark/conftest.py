"""One real Spark session (``local[2]``) for the Spark engine's tests: starting one costs
seconds, so it is shared, and small files are split into several partitions as big ones are."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeserve.bundle.io import load_bundle, write_bundle

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
