"""The hand-written minimum: Flask + onnxruntime + orjson, nothing else.

It serves the same ONNX model file pipeserve serves (the bundle's ``pipeline.onnx``), answering
in the friendly API's shape: ``orjson.loads``, a float64 matrix (a column per feature), one
onnxruntime call, ``orjson.dumps``. No validation, no metrics, no logging, no request id. Run on
pipeserve's server (granian, WSGI) with ``BENCH_BUNDLE`` naming the bundle directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import orjson
from flask import Flask, Response, request


def create_app() -> Flask:
    """The minimal app."""
    bundle = Path(os.environ.get("BENCH_BUNDLE", "models/iris"))
    manifest = orjson.loads((bundle / "bundle.json").read_bytes())
    features = [feature["name"] for feature in manifest["features"]]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(bundle / "pipeline.onnx"), options, providers=["CPUExecutionProvider"]
    )
    input_name = session.get_inputs()[0].name  # one float64 matrix, a column per feature
    app = Flask(__name__)

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/healthz")
    def healthy() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def predict() -> Response:
        rows = orjson.loads(request.get_data())["instances"]
        matrix = np.array([[row[name] for name in features] for row in rows], dtype=np.float64)
        labels, probabilities = session.run(None, {input_name: matrix})
        classes = manifest["classes"]
        body = {
            "predictions": [
                {
                    "label": str(label),
                    "probabilities": dict(zip(classes, map(float, row), strict=True)),
                }
                for label, row in zip(labels, probabilities, strict=True)
            ]
        }
        return Response(orjson.dumps(body), mimetype="application/json")

    return app
