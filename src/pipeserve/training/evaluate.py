"""Score a trained bundle on held-out data: metrics for ``dvc metrics``, a table for
``dvc plots`` (actual against predicted: a confusion matrix for a classifier, a scatter for a
regressor).

Evaluation goes through :class:`~pipeserve.inference.predictor.Predictor`, the same code that
serves requests, so the reported accuracy is the accuracy of what is served.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from pipeserve.bundle.io import load_bundle
from pipeserve.bundle.trusted import Trust
from pipeserve.inference.predictor import Predictor
from pipeserve.training.data import read_table, target_values


def compute_metrics(actual: list[str], predicted: list[str], classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro-averaged precision/recall/F1 and the same per class."""
    precision, recall, f1, support = precision_recall_fscore_support(
        actual, predicted, labels=classes, zero_division=0
    )
    macro = precision_recall_fscore_support(
        actual, predicted, labels=classes, average="macro", zero_division=0
    )
    return {
        "accuracy": round(float(accuracy_score(actual, predicted)), 6),
        "precision_macro": round(float(macro[0]), 6),
        "recall_macro": round(float(macro[1]), 6),
        "f1_macro": round(float(macro[2]), 6),
        "n_test": len(actual),
        "per_class": {
            label: {
                "precision": round(float(precision[i]), 6),
                "recall": round(float(recall[i]), 6),
                "f1": round(float(f1[i]), 6),
                "support": int(support[i]),
            }
            for i, label in enumerate(classes)
        },
    }


def regression_metrics(
    actual: NDArray[np.float64], predicted: NDArray[np.float64]
) -> dict[str, Any]:
    """Root mean squared error, mean absolute error and R² (the share of variance explained)."""
    return {
        "rmse": round(float(root_mean_squared_error(actual, predicted)), 6),
        "mae": round(float(mean_absolute_error(actual, predicted)), 6),
        "r2": round(float(r2_score(actual, predicted)), 6),
        "n_test": len(actual),
    }


def probability_metrics(
    actual: list[str], probabilities: NDArray[np.float64], classes: list[str], positive: str
) -> dict[str, Any]:
    """For a binary task, how good the probabilities of ``positive`` are: ROC AUC, average
    precision, Brier score and log loss (accuracy alone says little when one class is rare)."""
    is_positive = np.asarray([label == positive for label in actual])
    score = probabilities[:, classes.index(positive)]
    return {
        "positive_class": positive,
        "positive_rate": round(float(is_positive.mean()), 6),
        "roc_auc": round(float(roc_auc_score(is_positive, score)), 6),
        "average_precision": round(float(average_precision_score(is_positive, score)), 6),
        "brier": round(float(brier_score_loss(is_positive, score)), 6),
        "log_loss": round(float(log_loss(is_positive, score, labels=[False, True])), 6),
    }


def evaluate(
    bundle_dir: Path,
    test_csv: Path,
    target: str,
    metrics_path: Path,
    confusion_path: Path,
    *,
    positive_class: str | None = None,
    trust: Trust | None = None,
) -> dict[str, Any]:
    """Write the metrics JSON and the plot table (one ``actual,predicted`` row per test row,
    the format of DVC's confusion and scatter templates); return the metrics.

    Classifiers get :func:`compute_metrics` (and, with ``positive_class``,
    :func:`probability_metrics`), regressors :func:`regression_metrics`.
    """
    predictor = Predictor(load_bundle(bundle_dir, trust=trust))
    features, target_column = read_table(test_csv, target)
    truth = target_values(target_column, predictor.manifest.task, str(test_csv))
    prediction = predictor.predict_frame(features, probabilities=positive_class is not None)
    actual: list[Any] = truth.tolist()
    predicted: list[Any]
    if prediction.values is not None:
        predicted = np.round(prediction.values, 6).tolist()
        metrics = regression_metrics(truth.to_numpy(), prediction.values)
    else:
        predicted = prediction.labels
        metrics = compute_metrics(actual, predicted, predictor.classes)
    if positive_class is not None and prediction.probabilities is not None:
        metrics.update(
            probability_metrics(actual, prediction.probabilities, predictor.classes, positive_class)
        )

    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2) + b"\n")
    confusion_path.parent.mkdir(parents=True, exist_ok=True)
    with confusion_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip(actual, predicted, strict=True))
    return metrics
