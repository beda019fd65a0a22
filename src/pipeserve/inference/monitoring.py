"""Live input monitoring against the training data: values outside the training range, unseen
categories, and drift (population stability index) over a sliding window of recent inputs.

No HTTP and no Prometheus here: :class:`InputMonitor` counts and computes, the API layer exports
(``pipeserve.api.metrics``) and shows (the model card). The check runs on the raw inputs, before
either inference path, so the compiled and the scikit-learn path answer an unusual input alike.
Work per request is a few NumPy calls per feature column; rows are only visited for a column
that has a finding.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from pipeserve.bundle.manifest import Manifest
from pipeserve.features.notes import RowNote

OutOfRangePolicy = Literal["accept", "flag", "reject"]
# Shares below this count as this (an empty bin would make the PSI infinite).
_FLOOR = 1e-4
# PSI is noise until the window holds this many rows.
MIN_ROWS = 50
# Queued inputs are taken into the drift windows after this many requests, or at once from a
# request of this many rows (each fold costs about as much as one request's checks).
FOLD_REQUESTS = 64
FOLD_ROWS = 256


@dataclass(frozen=True)
class Finding:
    """One input value unlike anything in training: outside the range, or an unseen category."""

    row: int
    feature: str
    detail: str  # what is wrong with the value, without the feature's name
    # The detail when the request is refused instead (a pipeline's note says what it did
    # with the value, which a refusal did not do); empty: the same as ``detail``.
    refusal: str = ""

    @property
    def message(self) -> str:
        """The finding as a sentence that names the feature."""
        return f"{self.feature} {self.detail}"


@dataclass(frozen=True)
class InputReport:
    """What one request's inputs held: findings (at most one per row and feature), counted per
    feature."""

    findings: list[Finding] = field(default_factory=list)
    out_of_range: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    # What the pipeline's own steps noted (pipeserve.features.notes), per (feature, kind).
    noted: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def of_notes(cls, notes: Sequence[RowNote]) -> InputReport:
        """The report of what a pipeline's steps noted about a request's rows."""
        report = cls()
        for note in notes:
            report.findings.append(Finding(note.row, note.feature, note.detail, note.refusal))
            key = (note.feature, note.kind)
            report.noted[key] = report.noted.get(key, 0) + 1
        return report

    def merged(self, other: InputReport) -> InputReport:
        """This report's findings and counts followed by ``other``'s."""
        noted = dict(self.noted)
        for key, count in other.noted.items():
            noted[key] = noted.get(key, 0) + count
        return InputReport(
            [*self.findings, *other.findings],
            {**self.out_of_range, **other.out_of_range},
            {**self.unseen, **other.unseen},
            noted,
        )

    def by_row(self) -> dict[int, list[str]]:
        """The findings' messages per row index (rows without findings are absent)."""
        rows: dict[int, list[str]] = {}
        for finding in self.findings:
            rows.setdefault(finding.row, []).append(finding.message)
        return rows


class _Window:
    """The last ``size`` bin indices of one feature, with the count per bin kept current."""

    def __init__(self, bins: int, size: int) -> None:
        self.ring = np.zeros(size, dtype=np.int64)
        self.counts = np.zeros(bins, dtype=np.int64)
        self.position = 0
        self.filled = 0

    def push(self, indices: NDArray[np.int64]) -> None:
        size = len(self.ring)
        if len(indices) >= size:  # only the newest rows fit
            indices = indices[-size:]
            self.ring[:] = indices
            self.counts[:] = np.bincount(indices, minlength=len(self.counts))
            self.position, self.filled = 0, size
            return
        slots = (self.position + np.arange(len(indices))) % size
        if self.filled == size:
            np.subtract.at(self.counts, self.ring[slots], 1)
        self.ring[slots] = indices
        np.add.at(self.counts, indices, 1)
        self.position = (self.position + len(indices)) % size
        self.filled = min(size, self.filled + len(indices))


def psi(expected: NDArray[np.float64], counts: NDArray[np.int64]) -> float:
    """Population stability index of ``counts`` (observed per bin) against ``expected`` shares:
    sum of (actual - expected) * ln(actual / expected). Under 0.1 is stable; 0.1 to 0.25 a
    moderate shift; above 0.25 a large one."""
    actual = np.maximum(counts / max(int(counts.sum()), 1), _FLOOR)
    reference = np.maximum(expected, _FLOOR)
    return float(np.sum((actual - reference) * np.log(actual / reference)))


class _Numbers:
    """All numeric features of a model at once: one matrix per request, a handful of NumPy
    calls whatever the number of features."""

    def __init__(
        self,
        names: list[str],
        ranges: list[tuple[float, float]],
        edges: list[list[float]],
        fractions: list[list[float]],
        size: int,
    ) -> None:
        self.names = names
        self.low = np.asarray([low for low, _ in ranges], dtype=np.float64)[:, None]
        self.high = np.asarray([high for _, high in ranges], dtype=np.float64)[:, None]
        width = max((len(e) for e in edges), default=0)
        # A bin index is the number of the feature's edges <= the value; features with fewer
        # edges leave their last bins empty.
        self.expected = np.zeros((len(names), width + 1))
        for i, shares in enumerate(fractions):
            self.expected[i, : len(shares)] = shares
        self.bins = width + 1
        self.inner = [np.asarray(inner, dtype=np.float64) for inner in edges]
        self.offsets = (np.arange(len(names)) * self.bins)[:, None]
        self.ring = np.zeros((len(names), size), dtype=np.int64)
        self.counts = np.zeros(len(names) * self.bins, dtype=np.int64)
        self.position = 0
        self.filled = 0

    def bin_indices(self, matrix: NDArray[np.float64]) -> NDArray[np.int64]:
        """Flat bin index (feature * bins + bin) of each value of ``matrix`` (features x rows):
        the number of the feature's edges <= the value, found by bisection."""
        indices = np.empty(matrix.shape, dtype=np.int64)
        for feature, inner in enumerate(self.inner):
            indices[feature] = np.searchsorted(inner, matrix[feature], side="right")
        indices += self.offsets
        return indices

    def push(self, flat: NDArray[np.int64]) -> None:
        size, rows = self.ring.shape[1], flat.shape[1]
        total = len(self.counts)
        if rows >= size:  # only the newest rows fit
            self.ring[:] = flat[:, -size:]
            self.counts[:] = np.bincount(self.ring.ravel(), minlength=total)
            self.position, self.filled = 0, size
            return
        slots = (self.position + np.arange(rows)) % size
        evicted = slots if self.filled == size else slots[slots < self.filled]
        if len(evicted):
            self.counts -= np.bincount(self.ring[:, evicted].ravel(), minlength=total)
        self.ring[:, slots] = flat
        self.counts += np.bincount(flat.ravel(), minlength=total)
        self.position = (self.position + rows) % size
        self.filled = min(size, self.filled + rows)

    def psi(self) -> NDArray[np.float64]:
        """The PSI of each feature's window (see :func:`psi`)."""
        counts = self.counts.reshape(len(self.names), self.bins)
        actual = np.maximum(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1), _FLOOR)
        reference = np.maximum(self.expected, _FLOOR)
        return np.asarray(np.sum((actual - reference) * np.log(actual / reference), axis=1))


@dataclass
class _Categorical:
    name: str
    index: dict[str, int]  # known category → bin; the last bin holds everything unseen
    expected: NDArray[np.float64]
    window: _Window


@dataclass
class FeatureSnapshot:
    """One feature's counts since start and drift over the current window."""

    out_of_range: int = 0
    unseen: int = 0
    psi: float | None = None
    noted: int = 0  # rows the pipeline's own steps noted (pipeserve.features.notes)


class InputMonitor:
    """Counts and drift of one model version's inputs in this process (thread-safe)."""

    def __init__(self, manifest: Manifest, window: int = 1000) -> None:
        statistics = {stats.name: stats for stats in manifest.statistics}
        self.window = window = max(window, 1)
        self._categorical: list[_Categorical] = []
        names: list[str] = []
        ranges: list[tuple[float, float]] = []
        all_edges: list[list[float]] = []
        all_fractions: list[list[float]] = []
        for feature in manifest.features:
            stats = statistics.get(feature.name)
            if feature.minimum is not None and feature.maximum is not None:
                names.append(feature.name)
                ranges.append((feature.minimum, feature.maximum))
                all_edges.append(list(stats.edges) if stats else [])
                all_fractions.append(list(stats.fractions) if stats and stats.fractions else [1.0])
            elif stats is not None and stats.categories:
                known = list(stats.categories)
                shares = [*stats.categories.values(), 0.0]
                self._categorical.append(
                    _Categorical(
                        feature.name,
                        {name: i for i, name in enumerate(known)},
                        np.asarray(shares, dtype=np.float64),
                        _Window(len(shares), window),
                    )
                )
        self._numbers = _Numbers(names, ranges, all_edges, all_fractions, window)
        self._totals = {name: FeatureSnapshot() for name in manifest.feature_names}
        self._lock = threading.Lock()
        self._pending: deque[tuple[int, NDArray[np.float64] | None, list[NDArray[np.int64]]]]
        self._pending = deque()
        # Requests queued before a fold; never more than the window holds.
        self._fold_every = max(1, min(FOLD_REQUESTS, window))
        self._seen = 0  # rows taken into the windows

    def observe(self, columns: Mapping[str, Sequence[Any] | NDArray[Any]]) -> InputReport:
        """Check and count a request's (validated) columns; return what was unusual.

        The range and category checks run now; the drift windows take the rows later, a few
        hundred rows at a time (:meth:`_fold`), because a window update costs the same dozen
        NumPy calls for one row as for a thousand. No lock is waited for here: a request
        that finds another one folding leaves its rows for the next fold."""
        report = InputReport()
        rows = len(next(iter(columns.values()))) if columns else 0
        numbers = self._numbers
        matrix: NDArray[np.float64] | None = None
        if numbers.names:
            matrix = np.array([columns[name] for name in numbers.names], dtype=np.float64)
            outside = (matrix < numbers.low) | (matrix > numbers.high)
            if outside.any():
                self._flag_numbers(report, numbers, matrix, outside)
        categories: list[NDArray[np.int64]] = []
        for categorical in self._categorical:
            unseen_bin = len(categorical.index)
            indices = np.fromiter(
                (categorical.index.get(value, unseen_bin) for value in columns[categorical.name]),
                dtype=np.int64,
                count=rows,
            )
            unseen = indices == unseen_bin
            if unseen.any():
                self._flag_categories(report, categorical, columns[categorical.name], unseen)
            categories.append(indices)
        if report.out_of_range or report.unseen:
            with self._lock:
                for name, count in report.out_of_range.items():
                    self._totals[name].out_of_range += count
                for name, count in report.unseen.items():
                    self._totals[name].unseen += count
        # deque.append is atomic: the rows are in the queue whatever other threads do.
        self._pending.append((rows, matrix, categories))
        if len(self._pending) >= self._fold_every or rows >= FOLD_ROWS:
            self._fold(wait=False)
        return report

    def _fold(self, *, wait: bool) -> None:
        """Move the queued rows into the windows, oldest first. ``wait=False``: only if no
        other thread is folding now (it will take these rows too, or the next fold will)."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            batch = []
            pending = self._pending
            while pending:
                batch.append(pending.popleft())
            if not batch:
                return
            self._seen += sum(rows for rows, _, _ in batch)
            numbers = self._numbers
            if numbers.names:
                matrices = [matrix for _, matrix, _ in batch if matrix is not None]
                matrix = matrices[0] if len(matrices) == 1 else np.concatenate(matrices, axis=1)
                numbers.push(numbers.bin_indices(matrix))
            for i, categorical in enumerate(self._categorical):
                parts = [categories[i] for _, _, categories in batch]
                categorical.window.push(parts[0] if len(parts) == 1 else np.concatenate(parts))
        finally:
            self._lock.release()

    @staticmethod
    def _flag_numbers(
        report: InputReport,
        numbers: _Numbers,
        matrix: NDArray[np.float64],
        outside: NDArray[np.bool_],
    ) -> None:
        for feature in np.flatnonzero(outside.any(axis=1)).tolist():
            name = numbers.names[feature]
            low, high = float(numbers.low[feature, 0]), float(numbers.high[feature, 0])
            rows = np.flatnonzero(outside[feature]).tolist()
            report.out_of_range[name] = len(rows)
            report.findings.extend(
                Finding(
                    row,
                    name,
                    f"{_number(float(matrix[feature, row]))} is outside the training range "
                    f"[{_number(low)}, {_number(high)}]",
                )
                for row in rows
            )

    @staticmethod
    def _flag_categories(
        report: InputReport,
        categorical: _Categorical,
        values: Sequence[Any] | NDArray[Any],
        unseen: NDArray[np.bool_],
    ) -> None:
        rows = np.flatnonzero(unseen).tolist()
        report.unseen[categorical.name] = len(rows)
        report.findings.extend(
            Finding(
                row,
                categorical.name,
                f"{values[row]!r} is a category not seen in training",
            )
            for row in rows
        )

    def count_notes(self, report: InputReport) -> None:
        """Add what the pipeline's steps noted (:meth:`InputReport.of_notes`) to the totals."""
        with self._lock:
            for (name, _kind), count in report.noted.items():
                self._totals.setdefault(name, FeatureSnapshot()).noted += count

    def snapshot(self) -> dict[str, FeatureSnapshot]:
        """Per feature: totals since start and the PSI of the window (``None`` until it holds
        :data:`MIN_ROWS` rows, or for free text)."""
        self._fold(wait=True)
        with self._lock:
            result = {
                name: FeatureSnapshot(totals.out_of_range, totals.unseen, noted=totals.noted)
                for name, totals in self._totals.items()
            }
            enough = min(MIN_ROWS, self.window)
            numbers = self._numbers
            if numbers.names and numbers.filled >= enough:
                for name, value in zip(numbers.names, numbers.psi().tolist(), strict=True):
                    result[name].psi = value
            for categorical in self._categorical:
                if categorical.window.filled >= enough:
                    result[categorical.name].psi = psi(
                        categorical.expected, categorical.window.counts
                    )
        return result

    @property
    def seen(self) -> int:
        """Rows observed since start."""
        self._fold(wait=True)
        return self._seen

    def rows_in_window(self) -> int:
        """Rows in the drift window now (after taking in the queued ones)."""
        self._fold(wait=True)
        with self._lock:
            windows = [self._numbers.filled, *(c.window.filled for c in self._categorical)]
        return max(windows)


def _number(value: float) -> str:
    """A number as a person writes it: 4.3, 2, 1e+200 (up to 12 significant digits)."""
    return f"{value:.12g}"
