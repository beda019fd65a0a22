"""Batch scoring of files: chunk by chunk, so memory stays flat however large the file.

Rows that fail validation are written to a reject file with the reason, never dropped silently.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import pandas as pd

from pipeserve.errors import ConfigurationError, InvalidInputError
from pipeserve.inference.predictor import Predictor
from pipeserve.inference.schema import InstanceValidator

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass
class BatchReport:
    """What a batch run did."""

    rows: int = 0
    scored: int = 0
    rejected: int = 0


def file_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from the file name; raises :class:`ConfigurationError` otherwise."""
    try:
        return FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise ConfigurationError(
            f"{path}: unsupported file type {Path(path).suffix!r}; use one of {sorted(FORMATS)}",
            path=str(path),
        ) from None


def read_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """The file's rows in frames of at most ``chunk_size`` rows."""
    if file_format(path) == "csv":
        with pd.read_csv(path, chunksize=chunk_size) as reader:
            for chunk in reader:
                yield chunk.apply(_numbers_where_possible)
    else:
        with pd.read_json(path, lines=True, chunksize=chunk_size) as reader:
            yield from reader


def _numbers_where_possible(column: pd.Series) -> pd.Series:
    """CSV has no types: one bad cell makes pandas read the whole column as text. Turn the cells
    that are numbers back into numbers so only the bad cell's row is rejected."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers.astype(object).where(numbers.notna() | column.isna(), column)


class _Writer:
    """Writes scored rows as CSV or JSON lines, matching the output file's extension."""

    def __init__(self, handle: IO[str], fmt: str, classes: list[str], probabilities: bool) -> None:
        self.fmt = fmt
        self.handle = handle
        self.columns = ["row", "label"] + ([f"proba_{c}" for c in classes] if probabilities else [])
        self.csv = csv.writer(handle) if fmt == "csv" else None
        if self.csv is not None:
            self.csv.writerow(self.columns)

    def write(self, values: list[Any]) -> None:
        if self.csv is not None:
            self.csv.writerow(values)
        else:
            self.handle.write(orjson.dumps(dict(zip(self.columns, values, strict=True))).decode())
            self.handle.write("\n")


def score_file(
    predictor: Predictor,
    input_path: Path,
    output_path: Path,
    rejects_path: Path,
    *,
    chunk_size: int = 10_000,
    probabilities: bool = True,
    progress: Callable[[int], None] | None = None,
) -> BatchReport:
    """Score every row of ``input_path`` into ``output_path``; invalid rows go to
    ``rejects_path`` as JSON lines ``{"row", "errors"}`` (rows are numbered from 0).

    Columns other than the model's features are ignored. Raises :class:`ConfigurationError`
    for an unsupported file type or when a feature column is missing from the file.
    """
    validator = InstanceValidator(predictor.manifest)
    report = BatchReport()
    out_format = file_format(output_path)
    with (
        Path(output_path).open("w", newline="", encoding="utf-8") as out,
        Path(rejects_path).open("w", encoding="utf-8") as rejects,
    ):
        writer = _Writer(out, out_format, predictor.classes, probabilities)
        for chunk in read_chunks(input_path, chunk_size):
            missing = [name for name in predictor.feature_names if name not in chunk.columns]
            if missing:
                raise ConfigurationError(
                    f"{input_path} lacks the feature columns {missing}; the model needs "
                    f"{predictor.feature_names}",
                    path=str(input_path),
                )
            rows, numbers = [], []
            records = chunk[predictor.feature_names].to_dict("records")
            for offset, record in enumerate(records):
                number = report.rows + offset
                try:
                    rows.append(validator.validate_row(record))
                    numbers.append(number)
                except InvalidInputError as error:
                    line = {"row": number, "errors": error.details["errors"]}
                    rejects.write(orjson.dumps(line).decode() + "\n")
                    report.rejected += 1
            if rows:
                prediction = predictor.predict_rows(rows, probabilities=probabilities)
                proba = prediction.probabilities
                for i, (number, label) in enumerate(zip(numbers, prediction.labels, strict=True)):
                    extra = [round(float(p), 6) for p in proba[i]] if proba is not None else []
                    writer.write([number, label, *extra])
                report.scored += len(rows)
            report.rows += len(records)
            if progress is not None:
                progress(len(records))
    return report
