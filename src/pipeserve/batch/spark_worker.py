"""What a Spark executor's Python worker runs: the plan it is handed (plain data, pickled by
Spark), the bundle it loads and verifies once per worker, and the ``mapInArrow`` function that
scores each Arrow batch with :func:`pipeserve.batch.chunks.score_chunk`, the local engine's step.

The driver's side (shipping the bundle, the output schema, files) is :mod:`pipeserve.batch.spark`.
Nothing here imports pyspark until a worker runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeserve.batch.chunks import output_columns, score_chunk
from pipeserve.batch.files import from_text
from pipeserve.bundle.trusted import Trust
from pipeserve.errors import BundleError
from pipeserve.features.geocoders.runtime import GeocoderSettings
from pipeserve.inference.registry import LoadOptions, load_entry
from pipeserve.inference.store import BundleLocation, manifest_fingerprint

if TYPE_CHECKING:
    import pyarrow as pa

    from pipeserve.inference.predictor import Predictor
    from pipeserve.inference.schema import InstanceValidator

REJECTED = "rejected"


@dataclass(frozen=True)
class WorkerPlan:
    """Everything a worker needs, as plain data: this is what Spark pickles."""

    bundle: str  # a path every executor can read, or the name of the shipped archive
    shipped: bool
    keys: tuple[str, ...]
    probabilities: bool
    text_source: bool  # every column arrives as text (CSV): type it as the local engine does
    max_string_length: int
    inference_path: str
    trust: Trust  # type names: the driver's reviewed list, never the bundle's
    geocoder: GeocoderSettings | None  # the driver's settings for HTTP geocoders, as values


# Per Python worker: the predictor and validator of each bundle it has loaded, by path and
# the sha256 of its bundle.json (which pins every other file). Spark reuses a worker for many
# tasks and jobs (spark.python.worker.reuse), so a bundle is verified once per worker; LOADS
# counts the verifications per bundle as the driver named it, so a test can see that.
_LOADED: dict[
    tuple[str, str, int, str, Trust, GeocoderSettings | None], tuple[Predictor, InstanceValidator]
] = {}
LOADS: dict[str, int] = {}


def loaded(plan: WorkerPlan) -> tuple[Predictor, InstanceValidator]:
    if plan.shipped:
        from pyspark import SparkFiles  # noqa: PLC0415

        path = SparkFiles.get(plan.bundle)
    else:
        path = plan.bundle
    pinned = hashlib.sha256(manifest_fingerprint(Path(path)) or b"").hexdigest()
    key = (path, pinned, plan.max_string_length, plan.inference_path, plan.trust, plan.geocoder)
    if key not in _LOADED:
        options = LoadOptions(
            plan.max_string_length,
            plan.inference_path,  # type: ignore[arg-type]  # a LoadOptions value, as given
            plan.trust,
            monitor_window=0,  # nothing reads input monitoring in a batch job
            geocoder=plan.geocoder,
        )
        entry = load_entry(BundleLocation(Path(path), None, None), options=options)
        if entry.predictor is None or entry.validator is None:
            raise BundleError(entry.error or f"{path}: the bundle did not load", path=path)
        _LOADED[key] = entry.predictor, entry.validator
        LOADS[plan.bundle] = LOADS.get(plan.bundle, 0) + 1
    return _LOADED[key]


class RejectList:
    """Accumulates ``(key, errors)`` of rejected rows from the workers (Spark's accumulator
    protocol). A task run twice adds its rejects twice: the driver keeps one per key."""

    def zero(self, value: list[Any]) -> list[Any]:
        return []

    def addInPlace(self, collected: list[Any], more: list[Any]) -> list[Any]:
        collected.extend(more)
        return collected


def score_batches(
    plan: WorkerPlan, rejects: Any, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function: every input row comes out once, scored or rejected; or,
    with a ``rejects`` accumulator, only the scored rows, the rejected ones being sent there
    (so writing a file needs one pass and no cache)."""
    import pyarrow as pa  # noqa: PLC0415  # pyspark's own dependency

    from pipeserve.batch.arrow import prediction_arrays, reasons_array  # noqa: PLC0415

    predictor, validator = loaded(plan)
    text_columns = [f.name for f in predictor.manifest.features if f.is_text]
    names = output_columns(predictor.classes, plan.probabilities, predictor.is_regressor)
    for batch in batches:
        chunk: Any = batch
        if plan.text_source:  # CSV cells: typed as the local engine types them
            chunk = from_text(batch.to_pandas(), text_columns)
        scores = score_chunk(predictor, validator, chunk)
        if rejects is None:
            size = batch.num_rows
            predictions = prediction_arrays(scores, predictor.classes, size)
            arrays = [batch.column(key) for key in plan.keys]
            arrays.append(reasons_array(scores, size))
        else:
            size = len(scores.positions)
            predictions = prediction_arrays(scores, predictor.classes)
            taken = pa.array(scores.positions)
            arrays = [batch.column(key).take(taken) for key in plan.keys]
            if scores.rejects:
                key = batch.column(plan.keys[0])
                rejects.add([(key[position].as_py(), e) for position, e in scores.rejects])
        # A classifier without probabilities has none to give: its declared columns are null.
        arrays[len(plan.keys) : len(plan.keys)] = [
            predictions.get(name, pa.nulls(size, pa.float64())) for name in names
        ]
        columns = [*plan.keys, *names, *([REJECTED] if rejects is None else [])]
        yield pa.RecordBatch.from_arrays(arrays, names=columns)
