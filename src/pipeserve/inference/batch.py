"""Batch scoring of files: chunk by chunk, so memory stays flat however large the file.

Input and output are CSV, JSON lines or Parquet (with the ``parquet`` extra). Rows that fail
validation, and rows whose address a rejecting geocoder cannot find, are written to a reject
file with the reason, never dropped silently.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd
from numpy.typing import NDArray

from pipeserve.errors import AddressNotFoundError, ConfigurationError
from pipeserve.inference.predictor import Predictor
from pipeserve.inference.schema import InstanceValidator
from pipeserve.protocols.columns import ColumnValidator

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


@dataclass
class BatchReport:
    """What a batch run did."""

    rows: int = 0
    scored: int = 0
    rejected: int = 0


def file_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file name; raises :class:`ConfigurationError`
    otherwise."""
    try:
        return FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise ConfigurationError(
            f"{path}: unsupported file type {Path(path).suffix!r}; use one of {sorted(FORMATS)}",
            path=str(path),
        ) from None


def _pyarrow() -> Any:
    try:
        import pyarrow  # noqa: PLC0415  # optional: only Parquet files need it
        import pyarrow.parquet  # noqa: PLC0415
    except ImportError as error:
        raise ConfigurationError(
            "Parquet files need pyarrow: install pipeserve[parquet]"
        ) from error
    return pyarrow


def read_chunks(
    path: Path, chunk_size: int, text_columns: Sequence[str] = ()
) -> Iterator[pd.DataFrame]:
    """The file's rows in frames of at most ``chunk_size`` rows; only one chunk is in memory.

    ``text_columns`` stay text exactly as written (a CSV cell ``01067`` stays ``"01067"``);
    other CSV cells that are numbers become numbers. JSON lines and Parquet keep their own types.
    """
    fmt = file_format(path)
    if fmt == "csv":
        dtypes = dict.fromkeys(text_columns, "object")
        with pd.read_csv(
            path, chunksize=chunk_size, dtype=dtypes, keep_default_na=False, na_values=[""]
        ) as reader:
            for chunk in reader:
                yield _with_none(
                    chunk.apply(lambda c: c if c.name in dtypes else _numbers_where_possible(c)),
                    text_columns,
                )
    elif fmt == "parquet":
        parquet = _pyarrow().parquet.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=chunk_size):
            yield _with_none(batch.to_pandas(), text_columns)
    else:
        # dtype=False: JSON's own types, so "01067" is not read as the number 1067.
        with pd.read_json(path, lines=True, chunksize=chunk_size, dtype=False) as reader:
            for chunk in reader:
                yield _with_none(chunk, text_columns)


def _with_none(chunk: pd.DataFrame, text_columns: Sequence[str]) -> pd.DataFrame:
    """A missing text cell is reported as null ("must be a string, got null"), not as NaN."""
    for name in text_columns:
        if name in chunk.columns:
            column = chunk[name].astype(object)
            chunk[name] = column.where(column.notna(), None)
    return chunk


def _numbers_where_possible(column: pd.Series) -> pd.Series:
    """CSV has no types: one bad cell makes pandas read the whole column as text. Turn the cells
    that are numbers back into numbers so only the bad cell's row is rejected."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers.astype(object).where(numbers.notna() | column.isna(), column)


class _Writer:
    """Writes scored rows as CSV, JSON lines or Parquet, matching the output file's extension;
    one chunk at a time (Parquet: one row group per chunk)."""

    def __init__(
        self, path: Path, classes: list[str], probabilities: bool, regression: bool = False
    ) -> None:
        self.fmt = file_format(path)
        self.proba_columns = [f"proba_{c}" for c in classes] if probabilities else []
        answer = "value" if regression else "label"  # a regressor's number, or a class
        self.columns = ["row", answer, *self.proba_columns]
        self._parquet: Any = None
        self.handle: IO[str] | None = None
        if self.fmt == "parquet":
            pa = _pyarrow()
            answer_type = pa.float64() if regression else pa.string()
            fields = [pa.field("row", pa.int64()), pa.field(answer, answer_type)]
            fields += [pa.field(name, pa.float64()) for name in self.proba_columns]
            self._schema = pa.schema(fields)
            self._parquet = pa.parquet.ParquetWriter(path, self._schema)
            return
        # Closed by close(), which score_file calls in a finally block.
        self.handle = Path(path).open("w", newline="", encoding="utf-8")  # noqa: SIM115
        self.csv = csv.writer(self.handle) if self.fmt == "csv" else None
        if self.csv is not None:
            self.csv.writerow(self.columns)

    def write(self, rows: list[list[Any]]) -> None:
        if not rows:
            return
        if self._parquet is not None:
            columns = list(zip(*rows, strict=True))
            table = _pyarrow().table(
                {name: list(values) for name, values in zip(self.columns, columns, strict=True)},
                schema=self._schema,
            )
            self._parquet.write_table(table)
        elif self.csv is not None:
            self.csv.writerows(rows)
        elif self.handle is not None:
            for values in rows:
                line = orjson.dumps(dict(zip(self.columns, values, strict=True)))
                self.handle.write(line.decode() + "\n")

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self.handle is not None:
            self.handle.close()


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
    validator = InstanceValidator(predictor.manifest).columns
    text_columns = [f.name for f in predictor.manifest.features if f.dtype == "string"]
    report = BatchReport()
    writer = _Writer(output_path, predictor.classes, probabilities, predictor.is_regressor)
    try:
        with Path(rejects_path).open("w", encoding="utf-8") as rejects:

            def reject(number: int, errors: list[dict[str, Any]]) -> None:
                rejects.write(orjson.dumps({"row": number, "errors": errors}).decode() + "\n")
                report.rejected += 1

            for chunk in read_chunks(input_path, chunk_size, text_columns):
                missing = [name for name in predictor.feature_names if name not in chunk.columns]
                if missing:
                    raise ConfigurationError(
                        f"{input_path} lacks the feature columns {missing}; the model needs "
                        f"{predictor.feature_names}",
                        path=str(input_path),
                    )
                columns, numbers = _valid_columns(validator, chunk, report.rows, reject)
                scored = _predict_rejecting_addresses(
                    predictor, columns, numbers, probabilities, reject
                )
                writer.write(scored)
                report.scored += len(scored)
                report.rows += len(chunk)
                if progress is not None:
                    progress(len(chunk))
    finally:
        writer.close()
    return report


def _valid_columns(
    validator: ColumnValidator,
    chunk: pd.DataFrame,
    first: int,
    reject: Callable[[int, list[dict[str, Any]]], None],
) -> tuple[dict[str, NDArray[Any]], NDArray[np.int64]]:
    """The chunk's valid rows as validated columns, and their row numbers (``first`` is the
    number of the chunk's first row); each invalid row goes to ``reject`` with every problem.
    Validated by column, as the HTTP API does: rows are looked at only when a check fails."""
    raw = [chunk[name].to_numpy() for name in validator.names]
    problems: dict[int, list[dict[str, Any]]] = {}
    columns: dict[str, NDArray[Any]] = {}
    for index, name in enumerate(validator.names):
        column, found = validator.column(index, raw[index])
        for row, message in found:
            problems.setdefault(row, []).append({"field": name, "message": message})
        if column is not None:
            columns[name] = column
    numbers = np.arange(first, first + len(chunk))
    if not problems:
        return columns, numbers
    for row in sorted(problems):
        reject(first + row, problems[row])
    keep = np.setdiff1d(np.arange(len(chunk)), np.fromiter(problems, dtype=np.int64))
    valid = {}
    for index, name in enumerate(validator.names):
        column, _ = validator.column(index, raw[index][keep])
        valid[name] = column
    return valid, numbers[keep]  # type: ignore[return-value]  # every kept value is valid


def _predict_rejecting_addresses(
    predictor: Predictor,
    columns: dict[str, NDArray[Any]],
    numbers: NDArray[np.int64],
    probabilities: bool,
    reject: Callable[[int, list[dict[str, Any]]], None],
) -> list[list[Any]]:
    """Output rows for valid input rows. A geocoder that rejects addresses names the rows: those
    go to the rejects file and the others are scored again (one retry: the second call sees
    only addresses that were found)."""
    for _ in range(2):
        if not len(numbers):
            return []
        try:
            prediction = predictor.predict_columns(columns, probabilities=probabilities)
        except AddressNotFoundError as error:
            bad = set(error.details.get("rows", []))
            by_row = {e["row"]: e for e in error.details.get("errors", [])}
            for index in sorted(bad):
                detail = by_row.get(index, {"field": "address", "message": "matches no place"})
                reject(
                    int(numbers[index]), [{"field": detail["field"], "message": detail["message"]}]
                )
            keep = np.array([i for i in range(len(numbers)) if i not in bad], dtype=np.int64)
            columns = {name: column[keep] for name, column in columns.items()}
            numbers = numbers[keep]
            continue
        if prediction.values is not None:  # a regressor: one number per row
            return [[n, v] for n, v in zip(numbers, prediction.values.tolist(), strict=True)]
        proba = prediction.probabilities
        rounded = proba.round(6).tolist() if proba is not None else None
        return [
            [number, label, *(rounded[i] if rounded is not None else [])]
            for i, (number, label) in enumerate(
                zip(numbers.tolist(), prediction.labels, strict=True)
            )
        ]
    raise AddressNotFoundError(  # pragma: no cover - the geocoder is deterministic
        "the geocoder rejected addresses it had accepted a moment before"
    )
