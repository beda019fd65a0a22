"""Adaptive batching: concurrent requests of one worker coalesced into one model call.

A model call has a fixed cost (input conversion, the call into scikit-learn or onnxruntime) that
dwarfs the per-row cost for small inputs, so answering eight one-row requests with one
eight-row call is cheaper than eight calls. Each model version gets one collector thread per
worker process. It takes the first waiting request and then waits for more only while the
worker is handling other requests that might join (``concurrency()``, counted by the server):
a lone request (concurrency 1) is answered at once, without waiting. A batch stops growing at
``max_rows`` rows or ``max_wait`` seconds after it was started.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeserve.inference.predictor import Prediction

Columns = Mapping[str, Sequence[Any] | NDArray[Any]]
PredictColumns = Callable[[Columns], Prediction]


@dataclass(frozen=True)
class BatchingOptions:
    """Bounds of one batch (from settings)."""

    max_rows: int = 64
    max_wait_ms: float = 2.0


@dataclass
class _Request:
    columns: Columns
    rows: int
    done: threading.Event = field(default_factory=threading.Event)
    result: Prediction | None = None
    error: BaseException | None = None


_STOP = _Request({}, 0)  # tells the collector thread to end


class Batcher:
    """Coalesce :meth:`predict` calls from many threads into calls of ``predict_columns``."""

    def __init__(
        self,
        predict_columns: PredictColumns,
        feature_names: Sequence[str],
        options: BatchingOptions,
        concurrency: Callable[[], int],
    ) -> None:
        self._predict = predict_columns
        self._features = list(feature_names)
        self._max_rows = options.max_rows
        self._max_wait = options.max_wait_ms / 1000
        self._concurrency = concurrency
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._collect, name="pipeserve-batcher", daemon=True)
        self._thread.start()

    def predict(self, columns: Columns, rows: int, *, probabilities: bool) -> Prediction:
        """Predict for ``rows`` rows given as columns, together with whoever else is waiting."""
        request = _Request(columns, rows)
        self._queue.put(request)
        request.done.wait()
        if request.result is None:
            raise request.error or RuntimeError("the batch ended without a result")
        if probabilities:
            return request.result
        return replace(request.result, probabilities=None)

    def stop(self) -> None:
        """End the collector thread (when its model version is dropped by a reload)."""
        self._queue.put(_STOP)

    def _collect(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            rows = batch[0].rows
            deadline = time.monotonic() + self._max_wait
            while rows < self._max_rows:
                remaining = deadline - time.monotonic()
                if self._concurrency() <= len(batch) or remaining <= 0:
                    break
                try:
                    request = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if request is _STOP:
                    self._queue.put(_STOP)  # finish this batch first
                    break
                batch.append(request)
                rows += request.rows
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        try:
            if len(batch) == 1:
                results = [self._predict(batch[0].columns)]
            else:
                merged = {
                    name: np.concatenate([np.asarray(r.columns[name]) for r in batch])
                    for name in self._features
                }
                results = _split(self._predict(merged), [r.rows for r in batch])
        except Exception as error:  # handed to every waiting request
            for request in batch:
                request.error = error
                request.done.set()
            return
        for request, result in zip(batch, results, strict=True):
            request.result = result
            request.done.set()


def _split(prediction: Prediction, sizes: list[int]) -> list[Prediction]:
    parts: list[Prediction] = []
    start = 0
    for size in sizes:
        parts.append(prediction.rows(start, start + size))
        start += size
    return parts
