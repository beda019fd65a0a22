"""Batching coalesces concurrent predictions; a lone request never waits; results stay apart."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from pipeserve.inference.batching import Batcher, BatchingOptions
from pipeserve.inference.predictor import Prediction


class _Model:
    """Doubles its input; remembers the size of every call and can be slow or fail."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.delay = delay
        self.fail = fail

    def __call__(self, columns: Any) -> Prediction:
        values = np.asarray(columns["x"], dtype=float)
        self.calls.append(len(values))
        time.sleep(self.delay)
        if self.fail:
            raise ValueError("model failed")
        return Prediction([str(v * 2) for v in values], np.column_stack([values, values]))


def _fire(batcher: Batcher, values: list[float]) -> list[Prediction]:
    results: list[Prediction] = [Prediction([], None)] * len(values)

    def call(index: int) -> None:
        results[index] = batcher.predict({"x": [values[index]]}, 1, probabilities=True)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(values))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_concurrent_requests_share_model_calls_and_get_their_own_rows() -> None:
    model = _Model(delay=0.02)  # a slow call lets the others queue up behind it
    batcher = Batcher(model, ["x"], BatchingOptions(max_rows=64, max_wait_ms=50), lambda: 8)

    results = _fire(batcher, [float(i) for i in range(8)])

    assert [r.labels for r in results] == [[str(i * 2.0)] for i in range(8)]
    assert all(r.probabilities is not None and r.probabilities.shape == (1, 2) for r in results)
    assert len(model.calls) < 8
    assert sum(model.calls) == 8
    batcher.stop()


def test_a_lone_request_does_not_wait_for_company() -> None:
    model = _Model()
    batcher = Batcher(model, ["x"], BatchingOptions(max_rows=64, max_wait_ms=5000), lambda: 1)

    started = time.monotonic()
    result = batcher.predict({"x": [1.0]}, 1, probabilities=False)

    assert time.monotonic() - started < 1
    assert result.labels == ["2.0"]
    assert result.probabilities is None
    batcher.stop()


def test_batches_stop_at_the_row_limit() -> None:
    model = _Model(delay=0.02)
    batcher = Batcher(model, ["x"], BatchingOptions(max_rows=3, max_wait_ms=50), lambda: 10)

    _fire(batcher, [float(i) for i in range(10)])

    assert max(model.calls) <= 3
    assert sum(model.calls) == 10
    batcher.stop()


def test_a_failing_call_fails_every_request_in_it() -> None:
    batcher = Batcher(_Model(fail=True), ["x"], BatchingOptions(), lambda: 1)

    with pytest.raises(ValueError, match="model failed"):
        batcher.predict({"x": [1.0]}, 1, probabilities=True)
    batcher.stop()
