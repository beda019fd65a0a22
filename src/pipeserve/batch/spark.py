"""Score a Spark DataFrame with a bundle: the local engine's per-chunk step, on every worker.

This is the driver's side: the output schema, the bundle shipped to the executors, row
numbers, files in and out. Spark hands each Python worker Arrow record batches (``mapInArrow``:
the columns as Arrow keeps them, with no pandas conversion either way, and a null stays a null,
not a NaN); what the worker does with them is :mod:`pipeserve.batch.spark_worker`: it loads and
verifies the bundle once, through the server's own load path
(:func:`pipeserve.inference.registry.load_entry`: sha256 of every file, the trusted-types list,
the warm-up), and scores every batch with :func:`pipeserve.batch.chunks.score_chunk`, the
function the local engine calls. So the two engines validate, reject and predict alike, and
gain alike when that function gets faster. The public entry points are in :mod:`pipeserve.spark`.

The bundle travels as files: zipped and registered with ``SparkContext.addArchive`` (each
executor unpacks it), or read from a path every executor can see (the serving image bakes the
models in). The function Spark pickles for the workers holds only strings and numbers; no
model is ever pickled.

Needs the ``spark`` extra (pyspark) and a Java runtime; nothing here imports pyspark until
called.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from pipeserve import errors
from pipeserve.batch import CHUNK_SIZE
from pipeserve.batch.chunks import missing_features_error, output_columns
from pipeserve.batch.files import file_format
from pipeserve.batch.local import BatchReport
from pipeserve.batch.spark_worker import REJECTED, RejectList, WorkerPlan, score_batches
from pipeserve.bundle.io import read_manifest
from pipeserve.errors import ConfigurationError, PipeserveError
from pipeserve.inference.registry import LoadOptions
from pipeserve.inference.store import manifest_fingerprint

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_BATCH_ROWS = "spark.sql.execution.arrow.maxRecordsPerBatch"
EXTRA_MISSING = (
    "the Spark engine needs pyspark and a Java runtime: install pipeserve[spark] "
    "(pip install 'pipeserve[spark]') and a JRE 17 or newer"
)


def require_pyspark() -> None:
    """Raise :class:`ConfigurationError` naming the ``spark`` extra when pyspark is missing."""
    try:
        import pyspark  # noqa: F401, PLC0415  # optional extra
    except ImportError as error:
        raise ConfigurationError(EXTRA_MISSING) from error


# The archive already shipped for a bundle's content, per Spark application.
_SHIPPED: dict[tuple[str, str, str], str] = {}


def _ship(spark: SparkSession, bundle: Path) -> str:
    """Zip the bundle and register it with the Spark context, once per content and
    application; returns the name executors find it under (``SparkFiles.get``). The name
    carries the sha256 of ``bundle.json``: Spark never replaces a file it already shipped under
    a name, and a worker that has verified this archive keeps what it loaded."""
    pinned = hashlib.sha256(manifest_fingerprint(bundle) or b"").hexdigest()
    shipment = (spark.sparkContext.applicationId, str(bundle.resolve()), pinned)
    if shipment in _SHIPPED:
        return _SHIPPED[shipment]
    staging = Path(tempfile.mkdtemp(prefix="pipeserve-ship-"))
    # The driver serves the archive to executors for as long as the application runs.
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    name = f"{bundle.name}-{pinned[:16]}-{uuid.uuid4().hex[:8]}.zip"
    with zipfile.ZipFile(staging / name, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(bundle.iterdir()):
            if path.is_file():
                archive.write(path, path.name)
    spark.sparkContext.addArchive(str(staging / name))
    _SHIPPED[shipment] = name
    return name


def score(
    frame: DataFrame,
    bundle: Path | str,
    *,
    keys: Sequence[str],
    probabilities: bool = True,
    ship: bool = True,
    text_source: bool = False,
    options: LoadOptions | None = None,
) -> DataFrame:
    """Score ``frame`` with the bundle at ``bundle`` (lazily, like any Spark transformation).

    The result holds ``keys`` (columns of ``frame`` that identify a row), ``label`` and one
    ``proba_<class>`` per class when ``probabilities`` (a regressor's ``value`` instead: the
    columns the local engine writes), and ``rejected``: null for a scored
    row, else the reasons as ``[{"field", "message"}]``, exactly as the local engine's rejects
    file lists them. ``ship=False`` reads the bundle at the same path on every executor instead of
    sending it; ``text_source`` says every column is text (CSV read without a schema) and is typed
    the way the local engine types CSV cells.

    Raises :class:`ConfigurationError` when pyspark is missing or a key or feature column is
    absent, :class:`BundleError` when ``bundle.json`` cannot be read; a bundle that fails to
    verify fails the Spark job on the executors with the server's message (see
    :func:`engine_error`).
    """
    return _scoring(
        frame,
        Path(bundle),
        keys=keys,
        probabilities=probabilities,
        ship=ship,
        text_source=text_source,
        options=options or LoadOptions(),
        rejects=None,
    )


def _scoring(  # score()'s arguments and where the rejects go
    frame: DataFrame,
    bundle: Path,
    *,
    keys: Sequence[str],
    probabilities: bool,
    ship: bool,
    text_source: bool,
    options: LoadOptions,
    rejects: Any,
) -> DataFrame:
    """:func:`score`; with a ``rejects`` accumulator (of :class:`RejectList`), the rejected
    rows go there as ``(first key, errors)`` and the result holds the scored rows only, without
    the ``rejected`` column."""
    require_pyspark()
    from pyspark.sql import types as T  # noqa: PLC0415

    manifest = read_manifest(bundle)  # the output schema; the executors verify the bundle
    columns = set(frame.columns)
    absent_keys = [key for key in keys if key not in columns]
    if absent_keys:
        raise ConfigurationError(
            f"the key columns {absent_keys} are not in the input (its columns: {frame.columns})",
            missing=absent_keys,
        )
    features = manifest.feature_names
    missing = [name for name in features if name not in columns]
    if missing:
        raise missing_features_error("the input", missing, features)
    fields = [frame.schema[key] for key in keys]
    regression = manifest.task == "regression"
    names = output_columns(manifest.classes, probabilities, regression)
    fields += [
        T.StructField(name, T.StringType() if name == "label" else T.DoubleType()) for name in names
    ]
    reason = T.StructType(
        [T.StructField("field", T.StringType()), T.StructField("message", T.StringType())]
    )
    if rejects is None:
        fields.append(T.StructField(REJECTED, T.ArrayType(reason)))
    plan = WorkerPlan(
        bundle=_ship(frame.sparkSession, bundle) if ship else str(bundle),
        shipped=ship,
        keys=tuple(keys),
        probabilities=probabilities,
        text_source=text_source,
        max_string_length=options.max_string_length,
        inference_path=options.inference_path,
        trust=options.trust,
        geocoder=options.geocoder,
    )
    needed = list(dict.fromkeys([*keys, *features]))
    return frame.select(*needed).mapInArrow(
        functools.partial(score_batches, plan, rejects), T.StructType(fields)
    )


def with_row_numbers(frame: DataFrame, name: str = "row") -> DataFrame:
    """``frame`` with its rows numbered from 0 in file order, as the local engine numbers them.

    One cheap job counts the rows of each partition; the numbers are then computed in the JVM
    (partition offset + position in the partition), without moving data between partitions.
    """
    return _numbered(frame, name)[0]


def _numbered(frame: DataFrame, name: str) -> tuple[DataFrame, int]:
    """:func:`with_row_numbers`, and how many rows there are."""
    from pyspark.sql import functions as F  # noqa: PLC0415

    by_partition = frame.select(F.spark_partition_id().alias("p")).groupBy("p").count()
    counts: dict[int, int] = {row["p"]: row["count"] for row in by_partition.collect()}
    offsets, total = [], 0
    for partition in sorted(counts):
        offsets += [F.lit(partition), F.lit(total)]
        total += counts[partition]
    partition_id = F.spark_partition_id()
    in_partition = F.monotonically_increasing_id() - F.shiftleft(partition_id.cast("long"), 33)
    offset = F.element_at(F.create_map(*offsets), partition_id) if offsets else F.lit(0)
    return frame.withColumn(name, (offset + in_partition).cast("long")), total


def score_file(
    spark: SparkSession,
    bundle: Path,
    input_path: Path,
    output_path: Path,
    rejects_path: Path,
    *,
    probabilities: bool = True,
    ship: bool = True,
    options: LoadOptions | None = None,
    batch_rows: int = CHUNK_SIZE,
) -> BatchReport:
    """The local engine's :func:`~pipeserve.batch.local.score_file`, on Spark: Parquet or
    CSV in, Parquet out (a directory of part files, as Spark writes), the rejects file as JSON
    lines ``{"row", "errors"}`` in row order, the same as the local engine writes it.

    ``batch_rows``: rows per Arrow batch a Python worker scores at a time (set on the session
    for this run: per-batch costs vanish per row at the local engine's chunk size).

    Raises :class:`ConfigurationError` for other file types and for missing feature columns.
    """
    previous = spark.conf.get(_BATCH_ROWS, None)
    spark.conf.set(_BATCH_ROWS, str(batch_rows))
    try:
        return _score_file(
            spark,
            bundle,
            (input_path, output_path, rejects_path),
            probabilities=probabilities,
            ship=ship,
            options=options,
        )
    finally:
        if previous is None:
            spark.conf.unset(_BATCH_ROWS)
        else:
            spark.conf.set(_BATCH_ROWS, previous)


def _score_file(
    spark: SparkSession,
    bundle: Path,
    paths: tuple[Path, Path, Path],
    *,
    probabilities: bool,
    ship: bool,
    options: LoadOptions | None,
) -> BatchReport:
    input_path, output_path, rejects_path = paths

    fmt = file_format(input_path)
    if fmt not in ("csv", "parquet") or file_format(output_path) != "parquet":
        raise ConfigurationError(
            "the Spark engine reads Parquet or CSV and writes Parquet "
            f"(got {input_path.name} → {output_path.name})",
            path=str(input_path),
        )
    if fmt == "csv":
        # Every cell as text, as pandas reads it before the local engine types it.
        frame = spark.read.csv(str(input_path), header=True, inferSchema=False)
    else:
        frame = spark.read.parquet(str(input_path))
    features = read_manifest(bundle).feature_names
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise missing_features_error(str(input_path), missing, features)
    if fmt == "parquet" and input_path.is_file():
        # One file: Parquet's own row index is the row number, and the count comes from the
        # footers; no job has to number the rows first.
        from pyspark.sql import functions as F  # noqa: PLC0415

        numbered = frame.withColumn("row", F.col("_metadata.row_index"))
        total = frame.count()
    else:
        numbered, total = _numbered(frame, "row")
    found: Any = spark.sparkContext.accumulator([], RejectList())  # type: ignore[arg-type]
    scored = _scoring(
        numbered,
        bundle,
        keys=["row"],
        probabilities=probabilities,
        ship=ship,
        text_source=fmt == "csv",
        options=options or LoadOptions(),
        rejects=found,
    )
    # Dictionary pages cost more than the rest of the write on columns of distinct numbers
    # (measured: about half of Spark's Parquet write time) and save 6% on the labels.
    scored.write.mode("overwrite").option("parquet.enable.dictionary", "false").parquet(
        str(output_path)
    )
    by_row = dict(found.value)  # one per row, however often a task ran
    with Path(rejects_path).open("w", encoding="utf-8") as rejects:
        for row in sorted(by_row):
            rejects.write(orjson.dumps({"row": row, "errors": by_row[row]}).decode() + "\n")
    return BatchReport(rows=total, scored=total - len(by_row), rejected=len(by_row))


_WORKER_ERROR = re.compile(r"pipeserve\.errors\.(\w+): (.+)")


def engine_error(error: Exception) -> PipeserveError | None:
    """The pipeserve error a Python worker raised, recovered from Spark's exception (which
    carries the worker's traceback as text), or ``None`` when it was not one of ours."""
    found = _WORKER_ERROR.findall(str(error))
    if not found:
        return None
    name, message = found[-1]
    kind: Any = getattr(errors, name, PipeserveError)
    if not (isinstance(kind, type) and issubclass(kind, PipeserveError)):
        kind = PipeserveError
    recovered: PipeserveError = kind(message.strip())
    return recovered
