"""The Spark engine against the local one, on a real local Spark session: same predictions,
same rejects, the same refusal of a tampered bundle."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeserve import spark as engine
from pipeserve.bundle.manifest import PIPELINE_FILE
from pipeserve.cli import main
from pipeserve.errors import BundleError, ConfigurationError
from pipeserve.inference.registry import load_entry
from pipeserve.inference.store import BundleLocation
from tests.conftest import APPLICANT, FEATURES, iris_frame

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def predict(engine_name: str, bundle: Path, source: Path, output: Path) -> Any:
    """``pipeserve predict`` with one engine: the predictions by row and the rejects file."""
    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--bundle",
            str(bundle),
            str(source),
            "--output",
            str(output),
            "--engine",
            engine_name,
            "--chunk-size",
            "64",
        ],
    )
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(output).sort_values("row").reset_index(drop=True)
    rejects_file = output.with_name(output.name + ".rejects.jsonl")
    rejects = [json.loads(line) for line in rejects_file.read_text().splitlines()]
    return scored, rejects, result.output


def assert_same_predictions(local: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(spark.columns) == list(local.columns)
    assert spark["row"].tolist() == local["row"].tolist()
    assert spark["label"].tolist() == local["label"].tolist()
    proba = [name for name in local.columns if name.startswith("proba_")]
    assert proba
    np.testing.assert_allclose(spark[proba], local[proba], rtol=0, atol=1e-9)


def test_both_engines_give_the_same_iris_predictions_and_rejects(
    spark: SparkSession, bundle_dir: Path, tmp_path: Path
) -> None:
    rows = iris_frame()[FEATURES].to_dict("records")
    rows[3]["petal_width"] = None  # a null in the file
    rows[5]["sepal_length"] = math.nan
    rows[140]["petal_length"] = math.inf
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet", row_group_size=40)

    local, local_rejects, _ = predict(
        "local", bundle_dir, tmp_path / "in.parquet", tmp_path / "a.parquet"
    )
    on_spark, spark_rejects, output = predict(
        "spark", bundle_dir, tmp_path / "in.parquet", tmp_path / "b.parquet"
    )

    assert spark.sparkContext.defaultParallelism == 2  # the CLI ran on the test's session
    assert_same_predictions(local, on_spark)
    assert len(on_spark) == 147
    assert spark_rejects == local_rejects
    assert [r["row"] for r in spark_rejects] == [3, 5, 140]
    assert spark_rejects[0]["errors"] == [
        {"field": "petal_width", "message": "must be a number, got null"}
    ]
    assert "147 of 150 rows scored" in output


def test_the_credit_model_scores_on_spark_and_rejects_as_the_local_engine_does(
    spark: SparkSession, strict_credit_bundle: Path, tmp_path: Path
) -> None:
    rows = [
        APPLICANT,
        {**APPLICANT, "address": "Hauptstraße 1, Atlantis"},  # unknown under a rejecting geocoder
        {**APPLICANT, "address": "01067"},  # a postcode: text, not the number 1067
        {**APPLICANT, "address": ""},  # missing
        {**APPLICANT, "age": "old"},  # the wrong type
        {**APPLICANT, "address": "Marienplatz 1, München", "income": 5100.5},
    ] * 20
    with (tmp_path / "in.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(APPLICANT))
        writer.writeheader()
        writer.writerows(rows)

    local, local_rejects, _ = predict(
        "local", strict_credit_bundle, tmp_path / "in.csv", tmp_path / "a.parquet"
    )
    on_spark, spark_rejects, _ = predict(
        "spark", strict_credit_bundle, tmp_path / "in.csv", tmp_path / "b.parquet"
    )

    assert_same_predictions(local, on_spark)
    assert set(on_spark["label"]) <= {"default", "repaid"}
    assert len(on_spark) == 40
    assert spark_rejects == local_rejects
    assert [(r["row"], r["errors"][0]["field"]) for r in spark_rejects[:4]] == [
        (1, "address"),
        (2, "address"),  # no postcode file in this bundle: unknown, so rejected
        (3, "address"),
        (4, "age"),
    ]
    assert "matches no known place" in spark_rejects[0]["errors"][0]["message"]
    assert "must be a string, got null" in spark_rejects[2]["errors"][0]["message"]
    assert "must be a number, got a string" in spark_rejects[3]["errors"][0]["message"]


def test_a_dataframe_keeps_its_keys_and_says_why_a_row_was_rejected(
    spark: SparkSession, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark import cloudpickle
    from pyspark.sql import DataFrame

    shipped: list[Any] = []
    from pyspark.sql import functions as F

    frame = iris_frame().head(6).assign(customer=[f"c{i}" for i in range(6)])
    frame.loc[2, "sepal_width"] = None  # null in Spark
    source = spark.createDataFrame(frame).withColumn(
        "petal_width",
        F.when(F.col("customer") == "c4", F.lit(float("nan"))).otherwise(F.col("petal_width")),
    )
    kind = type(source)  # pyspark's classic DataFrame, a subclass of pyspark.sql.DataFrame
    original = kind.mapInArrow

    def spy(self: DataFrame, function: Any, *args: Any, **kwargs: Any) -> DataFrame:
        shipped.append(function)
        return original(self, function, *args, **kwargs)

    monkeypatch.setattr(kind, "mapInArrow", spy)
    scored = engine.score(source, bundle_dir, keys=["customer"])
    rows = pd.DataFrame([row.asDict() for row in scored.collect()], columns=scored.columns)
    rows = rows.sort_values("customer")

    assert list(rows.columns) == [
        "customer",
        "label",
        "proba_setosa",
        "proba_versicolor",
        "proba_virginica",
        "rejected",
    ]
    assert rows["customer"].tolist() == [f"c{i}" for i in range(6)]
    rejected = rows.set_index("customer")["rejected"]
    # A null is refused in the HTTP API's words for a null, a NaN as a NaN.
    assert [r.asDict() for r in rejected["c2"]] == [
        {"field": "sepal_width", "message": "must be a number, got null"}
    ]
    assert [r.asDict() for r in rejected["c4"]] == [
        {
            "field": "petal_width",
            "message": "must be a finite number (NaN and Infinity are not allowed)",
        }
    ]
    assert rejected.drop(["c2", "c4"]).isna().all()
    assert rows.set_index("customer").loc["c2", ["label", "proba_setosa"]].isna().all()
    # The workers get the bundle as files: what Spark pickles for them is a few strings.
    assert len(cloudpickle.dumps(shipped[0])) < 2_000 < (bundle_dir / PIPELINE_FILE).stat().st_size


def test_executors_refuse_a_tampered_bundle_with_the_servers_message(
    spark: SparkSession, bundle_dir: Path, tmp_path: Path
) -> None:
    from pyspark.errors import PythonException

    tampered = shutil.copytree(bundle_dir, tmp_path / "tampered")
    with (tampered / PIPELINE_FILE).open("ab") as handle:
        handle.write(b"\0")
    servers_message = load_entry(BundleLocation(tampered, None, None)).error
    frame = spark.createDataFrame(iris_frame().head(4).reset_index())

    scored = engine.score(frame, tampered, keys=["index"], ship=False)  # lazy: nothing loads yet
    with pytest.raises(PythonException) as raised:
        scored.collect()

    recovered = engine.engine_error(raised.value)
    assert isinstance(recovered, BundleError)
    assert servers_message is not None
    assert recovered.message == servers_message
    assert "refusing to load it" in servers_message

    iris_frame().to_csv(tmp_path / "in.csv", index=False)
    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--bundle",
            str(tampered),
            str(tmp_path / "in.csv"),
            "--engine",
            "spark",
            "--output",
            str(tmp_path / "out.parquet"),
        ],
    )
    assert result.exit_code == 1
    assert "does not match its recorded sha256" in result.output
    assert "Traceback" not in result.output


def test_the_engine_names_missing_feature_columns_before_any_job(
    spark: SparkSession, bundle_dir: Path, tmp_path: Path
) -> None:
    iris_frame().drop(columns="petal_width").to_csv(tmp_path / "in.csv", index=False)

    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--bundle",
            str(bundle_dir),
            str(tmp_path / "in.csv"),
            "--engine",
            "spark",
            "--output",
            str(tmp_path / "out.parquet"),
        ],
    )

    assert result.exit_code == 1
    assert "lacks the feature columns ['petal_width']" in result.output


def test_without_pyspark_the_error_names_the_extra(
    bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pyspark", None)
    iris_frame().to_csv(tmp_path / "in.csv", index=False)

    with pytest.raises(ConfigurationError, match=r"pipeserve\[spark\]"):
        engine.require_pyspark()
    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--bundle",
            str(bundle_dir),
            str(tmp_path / "in.csv"),
            "--engine",
            "spark",
            "--output",
            str(tmp_path / "out.parquet"),
        ],
    )
    assert result.exit_code == 1
    assert "install pipeserve[spark]" in result.output


def test_a_regressor_scores_on_spark_with_a_value_column_as_the_local_engine_writes(
    spark: SparkSession, ridge_bundle: Path, tmp_path: Path
) -> None:
    frame = iris_frame().drop(columns=["species", "petal_width"])
    frame.loc[7, "sepal_width"] = None
    frame.to_parquet(tmp_path / "in.parquet", row_group_size=50)

    local, local_rejects, _ = predict(
        "local", ridge_bundle, tmp_path / "in.parquet", tmp_path / "a.parquet"
    )
    on_spark, spark_rejects, _ = predict(
        "spark", ridge_bundle, tmp_path / "in.parquet", tmp_path / "b.parquet"
    )
    scored = engine.score(spark.createDataFrame(frame.reset_index()), ridge_bundle, keys=["index"])

    assert list(on_spark.columns) == list(local.columns) == ["row", "value"]
    assert on_spark["row"].tolist() == local["row"].tolist()
    np.testing.assert_allclose(on_spark["value"], local["value"], rtol=0, atol=1e-9)
    assert spark_rejects == local_rejects
    assert [r["row"] for r in spark_rejects] == [7]
    assert scored.columns == ["index", "value", "rejected"]
    assert dict(scored.dtypes)["value"] == "double"


def test_each_python_worker_verifies_the_bundle_once(
    spark: SparkSession, session_bundle: Path
) -> None:
    frame = spark.createDataFrame(iris_frame().reset_index()).repartition(6)
    name = str(session_bundle)
    for _ in range(2):  # two jobs, six tasks each, on two cores: workers are reused
        scored = engine.score(frame, session_bundle, keys=["index"], ship=False)
        assert scored.where("rejected IS NULL").count() == 150

    def loads(batches: Any) -> Any:
        import os

        from pipeserve.batch import spark_worker as worker

        for _ in batches:
            pass
        yield pd.DataFrame({"pid": [os.getpid()], "loads": [worker.LOADS.get(name, 0)]})

    seen = frame.mapInPandas(loads, "pid long, loads long").collect()
    by_worker = {row["pid"]: row["loads"] for row in seen}
    assert set(by_worker.values()) <= {0, 1}, by_worker  # 0: a worker that scored nothing
    assert 1 in by_worker.values(), by_worker
