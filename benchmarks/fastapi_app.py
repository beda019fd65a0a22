"""FastAPI + uvicorn + scikit-learn: the usual modern alternative, same model as the seed.

A pydantic request model (a list of instances with the four float features), the seed's
``StandardScaler`` + ``SVC(probability=True)`` fitted at start-up, ``predict`` and
``predict_proba`` on a pandas frame. Run: ``uvicorn --factory benchmarks.fastapi_app:create_app``.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

from benchmarks.seed_app import build_model


class Iris(BaseModel):
    sepal_length: float
    sepal_width: float
    petal_length: float
    petal_width: float


class PredictRequest(BaseModel):
    instances: list[Iris]


def create_app() -> FastAPI:
    """The FastAPI app."""
    model: Any = build_model(os.environ.get("BENCH_TRAIN_CSV", "data/prepared/train.csv"))
    classes = [str(c) for c in model.classes_]
    app = FastAPI()

    @app.get("/readyz")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/predict")
    def predict(body: PredictRequest) -> dict[str, Any]:
        frame = pd.DataFrame([row.model_dump() for row in body.instances])
        labels = model.predict(frame)
        probabilities = model.predict_proba(frame)
        return {
            "predictions": [
                {"label": str(label), "probabilities": dict(zip(classes, p.tolist(), strict=True))}
                for label, p in zip(labels, probabilities, strict=True)
            ]
        }

    return app
