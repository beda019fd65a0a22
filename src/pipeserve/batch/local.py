"""The local engine: score a file in this process, chunk by chunk, so memory stays flat
however large the file.

Input and output are CSV, JSON lines or Parquet (with the ``parquet`` extra). Rows that fail
validation, and rows whose address a rejecting geocoder cannot find, are written to a reject
file with the reason, never dropped silently.
"""

from __future__ import annotations

import os
from collections import deque
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
    threads: int | None = None,
) -> BatchReport:
    """Score every row of ``input_path`` into ``output_path``; invalid rows go to
    ``rejects_path`` as JSON lines ``{"row", "errors"}`` (rows are numbered from 0).

    Columns other than the model's features are ignored (and not read from Parquet).
    ``validator`` carries the server's input settings (``PIPESERVE_MAX_STRING_LENGTH``);
    ``threads`` chunks are scored at once (default: this machine's cores, at most 4).
    Raises :class:`ConfigurationError` for an unsupported file type or when a feature column
    is missing from the file.
    """
    validator = validator or InstanceValidator(predictor.manifest)
    probabilities = probabilities and predictor.has_probabilities
    features = predictor.feature_names
    present = input_columns(input_path)
    if present is not None and (missing := [n for n in features if n not in present]):
        raise missing_features_error(str(input_path), missing, features)
    text_columns = [f.name for f in predictor.manifest.features if f.is_text]
    columns = ["row", *output_columns(predictor.classes, probabilities, predictor.is_regressor)]
    parquet_out = output_path.suffix.lower() == ".parquet"
    report = BatchReport()
    writer = Writer(output_path, columns, predictor.is_regressor)
    # Chunks are scored ``threads`` at a time while the next is read and the last written:
    # pyarrow and onnxruntime release the GIL (and a Predictor serves many threads, as in the
    # server), so the steps share the machine's cores. Results are taken in file order; at
    # most ``threads`` + 2 chunks are in memory, so memory stays flat however large the file.
    threads = threads or _cores()
    io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pipeserve-batch-io")
    scoring = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pipeserve-batch")
    pending: deque[tuple[int, Future[tuple[ChunkScores, dict[str, Any]]]]] = deque()
    written: Future[None] | None = None

    def score(chunk: Any) -> tuple[ChunkScores, dict[str, Any]]:
        scores = score_chunk(predictor, validator, chunk)
        return scores, _outputs(scores, predictor, parquet_out)

    def finish(size: int, scored: Future[tuple[ChunkScores, dict[str, Any]]]) -> None:
        nonlocal written
        scores, outputs = scored.result()
        _write_rejects(rejects, scores, report.rows)
        if written is not None:
            written.result()  # in order, and an error surfaces here
        written = io.submit(writer.write, report.rows + scores.positions, outputs)
        report.scored += len(scores.positions)
        report.rejected += len(scores.rejects)
        report.rows += size
        if progress is not None:
            progress(size)

    try:
        chunks = _read_ahead(io, read_chunks(input_path, chunk_size, text_columns, features))
        with Path(rejects_path).open("w", encoding="utf-8") as rejects:
            for chunk in chunks:
                missing = [n for n in features if n not in chunk_columns(chunk)]
                if missing:
                    raise missing_features_error(str(input_path), missing, features)
                pending.append((len(chunk), scoring.submit(score, chunk)))
                if len(pending) >= threads:
                    finish(*pending.popleft())
            while pending:
                finish(*pending.popleft())
        if written is not None:
            written.result()
    finally:
        scoring.shutdown(wait=True, cancel_futures=True)
        io.shutdown(wait=True, cancel_futures=True)
        writer.close()
    return report


def _cores() -> int:
    """The cores this process may run on (at most 4: beyond that, reading and writing one
    file is the limit)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, 4))


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
