"""The baseline: the Flask app people write by hand to serve a scikit-learn pipeline.

Loads the same verified bundle as pipeserve, then per request: ``request.get_json()``, a pandas
frame, ``predict`` and ``predict_proba`` (two model calls), and ``json.dumps``. No validation,
no metrics, no logging: the floor pipeserve has to beat while doing more.

Run: ``gunicorn 'benchmarks.baseline_app:create_app()'`` with ``BENCH_BUNDLE`` naming the bundle
directory (default ``models/iris``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
from flask import Flask, Response, request

from pipeserve.bundle.io import load_bundle


def create_app(bundle_dir: str | None = None) -> Flask:
    """The baseline app serving the bundle at ``bundle_dir`` (or ``$BENCH_BUNDLE``)."""
    directory = Path(bundle_dir or os.environ.get("BENCH_BUNDLE", "models/iris"))
    pipeline = load_bundle(directory).pipeline
    classes = [str(c) for c in pipeline.classes_]
    app = Flask(__name__)

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/predict")
    def predict() -> Response:
        frame = pd.DataFrame(request.get_json()["instances"])
        labels = pipeline.predict(frame)
        probabilities = pipeline.predict_proba(frame)
        predictions = [
            {"label": str(label), "probabilities": dict(zip(classes, row.tolist(), strict=True))}
            for label, row in zip(labels, probabilities, strict=True)
        ]
        return Response(json.dumps({"predictions": predictions}), mimetype="application/json")

    return app
