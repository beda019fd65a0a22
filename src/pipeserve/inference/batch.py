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
                yield from_text(chunk, text_columns)
    elif fmt == "parquet":
        parquet = _pyarrow().parquet.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=chunk_size):
            yield with_none(batch.to_pandas(), text_columns)
    else:
        # dtype=False: JSON's own types, so "01067" is not read as the number 1067.
        with pd.read_json(path, lines=True, chunksize=chunk_size, dtype=False) as reader:
            for chunk in reader:
                yield with_none(chunk, text_columns)


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


class _Writer:
    """Writes scored rows as CSV, JSON lines or Parquet, matching the output file's extension;
    one chunk at a time (Parquet: one row group per chunk), as columns (no per-value Python)."""

    def __init__(
        self, path: Path, classes: list[str], probabilities: bool, regression: bool = False
    ) -> None:
        self.fmt = file_format(path)
        self.columns = ["row", *output_columns(classes, probabilities, regression)]
        self._parquet: Any = None
        self.handle: IO[str] | None = None
        self._header = True
        if self.fmt == "parquet":
            pa = _pyarrow()
            answer_type = pa.float64() if regression else pa.string()  # a value, or a class
            fields = [pa.field("row", pa.int64()), pa.field(self.columns[1], answer_type)]
            fields += [pa.field(name, pa.float64()) for name in self.columns[2:]]
            self._schema = pa.schema(fields)
            self._parquet = pa.parquet.ParquetWriter(path, self._schema)
            return
        # Closed by close(), which score_file calls in a finally block.
        self.handle = Path(path).open("w", newline="", encoding="utf-8")  # noqa: SIM115

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` (``row``, ``label`` and the probability columns)."""
        if self.fmt == "csv" and self._header and self.handle is not None:
            csv.writer(self.handle).writerow(self.columns)  # even when nothing scores
            self._header = False
        if frame.empty:
            return
        if self._parquet is not None:
            table = _pyarrow().Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            self._parquet.write_table(table)
        elif self.handle is not None and self.fmt == "csv":
            frame.to_csv(self.handle, header=False, index=False)
        elif self.handle is not None:
            for record in frame.to_dict("records"):
                self.handle.write(orjson.dumps(record).decode() + "\n")

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self.handle is not None:
            self.handle.close()


def output_columns(
    classes: Sequence[str], probabilities: bool, regression: bool = False
) -> list[str]:
    """The prediction columns both engines write after the key columns: a regressor's
    ``value``, or ``label`` and, when asked for, ``proba_<class>`` per class."""
    if regression:
        return ["value"]
    return ["label", *([f"proba_{c}" for c in classes] if probabilities else [])]


@dataclass(frozen=True)
class ChunkScores:
    """One chunk scored: the positions (0-based, within the chunk) of the rows that scored with
    their labels and probabilities (a regressor's values instead), and the rejected positions
    with their errors (``[{"field", "message"}]``), in position order."""

    positions: NDArray[np.int64]
    labels: list[str]
    probabilities: NDArray[np.float64] | None
    rejects: list[tuple[int, list[dict[str, Any]]]]
    values: NDArray[np.float64] | None = None

    def predictions(self, classes: Sequence[str]) -> dict[str, Any]:
        """The prediction columns of the scored rows, named as :func:`output_columns` says."""
        if self.values is not None:
            return {"value": self.values}
        columns: dict[str, Any] = {"label": self.labels}
        if self.probabilities is not None:
            for index, name in enumerate(classes):
                columns[f"proba_{name}"] = self.probabilities[:, index]
        return columns


def missing_features_error(
    source: str, missing: Sequence[str], needed: Sequence[str]
) -> ConfigurationError:
    """The error both engines raise for an input without some of the model's features."""
    return ConfigurationError(
        f"{source} lacks the feature columns {list(missing)}; the model needs {list(needed)}",
        path=source,
        missing=list(missing),
    )


def score_chunk(
    predictor: Predictor,
    validator: InstanceValidator,
    chunk: pd.DataFrame,
    *,
    probabilities: bool = True,
) -> ChunkScores:
    """Validate and score one chunk: the one step the local and the Spark engine share.

    Columns other than the model's features are ignored. A row that fails validation, or whose
    address a rejecting geocoder cannot find, is rejected with its errors, never dropped.
    Raises :class:`ConfigurationError` when a feature column is missing from the chunk.
    """
    missing = [name for name in predictor.feature_names if name not in chunk.columns]
    if missing:
        raise missing_features_error("the input", missing, predictor.feature_names)
    probabilities = probabilities and predictor.has_probabilities
    columns, positions, rejects = _valid_columns(validator.columns, chunk)
    scores = _predict_rejecting_addresses(predictor, columns, positions, probabilities, rejects)
    rejects.sort(key=lambda reject: reject[0])
    return scores


def _valid_columns(
    validator: ColumnValidator, chunk: pd.DataFrame
) -> tuple[dict[str, NDArray[Any]], NDArray[np.int64], list[tuple[int, list[dict[str, Any]]]]]:
    """The chunk's valid rows as validated columns, their positions, and each invalid row's
    position with every problem. Validated by column, as the HTTP API does: rows are looked at
    only when a check fails."""
    raw = [chunk[name].to_numpy() for name in validator.names]
    problems: dict[int, list[dict[str, Any]]] = {}
    columns: dict[str, NDArray[Any]] = {}
    for index, name in enumerate(validator.names):
        column, found = validator.column(index, raw[index])
        for row, message in found:
            problems.setdefault(row, []).append({"field": name, "message": message})
        if column is not None:
            columns[name] = column
    positions = np.arange(len(chunk), dtype=np.int64)
    if not problems:
        return columns, positions, []
    rejects = [(row, problems[row]) for row in sorted(problems)]
    keep = np.setdiff1d(positions, np.fromiter(problems, dtype=np.int64))
    valid = {}
    for index, name in enumerate(validator.names):
        column, _ = validator.column(index, raw[index][keep])
        valid[name] = column
    return valid, keep, rejects  # type: ignore[return-value]  # every kept value is valid


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
    probabilities = probabilities and predictor.has_probabilities
    text_columns = [f.name for f in predictor.manifest.features if f.dtype == "string"]
    report = BatchReport()
    writer = _Writer(output_path, predictor.classes, probabilities, predictor.is_regressor)
    try:
        with Path(rejects_path).open("w", encoding="utf-8") as rejects:
            for chunk in read_chunks(input_path, chunk_size, text_columns):
                missing = [n for n in predictor.feature_names if n not in chunk.columns]
                if missing:
                    raise missing_features_error(str(input_path), missing, predictor.feature_names)
                scores = score_chunk(predictor, validator, chunk, probabilities=probabilities)
                for position, errors in scores.rejects:
                    line = {"row": report.rows + position, "errors": errors}
                    rejects.write(orjson.dumps(line).decode() + "\n")
                frame = pd.DataFrame(
                    {"row": report.rows + scores.positions, **scores.predictions(predictor.classes)}
                )
                writer.write(frame)
                report.scored += len(scores.positions)
                report.rejected += len(scores.rejects)
                report.rows += len(chunk)
                if progress is not None:
                    progress(len(chunk))
    finally:
        writer.close()
    return report


def _predict_rejecting_addresses(
    predictor: Predictor,
    columns: dict[str, NDArray[Any]],
    positions: NDArray[np.int64],
    probabilities: bool,
    rejects: list[tuple[int, list[dict[str, Any]]]],
) -> ChunkScores:
    """Scores for valid input rows. A geocoder that rejects addresses names every bad row but
    words the reason for the first few only: the named rows join ``rejects`` with its reason;
    the other rows are scored again without the bad ones, and the unnamed bad rows are sent
    again on their own until each has its own reason. So a row's reason never depends on where
    a chunk happened to start (which differs between engines)."""
    done: list[NDArray[np.int64]] = []
    labels: list[str] = []
    matrices: list[NDArray[np.float64]] = []
    values: list[NDArray[np.float64]] = []
    pending = [(columns, positions)]
    while pending:
        columns, positions = pending.pop()
        if not len(positions):
            continue
        try:
            prediction = predictor.predict_columns(columns, probabilities=probabilities)
        except AddressNotFoundError as error:
            bad = set(error.details.get("rows", []))
            named = {e["row"]: e for e in error.details.get("errors", []) if e["row"] in bad}
            for index in sorted(bad):
                # Without a worded reason for any row, say what is known rather than loop.
                detail = named.get(index) if named else {"field": "address"}
                if detail is not None:
                    message = detail.get("message", "matches no known place")
                    rejects.append(
                        (int(positions[index]), [{"field": detail["field"], "message": message}])
                    )
            unnamed = np.array([i for i in sorted(bad) if named and i not in named], dtype=int)
            good = np.array([i for i in range(len(positions)) if i not in bad], dtype=int)
            for subset in (unnamed, good):
                pending.append(({n: c[subset] for n, c in columns.items()}, positions[subset]))
            continue
        done.append(positions)
        labels += prediction.labels
        if prediction.probabilities is not None:
            matrices.append(prediction.probabilities)
        if prediction.values is not None:
            values.append(prediction.values)
    scored = np.concatenate(done) if done else np.empty(0, dtype=np.int64)
    order = np.argsort(scored, kind="stable")
    proba = _no_probabilities(predictor, probabilities)
    if matrices:
        proba = np.vstack(matrices)[order]
    regressed = None
    if predictor.is_regressor:
        regressed = np.concatenate(values)[order] if values else np.empty(0)
        proba = None
    return ChunkScores(
        scored[order],
        [labels[i] for i in order] if labels else [],
        proba,
        rejects,
        regressed,
    )


def _no_probabilities(predictor: Predictor, probabilities: bool) -> NDArray[np.float64] | None:
    return np.empty((0, len(predictor.classes))) if probabilities else None
