"""What each per-request feature of pipeserve costs, in microseconds per request, in process.

No sockets and no server: Flask's test client drives the real app (``create_app``), so the
numbers are the Python work a worker does per request, the part pipeserve owns. Each request
hook (request id, security headers, access log, metrics, auth) is timed by wrapping the hook the
app registered; the protocol steps (decode+validate, predict, encode) are timed on their own for
1 and 1000 rows, friendly API and Open Inference Protocol V2; the whole request is compared with
a minimal Flask + onnxruntime + orjson app that validates nothing (the floor). Calls are timed
in turns and the best round counts, so the ratios hold on a machine busy with something else.

Run: ``python -m benchmarks.request_path [--bundle DIR]`` (without ``--bundle`` it trains the
iris SVC bundle into a temporary directory first, as the tests do).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess  # nosec B404 - only `git rev-parse`, fixed arguments
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from flask import Flask, Response, request
from pydantic import SecretStr
from werkzeug.test import Client

from pipeserve.api import create_app
from pipeserve.bundle.io import load_bundle
from pipeserve.errors import InvalidInputError
from pipeserve.settings import Settings

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SIZES = (1, 1000)
TOKEN = "bench-token"  # noqa: S105  # nosec B105 - a token the benchmark's own app accepts


def train_bundle(directory: Path) -> Path:
    """The iris SVC bundle (train → evaluate → publish), with its verified ONNX form."""
    import pandas as pd  # noqa: PLC0415
    from sklearn.datasets import load_iris  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    from pipeserve.project.params import ProjectParams  # noqa: PLC0415
    from pipeserve.training.evaluate import evaluate  # noqa: PLC0415
    from pipeserve.training.publish import publish  # noqa: PLC0415
    from pipeserve.training.train import train  # noqa: PLC0415

    iris = load_iris(as_frame=True)
    frame = iris.frame.set_axis([*FEATURES, "species"], axis=1)
    frame["species"] = frame["species"].map(dict(enumerate(iris.target_names)))
    train_frame, test_frame = train_test_split(
        frame, test_size=0.3, random_state=42, stratify=frame["species"]
    )
    split = directory / "train.csv", directory / "test.csv"
    train_frame.to_csv(split[0], index=False)
    test_frame.to_csv(split[1], index=False)
    del pd
    params = ProjectParams.model_validate(
        {
            "train": {
                "pipeline": "iris_example.pipeline:build",
                "target": "species",
                "estimator": "svm",
                "products": {"petal_area": ["petal_length", "petal_width"]},
            },
            "bundle": {"name": "iris", "version": "1"},
        }
    )
    train(params, split[0], directory / "trained")
    evaluate(directory / "trained", split[1], "species", directory / "m.json", directory / "c.csv")
    bundle = directory / "models" / "iris"
    publish(directory / "trained", directory / "m.json", list(split), {"train": {}}, bundle)
    return bundle


def rows(count: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(0)
    values = rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(count, 4)).round(1)
    return [dict(zip(FEATURES, row, strict=True)) for row in values.tolist()]


def friendly_body(count: int) -> bytes:
    return orjson.dumps({"instances": rows(count)})


def v2_body(count: int) -> bytes:
    matrix = [list(row.values()) for row in rows(count)]
    return orjson.dumps(
        {"inputs": [{"name": "x", "shape": [count, 4], "datatype": "FP64", "data": matrix}]}
    )


# --- timing ------------------------------------------------------------------------------------


def interleaved(calls: dict[str, Callable[[], object]], rounds: int = 9) -> dict[str, float]:
    """µs per call of each of ``calls``, timed in turns (round after round, every call once a
    round) so that a load spike from elsewhere on the machine hits them all alike; the best
    round counts (the least disturbed, as ``timeit`` advises). The clock is this process's CPU
    time: on a machine shared with other work, wall time would count their share too."""
    loops = {}
    for name, call in calls.items():
        call()  # first call: caches, lazy imports
        started = time.process_time()
        call()
        loops[name] = max(1, int(0.03 / max(time.process_time() - started, 1e-6)))
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.process_time()
            for _ in range(loops[name]):
                call()
            best[name] = min(best[name], (time.process_time() - started) / loops[name])
    return {name: seconds * 1e6 for name, seconds in best.items()}


def per_call_us(call: Callable[[], object]) -> float:
    return interleaved({"call": call})["call"]


# --- request hooks -------------------------------------------------------------------------------

_FEATURE_OF_MODULE = {
    "pipeserve.api.context": "request id (+ in-flight count)",
    "pipeserve.api.security": "security headers",
    "pipeserve.api.access_log": "access log",
    "pipeserve.api.metrics": "metrics",
    "pipeserve.api.auth": "auth (bearer token)",
}


class HookTimer:
    """Wrap every before/after/teardown hook of ``app`` to add up its CPU time by feature (less
    what reading the clock costs, measured on an empty hook)."""

    def __init__(self, app: Flask) -> None:
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        # pipeserve's own steps run inside one hook of each kind (RequestCycle): each step is
        # timed by the feature it was registered for; the cycle's hooks themselves are not.
        cycle = app.extensions["pipeserve"]["cycle"]
        for steps in (cycle.starts, cycle.finishes):
            steps[:] = [(feature, self._wrap(step, feature)) for feature, step in steps]
        for table in (
            app.before_request_funcs,
            app.after_request_funcs,
            app.teardown_request_funcs,
        ):
            for hooks in table.values():
                hooks[:] = [
                    hook if _is_cycle_hook(hook) else self._wrap(hook)  # type: ignore[arg-type]
                    for hook in hooks
                ]
        empty = self._wrap(lambda: None, "empty")
        for _ in range(20000):
            empty()
        self.clock_cost = self.totals.pop("empty") / self.calls.pop("empty")

    def _wrap(self, hook: Callable[..., Any], feature: str | None = None) -> Callable[..., Any]:
        module = getattr(hook, "__module__", "") or ""
        owner = getattr(getattr(hook, "__self__", None), "__class__", None)
        if owner is not None and owner.__module__.startswith("pipeserve"):
            module = owner.__module__
        feature = feature or _FEATURE_OF_MODULE.get(module, f"other ({module})")
        totals, calls = self.totals, self.calls

        @wraps(hook)
        def timed(*args: Any) -> Any:
            started = time.thread_time()  # CPU time: other processes' load does not count
            try:
                return hook(*args)
            finally:
                totals[feature] = totals.get(feature, 0.0) + time.thread_time() - started
                calls[feature] = calls.get(feature, 0) + 1

        return timed

    @contextmanager
    def counting(self) -> Iterator[None]:
        self.totals.clear()
        self.calls.clear()
        yield

    def per_request(self, requests: int) -> dict[str, float]:
        """µs per request of each feature."""
        return {
            feature: (total - self.calls[feature] * self.clock_cost) / requests * 1e6
            for feature, total in self.totals.items()
        }


def _is_cycle_hook(hook: Callable[..., Any]) -> bool:
    return getattr(hook, "__qualname__", "").startswith("RequestCycle.install")


def hook_costs(app: Flask, send: Callable[[], object], requests: int = 500) -> dict[str, float]:
    """µs per request of each hook feature: the best of 7 batches of ``requests`` calls."""
    timer = HookTimer(app)
    for _ in range(200):
        send()
    best: dict[str, float] = {}
    for _ in range(7):
        with timer.counting():
            for _ in range(requests):
                send()
        for feature, cost in timer.per_request(requests).items():
            best[feature] = min(best.get(feature, float("inf")), cost)
    return best


# --- the floor: Flask + onnxruntime + orjson, no validation ---------------------------------------


def minimal_app(bundle_dir: Path) -> Flask:
    """What a hand-written ONNX server does per request: parse, one array, run, encode."""
    import onnxruntime as ort  # noqa: PLC0415

    bundle = load_bundle(bundle_dir)
    fast = bundle.manifest.fast_path
    if fast is None or not fast.verified or fast.file is None or fast.head_steps:
        raise SystemExit("the bundle has no whole-pipeline ONNX form to compare with")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        bundle.extra_files[fast.file], options, providers=["CPUExecutionProvider"]
    )
    input_name = session.get_inputs()[0].name
    dtype = np.float64 if fast.input_dtype == "float64" else np.float32
    classes = list(bundle.manifest.classes)
    app = Flask("minimal")

    @app.post("/predict")
    def predict() -> Response:
        instances = orjson.loads(request.get_data())["instances"]
        matrix = np.array([list(row.values()) for row in instances], dtype=dtype)
        probabilities = session.run(["probabilities"], {input_name: matrix})[0]
        labels = [classes[index] for index in probabilities.argmax(axis=1).tolist()]
        return Response(
            orjson.dumps({"labels": labels, "probabilities": probabilities.tolist()}),
            mimetype="application/json",
        )

    return app


# --- the run ------------------------------------------------------------------------------------


def _post(client: Any, url: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    def send() -> object:
        response = client.post(url, data=body, content_type="application/json", headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.get_data(as_text=True)}")
        return response

    return send


def protocol_steps(app: Flask) -> dict[str, dict[int, float]]:
    """µs per call of decode+validate, predict and encode, per protocol and row count."""
    from pipeserve.api.context import codec  # noqa: PLC0415
    from pipeserve.protocols.friendly import FriendlyCodec  # noqa: PLC0415
    from pipeserve.protocols.v2 import V2Codec  # noqa: PLC0415

    plane = app.extensions["pipeserve"]["dataplane"]
    settings = app.extensions["pipeserve"]["settings"]
    calls: dict[str, Callable[[], object]] = {}
    with app.test_request_context():
        entry = plane.ready_version("iris")
        friendly = codec(FriendlyCodec, entry, settings.max_instances)
        v2 = codec(V2Codec, entry, settings.max_instances)
        for size in SIZES:
            body = friendly_body(size)
            decoded = friendly.decode(body)
            predict = _friendly_predict(plane, entry, decoded)
            prediction = predict()
            calls[f"friendly decode+validate|{size}"] = lambda b=body: friendly.decode(b)
            if entry.monitor is not None:
                calls[f"input monitoring (in predict)|{size}"] = lambda c=decoded.columns: (
                    entry.monitor.observe(c)
                )
            calls[f"friendly predict|{size}"] = predict
            calls[f"friendly encode (to bytes)|{size}"] = lambda p=prediction: _bytes(
                friendly.encode(p)
            )
            body = v2_body(size)
            request_v2 = v2.decode(body)
            calls[f"V2 decode+validate|{size}"] = lambda b=body: v2.decode(b)
            predict = _v2_predict(plane, entry, v2, request_v2)
            prediction = predict()
            calls[f"V2 predict|{size}"] = predict
            calls[f"V2 encode (to bytes)|{size}"] = lambda p=prediction, r=request_v2: _bytes(
                v2.encode(p, r)
            )
        timed = interleaved(calls)
    results: dict[str, dict[int, float]] = {}
    for key, value in timed.items():
        step, size = key.split("|")
        results.setdefault(step, {})[int(size)] = value
    return results


def _bytes(document: Any) -> bytes:
    if isinstance(document, bytes):
        return document
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def _friendly_predict(plane: Any, entry: Any, decoded: Any) -> Callable[[], Any]:
    if hasattr(decoded, "columns"):
        return lambda: plane.predict_columns(
            entry, decoded.columns, probabilities=decoded.probabilities
        )
    return lambda: plane.predict(entry, decoded.rows, probabilities=decoded.probabilities)


def _v2_predict(plane: Any, entry: Any, v2: Any, decoded: Any) -> Callable[[], Any]:
    wants = v2.wants_probabilities(decoded)
    return lambda: plane.predict_columns(entry, decoded.columns, probabilities=wants)


def problem_cost(app: Flask) -> float:
    """µs to turn a typed error into its response (a 422 problem document)."""
    error = InvalidInputError(
        "instances[0].sepal_length must be a number, got a string",
        errors=[{"field": "instances[0].sepal_length", "message": "must be a number"}],
    )
    with app.test_request_context("/api/v1/models/iris/predict", method="POST"):
        return per_call_us(lambda: app.handle_user_exception(error))


def apiflask_cost() -> float:
    """µs APIFlask's view machinery (``@output``, ``@doc``) adds over plain Flask to a view that
    returns its own Response, through the test client."""
    from apiflask import APIFlask, Schema  # noqa: PLC0415

    class Empty(Schema):
        pass

    def build(app: Flask, decorate: Callable[[Any], Any]) -> Any:
        @app.post("/x")
        @decorate
        def view() -> Response:
            return Response(b"{}", mimetype="application/json")

        return app.test_client()

    api = APIFlask("a", spec_path=None, docs_path=None)
    plain = build(Flask("p"), lambda view: view)
    fancy = build(api, lambda view: api.doc(summary="x")(api.output(Empty)(view)))
    return per_call_us(lambda: fancy.post("/x")) - per_call_us(lambda: plain.post("/x"))


def quiet_logs() -> None:
    """Keep the access log on, as shipped (each line is formatted and written), into /dev/null."""
    sink = Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115  # lives as long as the run
    for handler in logging.getLogger("pipeserve").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)


def git_revision() -> str:
    try:
        return subprocess.run(  # nosec B603 B607 - fixed arguments
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(bundle_dir: Path) -> None:
    settings = Settings(
        model_paths=[bundle_dir],
        log_level="INFO",
        api_tokens=SecretStr(TOKEN),
        access_log=True,
    )
    app = create_app(settings)
    quiet_logs()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    floor = minimal_app(bundle_dir).test_client()

    print(f"# request path, in process: commit {git_revision()}, {platform.python_version()}, ")
    print(f"# {platform.machine()} {platform.processor() or ''}, {time.strftime('%Y-%m-%d %H:%M')}")
    print("\n## whole request through Flask's test client (µs per request)\n")
    print("| request | 1 row | 1000 rows |")
    print("|---|---|---|")
    # The same app with the prediction lane bypassed: every request through Flask's cycle.
    cycle_only = Client(app.wsgi_app.flask)  # type: ignore[attr-defined]
    targets = (
        ("pipeserve friendly", client, "/api/v1/models/iris/predict", friendly_body, auth),
        (
            "pipeserve friendly, Flask's cycle (lane bypassed)",
            cycle_only,
            "/api/v1/models/iris/predict",
            friendly_body,
            auth,
        ),
        ("pipeserve V2", client, "/v2/models/iris/infer", v2_body, auth),
        ("minimal Flask+onnxruntime+orjson", floor, "/predict", friendly_body, None),
    )
    timed = interleaved(
        {
            f"{label}|{size}": _post(target, url, make(size), headers)
            for label, target, url, make, headers in targets
            for size in SIZES
        }
    )
    whole = {label: {size: timed[f"{label}|{size}"] for size in SIZES} for label, *_ in targets}
    for label, by_size in whole.items():
        print(f"| {label} | {by_size[1]:.0f} | {by_size[1000]:.0f} |")
    minimal = whole["minimal Flask+onnxruntime+orjson"]
    for label in ("pipeserve friendly", "pipeserve V2"):
        ratios = " | ".join(f"{minimal[size] / whole[label][size]:.2f}x" for size in SIZES)
        print(f"| {label} speed vs minimal | {ratios} |")

    print("\n## request hooks of Flask's cycle (µs per request, friendly 1-row request)\n")
    print("| feature | µs |")
    print("|---|---|")
    # Timed on Flask's cycle: a well-formed prediction takes the lane, which runs no hooks.
    costs = hook_costs(
        app, _post(cycle_only, "/api/v1/models/iris/predict", friendly_body(1), auth)
    )
    for feature, cost in sorted(costs.items()):
        print(f"| {feature} | {cost:.1f} |")
    print(f"| problem rendering (422 document) | {problem_cost(app):.1f} |")
    print(f"| APIFlask view machinery over plain Flask | {apiflask_cost():.1f} |")

    print("\n## protocol steps (µs per call)\n")
    print("| step | 1 row | 1000 rows | per row (1000) |")
    print("|---|---|---|---|")
    for step, by_size in protocol_steps(app).items():
        print(f"| {step} | {by_size[1]:.1f} | {by_size[1000]:.0f} | {by_size[1000] / 1000:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="an iris bundle directory (default: train)")
    arguments = parser.parse_args()
    if arguments.bundle is not None:
        run(arguments.bundle)
        return
    with tempfile.TemporaryDirectory() as scratch:
        run(train_bundle(Path(scratch)))


if __name__ == "__main__":
    main()
