"""The local engine: score a file in this process, chunk by chunk, so memory stays flat
however large the file.

Input and output are CSV, JSON lines or Parquet (with the ``parquet`` extra). Rows that fail
validation, and rows whose address a rejecting geocoder cannot find, are written to a reject
file with the reason, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pipeserve.batch import CHUNK_SIZE
from pipeserve.batch.chunks import (
    ChunkScores,
    chunk_columns,
    missing_features_error,
    output_columns,
    score_chunk,
)
from pipeserve.batch.files import Writer, input_columns, read_chunks
from pipeserve.inference.predictor import Predictor
from pipeserve.inference.schema import InstanceValidator


@dataclass
class BatchReport:
    """What a batch run did."""

    rows: int = 0
    scored: int = 0
    rejected: int = 0


def score_file(
    predictor: Predictor,
    input_path: Path,
    output_path: Path,
    rejects_path: Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    probabilities: bool = True,
    progress: Callable[[int], None] | None = None,
    validator: InstanceValidator | None = None,
) -> BatchReport:
    """Score every row of ``input_path`` into ``output_path``; invalid rows go to
    ``rejects_path`` as JSON lines ``{"row", "errors"}`` (rows are numbered from 0).

    Columns other than the model's features are ignored (and not read from Parquet).
    ``validator`` carries the server's input settings (``PIPESERVE_MAX_STRING_LENGTH``).
    Raises :class:`ConfigurationError` for an unsupported file type or when a feature column
    is missing from the file.
    """
    validator = validator or InstanceValidator(predictor.manifest)
    probabilities = probabilities and predictor.has_probabilities
    features = predictor.feature_names
    present = input_columns(input_path)
    if present is not None and (missing := [n for n in features if n not in present]):
        raise missing_features_error(str(input_path), missing, features)
    text_columns = [f.name for f in predictor.manifest.features if f.dtype == "string"]
    columns = ["row", *output_columns(predictor.classes, probabilities, predictor.is_regressor)]
    parquet_out = output_path.suffix.lower() == ".parquet"
    report = BatchReport()
    writer = Writer(output_path, columns, predictor.is_regressor)
    # Reading the next chunk and writing the last one overlap with scoring this one: pyarrow
    # and onnxruntime release the GIL, so the three use the machine's cores in turn. At most
    # one chunk is read ahead and one is being written, so memory stays flat.
    io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pipeserve-batch-io")
    written: Future[None] | None = None
    try:
        chunks = _read_ahead(io, read_chunks(input_path, chunk_size, text_columns, features))
        with Path(rejects_path).open("w", encoding="utf-8") as rejects:
            for chunk in chunks:
                missing = [n for n in features if n not in chunk_columns(chunk)]
                if missing:
                    raise missing_features_error(str(input_path), missing, features)
                scores = score_chunk(predictor, validator, chunk)
                _write_rejects(rejects, scores, report.rows)
                outputs = _outputs(scores, predictor, parquet_out)
                if written is not None:
                    written.result()  # in order, and an error surfaces here
                written = io.submit(writer.write, report.rows + scores.positions, outputs)
                size = len(chunk)
                report.scored += len(scores.positions)
                report.rejected += len(scores.rejects)
                report.rows += size
                if progress is not None:
                    progress(size)
        if written is not None:
            written.result()
    finally:
        io.shutdown(wait=True, cancel_futures=True)
        writer.close()
    return report


def _read_ahead(io: ThreadPoolExecutor, chunks: Iterator[Any]) -> Iterator[Any]:
    """``chunks``, with the next one read (on ``io``) while the caller works on this one."""
    upcoming = io.submit(next, chunks, None)
    while (chunk := upcoming.result()) is not None:
        upcoming = io.submit(next, chunks, None)
        yield chunk


def _outputs(scores: ChunkScores, predictor: Predictor, arrow: bool) -> dict[str, Any]:
    if arrow:
        from pipeserve.batch.arrow import prediction_arrays  # noqa: PLC0415  # pyarrow is there

        return prediction_arrays(scores, predictor.classes)
    return scores.predictions(predictor.classes)


def _write_rejects(rejects: Any, scores: ChunkScores, offset: int) -> None:
    """One JSON line per rejected row (the only per-row Python: rejected rows are few)."""
    if scores.rejects:
        lines = [
            orjson.dumps({"row": offset + position, "errors": errors})
            for position, errors in scores.rejects
        ]
        rejects.write(b"\n".join([*lines, b""]).decode())


__all__ = ["BatchReport", "score_file"]
