"""Reading and writing the files the local engine scores: CSV, JSON lines, Parquet.

Parquet (the ``parquet`` extra) is read as Arrow record batches of the feature columns only and
written from Arrow arrays: numbers never become Python objects. CSV and JSON lines go through
pandas, typed as the model expects (:func:`from_text`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd
from numpy.typing import NDArray

from pipeserve.bundle.manifest import DTYPES
from pipeserve.errors import ConfigurationError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


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


def pyarrow() -> Any:
    """The pyarrow module, or :class:`ConfigurationError` naming the extra that provides it."""
    try:
        import pyarrow  # noqa: PLC0415  # optional: only Parquet files need it
        import pyarrow.parquet  # noqa: PLC0415
    except ImportError as error:
        raise ConfigurationError(
            "Parquet files need pyarrow: install pipeserve[parquet]"
        ) from error
    return pyarrow


def input_columns(path: Path) -> list[str] | None:
    """The columns of a Parquet file, read from its footer (``None`` for text files: their
    columns are known once a chunk is read)."""
    if file_format(path) != "parquet":
        return None
    return list(pyarrow().parquet.ParquetFile(path).schema_arrow.names)


def read_chunks(
    path: Path, chunk_size: int, text_columns: Sequence[str] = (), columns: Sequence[str] = ()
) -> Iterator[Any]:
    """The file's rows in chunks of at most ``chunk_size`` rows; only one chunk is in memory.

    Parquet: Arrow record batches of ``columns`` (all when empty), as stored. CSV: pandas
    frames where ``text_columns`` stay text exactly as written (a cell ``01067`` stays
    ``"01067"``) and other cells that are numbers become numbers. JSON lines keep JSON's types.
    """
    fmt = file_format(path)
    if fmt == "csv":
        dtypes = dict.fromkeys(text_columns, DTYPES["string"].column)
        with pd.read_csv(
            path, chunksize=chunk_size, dtype=dtypes, keep_default_na=False, na_values=[""]
        ) as reader:
            for chunk in reader:
                yield from_text(chunk, text_columns)
    elif fmt == "parquet":
        parquet = pyarrow().parquet.ParquetFile(path)
        yield from parquet.iter_batches(batch_size=chunk_size, columns=list(columns) or None)
    else:
        # dtype=False: JSON's own types, so "01067" is not read as the number 1067. JSON has no
        # NaN: a missing value pandas reads as NaN was a null (or an absent key), and is one.
        with pd.read_json(path, lines=True, chunksize=chunk_size, dtype=False) as reader:
            for chunk in reader:
                missing = [str(name) for name in chunk.columns if chunk[name].hasnans]
                yield with_none(chunk, [*text_columns, *missing])


def from_text(chunk: pd.DataFrame, text_columns: Sequence[str]) -> pd.DataFrame:
    """A chunk read from text (CSV) with the types the model expects: ``text_columns`` stay
    text, other cells that are numbers become numbers (a bad cell stays as written, so that
    only its row is rejected), and an empty text cell is null."""
    typed = chunk.apply(lambda c: c if c.name in text_columns else _numbers_where_possible(c))
    return with_none(typed, text_columns)


def with_none(chunk: pd.DataFrame, text_columns: Sequence[str]) -> pd.DataFrame:
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


class Writer:
    """Writes scored rows as CSV, JSON lines or Parquet, matching the output file's extension;
    one chunk at a time (Parquet: one row group per chunk, straight from Arrow arrays)."""

    def __init__(self, path: Path, columns: Sequence[str], regression: bool = False) -> None:
        """``columns``: ``row`` then the prediction columns (``value``, or ``label`` and the
        probabilities)."""
        self.fmt = file_format(path)
        self.columns = list(columns)
        self._parquet: Any = None
        self.handle: IO[str] | None = None
        self._header = True
        if self.fmt == "parquet":
            pa = pyarrow()
            answer_type = pa.float64() if regression else pa.string()  # a value, or a class
            fields = [pa.field("row", pa.int64()), pa.field(self.columns[1], answer_type)]
            fields += [pa.field(name, pa.float64()) for name in self.columns[2:]]
            self.schema = pa.schema(fields)
            # Dictionary pages pay off for a column of a few classes, not for probabilities
            # (trying them on a million distinct floats costs more than the rest of the write).
            labels = [] if regression else [self.columns[1]]
            self._parquet = pa.parquet.ParquetWriter(path, self.schema, use_dictionary=labels)
            return
        # Closed by close(), which score_file calls in a finally block.
        self.handle = Path(path).open("w", newline="", encoding="utf-8")  # noqa: SIM115

    def write(self, rows: NDArray[np.int64], predictions: Mapping[str, Any]) -> None:
        """Append the scored ``rows`` (their numbers in the input) and their predictions: Arrow
        arrays for Parquet, NumPy arrays otherwise."""
        if self.fmt == "csv" and self._header and self.handle is not None:
            csv.writer(self.handle).writerow(self.columns)  # even when nothing scores
            self._header = False
        if not len(rows):
            return
        if self._parquet is not None:
            arrays = [pyarrow().array(rows, pyarrow().int64())]
            arrays += [predictions[name] for name in self.columns[1:]]
            batch = pyarrow().RecordBatch.from_arrays(arrays, schema=self.schema)
            self._parquet.write_batch(batch)
            return
        frame = pd.DataFrame({"row": rows, **predictions}, columns=self.columns)
        if self.handle is not None and self.fmt == "csv":
            frame.to_csv(self.handle, header=False, index=False)
        elif self.handle is not None:
            for record in frame.to_dict("records"):  # JSON lines: one document a row
                self.handle.write(orjson.dumps(record).decode() + "\n")

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self.handle is not None:
            self.handle.close()
