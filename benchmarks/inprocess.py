"""In-process cost of each step of a prediction, in microseconds per call, without HTTP.

Where the time of a request goes: the model call (scikit-learn, or pipeserve's Predictor on each
inference path it has) and encoding the response (``json`` vs ``orjson``).
"""

from __future__ import annotations

import inspect
import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from pipeserve.bundle.io import load_bundle
from pipeserve.errors import PipeserveError
from pipeserve.inference.predictor import Predictor


def per_call_us(
    call: Callable[[], object], *, repeats: int = 5, min_repeat_s: float = 0.1
) -> float:
    """Median over ``repeats`` timings of ``call``'s cost, in µs; each timing runs enough calls
    to last at least ``min_repeat_s`` (so the clock's resolution does not matter)."""
    call()  # first call: caches, lazy imports
    loops = 1
    while True:
        started = time.perf_counter()
        for _ in range(loops):
            call()
        elapsed = time.perf_counter() - started
        if elapsed >= min_repeat_s:
            break
        loops = max(loops * 2, int(loops * min_repeat_s / max(elapsed, 1e-9)))
    timings = [elapsed / loops]
    for _ in range(repeats - 1):
        started = time.perf_counter()
        for _ in range(loops):
            call()
        timings.append((time.perf_counter() - started) / loops)
    return statistics.median(timings) * 1e6


def predictors(bundle_dir: Path) -> dict[str, Predictor | str]:
    """pipeserve's Predictor for each inference path, or why that path is unavailable."""
    loaded = load_bundle(bundle_dir)
    if "path" not in inspect.signature(Predictor).parameters:
        return {
            "sklearn": Predictor(loaded),
            "onnx": "unavailable: this pipeserve's Predictor has no inference path choice",
        }
    found: dict[str, Predictor | str] = {}
    for path in ("sklearn", "onnx"):
        try:
            predictor = Predictor(loaded, path=path)  # type: ignore[call-arg, unused-ignore]
        except PipeserveError as error:
            found[path] = f"unavailable: {error.message}"
            continue
        # Only a predictor that says it runs this path is timed as this path.
        actual = getattr(predictor, "inference_path", None)
        found[path] = predictor if actual == path else f"unavailable: it runs {actual}"
    return found


def _response(predictor: Predictor, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The friendly protocol's response document for ``rows`` (what the server encodes)."""
    prediction = predictor.predict_rows(rows)
    assert prediction.probabilities is not None  # noqa: S101  # nosec B101 - iris has them
    return {
        "model": {"name": predictor.name, "version": predictor.version},
        "predictions": [
            {"label": label, "probabilities": dict(zip(predictor.classes, row, strict=True))}
            for label, row in zip(
                prediction.labels, prediction.probabilities.round(6).tolist(), strict=True
            )
        ],
    }


def measure(bundle_dir: Path, batches: Mapping[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """µs per call of each step for each batch size (``batches`` maps a size to its rows).

    Returns ``{"<step>": {"<rows>": µs or "unavailable: ..."}}``.
    """
    paths = predictors(bundle_dir)
    sklearn_predictor = paths["sklearn"]
    if isinstance(sklearn_predictor, str):
        raise RuntimeError(f"no scikit-learn predictor: {sklearn_predictor}")
    pipeline = load_bundle(bundle_dir).pipeline
    results: dict[str, dict[str, float | str]] = {}

    def record(step: str, size: int, value: float | str) -> None:
        results.setdefault(step, {})[str(size)] = value

    for size, rows in batches.items():
        frame = pd.DataFrame(rows)
        record(
            "sklearn predict_proba", size, per_call_us(lambda f=frame: pipeline.predict_proba(f))
        )
        record(
            "sklearn predict + predict_proba (baseline)",
            size,
            per_call_us(lambda f=frame: (pipeline.predict(f), pipeline.predict_proba(f))),
        )
        for path, predictor in paths.items():
            step = f"pipeserve Predictor.predict_rows ({path})"
            if isinstance(predictor, str):
                record(step, size, predictor)
            else:
                record(step, size, per_call_us(lambda p=predictor, r=rows: p.predict_rows(r)))
        document = _response(sklearn_predictor, rows)
        record("json.dumps response", size, per_call_us(lambda d=document: json.dumps(d)))
        record("orjson.dumps response", size, per_call_us(lambda d=document: orjson.dumps(d)))
        body = orjson.dumps({"instances": rows})
        record("json.loads request", size, per_call_us(lambda b=body: json.loads(b)))
        record("orjson.loads request", size, per_call_us(lambda b=body: orjson.loads(b)))
    return results
