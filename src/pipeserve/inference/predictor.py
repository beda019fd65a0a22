"""The inference core: a fitted pipeline answering for rows of validated input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from pipeserve.bundle.io import LoadedBundle
from pipeserve.bundle.manifest import Manifest
from pipeserve.errors import BundleError

# Column dtypes as training saw them: text stays Python strings (object), as read_table gives.
_DTYPES = {"float64": "float64", "int64": "int64", "string": object}


@dataclass(frozen=True)
class Prediction:
    """Labels for ``n`` rows and, when asked for, an ``(n, n_classes)`` probability matrix whose
    columns follow :attr:`Predictor.classes`."""

    labels: list[str]
    probabilities: NDArray[np.float64] | None


class Predictor:
    """Predict with one verified bundle.

    Labels are the arg-max of the class probabilities whenever the pipeline has
    ``predict_proba``: one model call instead of two, and a label never disagrees with its own
    probabilities.
    """

    def __init__(self, bundle: LoadedBundle) -> None:
        self.manifest: Manifest = bundle.manifest
        self._pipeline = bundle.pipeline
        self.classes: list[str] = list(self.manifest.classes)
        self.feature_names: list[str] = self.manifest.feature_names
        self._class_array = np.asarray(self.classes, dtype=object)
        self._has_proba = hasattr(self._pipeline, "predict_proba")
        self._check_consistent(bundle)

    def _check_consistent(self, bundle: LoadedBundle) -> None:
        fitted_classes = [str(c) for c in getattr(self._pipeline, "classes_", [])]
        if fitted_classes != self.classes:
            raise BundleError(
                f"bundle {bundle.directory}: the pipeline's classes {fitted_classes} differ from "
                f"the manifest's {self.classes}",
                path=str(bundle.directory),
            )
        fitted_features = [str(c) for c in getattr(self._pipeline, "feature_names_in_", [])]
        if fitted_features != self.feature_names:
            raise BundleError(
                f"bundle {bundle.directory}: the pipeline was fitted on features "
                f"{fitted_features}, the manifest declares {self.feature_names}",
                path=str(bundle.directory),
            )

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    def predict_rows(
        self, rows: Sequence[Mapping[str, Any]], *, probabilities: bool = True
    ) -> Prediction:
        """Predict for rows given as mappings from feature name to (already validated) value."""
        columns = {
            feature.name: pd.Series(
                [row[feature.name] for row in rows], dtype=_DTYPES[feature.dtype]
            )
            for feature in self.manifest.features
        }
        return self.predict_frame(pd.DataFrame(columns), probabilities=probabilities)

    def predict_frame(self, frame: pd.DataFrame, *, probabilities: bool = True) -> Prediction:
        """Predict for a frame holding (at least) the bundle's feature columns."""
        features = frame[self.feature_names]
        if self._has_proba:
            proba = np.asarray(self._pipeline.predict_proba(features), dtype=np.float64)
            labels = self._class_array[np.argmax(proba, axis=1)].tolist()
            return Prediction(labels, proba if probabilities else None)
        labels = [str(label) for label in self._pipeline.predict(features)]
        return Prediction(labels, None)
