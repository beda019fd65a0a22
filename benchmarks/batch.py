"""Batch scoring: the local engine against Spark ``local[2]``, rows per second, from Parquet.

Generates 1,000,000 iris rows and 200,000 credit rows (training rows resampled with noise),
then, interleaved, scores each file with the local engine (``pipeserve.batch.local``) and
with Spark (``pipeserve.spark``), and runs a Spark pass-through (``mapInArrow`` returning its
input, written as Parquet) to price what Spark itself costs per row. It also times the local
engine's steps apart (Parquet read, decode and validate, predict, output assembly, Parquet write,
rejects) to say where its time goes. Prints a table and the issue's targets; asserts nothing.

    make bench-batch
    .venv/bin/python -m benchmarks.batch --iris-rows 200000 --credit-rows 50000 --repeats 1
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.report import git_state, machine_info, machine_line
from pipeserve.batch import CHUNK_SIZE
from pipeserve.batch.arrow import prediction_arrays
from pipeserve.batch.chunks import output_columns, predict_valid, valid_columns
from pipeserve.batch.files import Writer, read_chunks
from pipeserve.batch.local import score_file
from pipeserve.bundle.io import load_bundle
from pipeserve.inference.predictor import Predictor
from pipeserve.inference.schema import InstanceValidator

ROOT = Path(__file__).parents[1]
# CPU seconds (all threads) of each local run, per input: on a machine others load, wall time
# says how busy it was; CPU time says what the engine needs.
CPU_SECONDS: dict[str, list[float]] = {}


def generate(source: pd.DataFrame, features: list[str], rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows resampled from ``source``, numbers jittered by 1% so they are not repeats."""
    rng = np.random.default_rng(seed)
    frame = source[features].sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    for name in features:
        if pd.api.types.is_numeric_dtype(frame[name]):
            frame[name] = frame[name].astype(float) * rng.normal(1, 0.01, rows)
    return frame


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def local_steps(bundle: Path, source: Path, workdir: Path, chunk_size: int) -> dict[str, float]:
    """Seconds the local engine spends per step over the whole file, chunk by chunk (the
    steps of ``score_file``, timed apart)."""
    predictor = Predictor(load_bundle(bundle))
    validator = InstanceValidator(predictor.manifest)
    features = predictor.feature_names
    text = [f.name for f in predictor.manifest.features if f.dtype == "string"]
    columns = ["row", *output_columns(predictor.classes, True, predictor.is_regressor)]
    writer = Writer(workdir / "steps.parquet", columns, predictor.is_regressor)
    steps = dict.fromkeys(["read", "validate", "predict", "assemble", "write"], 0.0)
    chunks = iter(read_chunks(source, chunk_size, text, features))
    offset = 0
    while True:
        start = time.perf_counter()
        chunk = next(chunks, None)
        steps["read"] += time.perf_counter() - start
        if chunk is None:
            break
        start = time.perf_counter()
        valid, positions, rejects = valid_columns(validator.columns, chunk)
        steps["validate"] += time.perf_counter() - start
        start = time.perf_counter()
        scores = predict_valid(predictor, valid, positions, True, rejects)
        steps["predict"] += time.perf_counter() - start
        start = time.perf_counter()
        arrays = prediction_arrays(scores, predictor.classes)
        steps["assemble"] += time.perf_counter() - start
        start = time.perf_counter()
        writer.write(offset + scores.positions, arrays)
        steps["write"] += time.perf_counter() - start
        offset += chunk.num_rows
    writer.close()
    return steps


def run_local(bundle: Path, source: Path, workdir: Path, chunk_size: int) -> float:
    """``pipeserve predict``'s local engine from the file to the outputs (the bundle loaded
    before, as Spark's workers have it loaded from the warm-up)."""
    predictor = Predictor(load_bundle(bundle))
    start, cpu = time.perf_counter(), time.process_time()
    score_file(
        predictor,
        source,
        workdir / "local.parquet",
        workdir / "local.rejects.jsonl",
        chunk_size=chunk_size,
    )
    seconds = time.perf_counter() - start
    CPU_SECONDS.setdefault(source.stem, []).append(time.process_time() - cpu)
    return seconds


def run_spark(spark: Any, bundle: Path, source: Path, workdir: Path, chunk_size: int) -> float:
    from pipeserve import spark as engine  # noqa: PLC0415  # the optional extra

    return timed(
        lambda: engine.score_file(
            spark,
            bundle,
            source,
            workdir / "spark.parquet",
            workdir / "spark.rejects.jsonl",
            batch_rows=chunk_size,
        )
    )


def run_passthrough(spark: Any, source: Path, workdir: Path, chunk_size: int) -> float:
    """Spark reading the file, sending every Arrow batch through a Python worker unchanged and
    writing it: the floor under any mapInArrow engine."""
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_size))
    frame = spark.read.parquet(str(source))

    def same(batches: Any) -> Any:
        yield from batches

    out = frame.mapInArrow(same, frame.schema)
    return timed(lambda: out.write.mode("overwrite").parquet(str(workdir / "through.parquet")))


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def local_only(
    cases: dict[str, Any], files: dict[str, Path], workdir: Path, chunk: int, repeats: int
) -> None:
    """The local engine alone, best of ``repeats``, with its steps timed apart."""
    for name, (bundle, _, rows) in cases.items():
        seconds = min(run_local(bundle, files[name], workdir, chunk) for _ in range(repeats))
        cpu = min(CPU_SECONDS[name])
        print(f"{name} local {rows / seconds:,.0f} rows/s ({seconds:.2f} s, {cpu:.2f} CPU s)")
        steps = local_steps(bundle, files[name], workdir, chunk)
        print("  " + ", ".join(f"{step} {sec:.3f} s" for step, sec in steps.items()))
    print(load_line())


def report(results: dict[str, dict[str, list[float]]], cases: dict[str, Any], master: str) -> None:
    """The table: rows/s and µs/row per engine, best of the rounds, and the issue's targets."""
    print(f"\n{'model':<8} {'engine':<24} {'rows/s':>10} {'µs/row':>8}")
    for name, times in results.items():
        rows = cases[name][2]
        best = {engine: min(values) for engine, values in times.items()}
        for engine, label in [
            ("local", "local (1 process)"),
            ("spark", f"spark {master}"),
            ("through", "spark pass-through"),
        ]:
            print(
                f"{name:<8} {label:<24} {rows / best[engine]:>10,.0f} "
                f"{best[engine] / rows * 1e6:>8.2f}"
            )
        ratio = best["local"] / best["spark"]
        overhead = (best["spark"] - best["local"]) / rows * 1e6
        print(
            f"{name:<8} spark/local rows/s {ratio:.2f}x (target >= 0.7x); Spark's own cost "
            f"(pass-through) {best['through'] / rows * 1e6:.2f} µs/row; spark minus local "
            f"{overhead:+.2f} µs/row"
        )
    iris_local = cases["iris"][2] / min(results["iris"]["local"])
    print(f"iris local {iris_local:,.0f} rows/s (target >= 1,000,000)")
    for name, (_, _, rows) in cases.items():
        cpu = min(CPU_SECONDS.get(name, [math.nan]))
        print(
            f"{name} local: {cpu:.2f} CPU s (all threads) for {rows:,} rows, "
            f"{rows / cpu:,.0f} rows per CPU s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iris-rows", type=int, default=1_000_000)
    parser.add_argument("--credit-rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="rows per chunk/batch")
    parser.add_argument(
        "--local-only", action="store_true", help="no Spark (profile the local engine)"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession  # noqa: PLC0415  # after PYSPARK_PYTHON is set

    git = git_state(ROOT)
    print(machine_line(machine_info()), f"commit {git.get('commit', '?')}", flush=True)
    print(load_line(), flush=True)
    iris_source = pd.read_csv(ROOT / "data" / "prepared" / "train.csv")
    credit_source = pd.read_csv(ROOT / "data" / "prepared" / "credit" / "train.csv")
    cases = {
        "iris": (ROOT / "models" / "iris", iris_source, args.iris_rows),
        "credit": (ROOT / "models" / "credit", credit_source, args.credit_rows),
    }
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        workdir = Path(scratch)
        files: dict[str, Path] = {}
        for name, (bundle, source, rows) in cases.items():
            manifest = load_bundle(bundle).manifest
            frame = generate(source, manifest.feature_names, rows, seed=len(name))
            files[name] = workdir / f"{name}.parquet"
            frame.to_parquet(files[name], row_group_size=CHUNK_SIZE)
            print(f"{name}: {rows:,} rows, path {Predictor(load_bundle(bundle)).inference_path}")

        chunk = args.chunk_size
        if args.local_only:
            local_only(cases, files, workdir, chunk, args.repeats)
            return 0
        start = time.perf_counter()
        spark = (
            SparkSession.builder.master(args.master)
            .appName("pipeserve bench-batch")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        print(f"spark session: {time.perf_counter() - start:.1f} s (not counted)", flush=True)
        # Workers start and load the bundle once: warm both engines on a small file first.
        for name, (bundle, _, _) in cases.items():
            small = workdir / f"{name}-small.parquet"
            pd.read_parquet(files[name]).head(2_000).to_parquet(small)
            run_spark(spark, bundle, small, workdir, chunk)
            run_local(bundle, small, workdir, chunk)

        results: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.repeats):
            for name, (bundle, _, _) in cases.items():
                times = results.setdefault(name, {"local": [], "spark": [], "through": []})
                times["local"].append(run_local(bundle, files[name], workdir, chunk))
                times["spark"].append(run_spark(spark, bundle, files[name], workdir, chunk))
                times["through"].append(run_passthrough(spark, files[name], workdir, chunk))
                print(
                    f"  {name}: local {times['local'][-1]:.2f} s, spark {times['spark'][-1]:.2f} s,"
                    f" pass-through {times['through'][-1]:.2f} s",
                    flush=True,
                )
        spark.stop()

        report(results, cases, args.master)
        print("\nwhere the local engine's time goes (s over the whole file, one step at a time):")
        for name, (bundle, _, rows) in cases.items():
            steps = local_steps(bundle, files[name], workdir, chunk)
            line = ", ".join(f"{step} {seconds:.3f}" for step, seconds in steps.items())
            print(f"  {name} ({rows:,} rows): {line}")
        print(load_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
