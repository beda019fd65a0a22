"""The seed design: what a team writes first to serve iris, with no pipeserve at all.

Plain Flask, run by Gunicorn's sync workers; a scikit-learn ``StandardScaler`` + ``SVC(probability=
True)`` pipeline fitted at start-up on the same prepared training rows pipeserve trains on; per
request ``request.get_json()``, a pandas frame, ``predict`` and ``predict_proba``, ``json.dumps``.
No validation, no metrics, no logging.

Run: ``gunicorn 'benchmarks.seed_app:create_app()'`` with ``BENCH_TRAIN_CSV`` naming the training
table (default ``data/prepared/train.csv``).
"""

from __future__ import annotations

import json
import os
import warnings

import pandas as pd
from flask import Flask, Response, request
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TARGET = "species"


def build_model(train_csv: str) -> object:
    """The seed's model, fitted on ``train_csv``."""
    frame = pd.read_csv(train_csv)
    with warnings.catch_warnings():
        # scikit-learn 1.9 deprecates probability=True; the seed design predates that.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        model = make_pipeline(StandardScaler(), SVC(probability=True, random_state=0))
        model.fit(frame[FEATURES], frame[TARGET])
    return model


def create_app() -> Flask:
    """The seed app."""
    model = build_model(os.environ.get("BENCH_TRAIN_CSV", "data/prepared/train.csv"))
    classes = [str(c) for c in model.classes_]  # type: ignore[attr-defined]
    app = Flask(__name__)

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/predict")
    def predict() -> Response:
        frame = pd.DataFrame(request.get_json()["instances"])
        labels = model.predict(frame)  # type: ignore[attr-defined]
        probabilities = model.predict_proba(frame)  # type: ignore[attr-defined]
        predictions = [
            {"label": str(label), "probabilities": dict(zip(classes, row.tolist(), strict=True))}
            for label, row in zip(labels, probabilities, strict=True)
        ]
        return Response(json.dumps({"predictions": predictions}), mimetype="application/json")

    return app
