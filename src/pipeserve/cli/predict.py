"""``pipeserve predict``: score a file with a bundle, in this process or on Spark."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from pipeserve.batch import CHUNK_SIZE
from pipeserve.cli.options import EXISTING_DIR, EXISTING_FILE, PATH, friendly_errors, geocoder


@click.command()
@click.option("--bundle", "bundle_dir", type=EXISTING_DIR, required=True)
@click.argument("input_path", type=EXISTING_FILE)
@click.option("--output", type=PATH, required=True, help="Predictions (.csv, .jsonl or .parquet).")
@click.option(
    "--rejects", type=PATH, help="Invalid rows with reasons [default: OUTPUT.rejects.jsonl]"
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=CHUNK_SIZE,
    show_default=True,
    help="Rows scored at a time (Spark: rows per Arrow batch sent to a Python worker).",
)
@click.option("--probabilities/--no-probabilities", default=True, show_default=True)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="local: this process, chunk by chunk; spark: Apache Spark (pipeserve[spark]), "
    "Parquet or CSV in, Parquet out.",
)
@click.option(
    "--master",
    default="local[*]",
    show_default=True,
    help="Spark master URL (--engine spark), e.g. k8s://https://HOST:443.",
)
@friendly_errors
def predict(
    *,
    bundle_dir: Path,
    input_path: Path,
    output: Path,
    rejects: Path | None,
    chunk_size: int,
    probabilities: bool,
    engine: str,
    master: str,
) -> None:
    """Score a CSV, JSON-lines or Parquet file with a bundle, with a progress bar on stderr."""
    rejects = rejects or output.with_name(output.name + ".rejects.jsonl")
    if engine == "spark":
        report = _predict_on_spark(
            bundle_dir,
            input_path,
            output,
            rejects,
            chunk_size=chunk_size,
            probabilities=probabilities,
            master=master,
        )
    else:
        from tqdm import tqdm

        from pipeserve.batch.local import score_file
        from pipeserve.bundle.io import load_bundle
        from pipeserve.inference.predictor import Predictor

        predictor = Predictor(load_bundle(bundle_dir), geocoder=geocoder())
        with tqdm(unit=" rows", file=sys.stderr, desc="scoring") as bar:
            report = score_file(
                predictor,
                input_path,
                output,
                rejects,
                chunk_size=chunk_size,
                probabilities=probabilities,
                progress=bar.update,
            )
    click.echo(
        f"{report.scored} of {report.rows} rows scored → {output}; "
        f"{report.rejected} rejected → {rejects}",
        err=True,
    )


def _predict_on_spark(
    bundle_dir: Path,
    input_path: Path,
    output: Path,
    rejects: Path,
    *,
    chunk_size: int,
    probabilities: bool,
    master: str,
) -> Any:
    """``predict --engine spark``: a Spark session for the run; a worker's pipeserve error
    (a bundle that fails to verify on the executors) is reported as such."""
    from pipeserve import spark
    from pipeserve.inference.registry import LoadOptions

    spark.require_pyspark()
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # Local workers run this interpreter, which has pipeserve (python3 on PATH may not).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # A session that already runs (a notebook, a test) is used as it is and left running.
    existing = SparkSession.getActiveSession()
    session = existing or (
        SparkSession.builder.master(master).appName("pipeserve predict").getOrCreate()
    )
    try:
        return spark.score_file(
            session,
            bundle_dir,
            input_path,
            output,
            rejects,
            probabilities=probabilities,
            batch_rows=chunk_size,
            options=LoadOptions(geocoder=geocoder()),
        )
    except (PySparkException, Py4JJavaError) as error:
        recovered = spark.engine_error(error)
        if recovered is None:
            raise
        raise recovered from error
    finally:
        if existing is None:
            session.stop()
