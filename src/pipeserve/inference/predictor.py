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
from pipeserve.errors import BundleError, InvalidInputError

# The column dtype each manifest dtype is fed to the pipeline as (strings stay Python objects).
_NUMPY_DTYPES: dict[str, type] = {"float64": np.float64, "int64": np.int64, "string": object}


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
        self._dtypes = {f.name: _NUMPY_DTYPES[f.dtype] for f in self.manifest.features}
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

    @property
    def has_probabilities(self) -> bool:
        """Whether the pipeline gives class probabilities (else only labels)."""
        return self._has_proba

    def predict_rows(
        self, rows: Sequence[Mapping[str, Any]], *, probabilities: bool = True
    ) -> Prediction:
        """Predict for rows given as mappings from feature name to (already validated) value."""
        columns = {name: [row[name] for row in rows] for name in self.feature_names}
        return self.predict_columns(columns, probabilities=probabilities)

    def predict_columns(
        self, columns: Mapping[str, Sequence[Any] | NDArray[Any]], *, probabilities: bool = True
    ) -> Prediction:
        """Predict for (already validated) columns of equal length, one per feature."""
        frame = pd.DataFrame(
            {
                name: np.asarray(columns[name], dtype=self._dtypes[name])
                for name in self.feature_names
            }
        )
        return self.predict_frame(frame, probabilities=probabilities)

    def predict_frame(self, frame: pd.DataFrame, *, probabilities: bool = True) -> Prediction:
        """Predict for a frame holding (at least) the bundle's feature columns.

        Raises :class:`InvalidInputError` when finite inputs are too large for the pipeline's
        arithmetic (an engineered feature or a scaling step overflows).
        """
        features = frame[self.feature_names]
        # Validation admits any finite number, but 1e308 * 1e308 is not one: a feature step that
        # overflows would hand infinities to the estimator, whose own check then fails the
        # request as if it were our fault. Overflow is the caller's input, so it is a 4xx.
        try:
            with np.errstate(over="raise", invalid="raise"):
                if self._has_proba:
                    proba = np.asarray(self._pipeline.predict_proba(features), dtype=np.float64)
                else:
                    labels = [str(label) for label in self._pipeline.predict(features)]
                    return Prediction(labels, None)
        except FloatingPointError as error:
            raise self._too_large() from error
        if not np.isfinite(proba).all():  # an overflow numpy's error state did not see
            raise self._too_large()
        labels = self._class_array[np.argmax(proba, axis=1)].tolist()
        return Prediction(labels, proba if probabilities else None)

    def _too_large(self) -> InvalidInputError:
        seen = ", ".join(
            f"{f.name} {f.minimum:g} to {f.maximum:g}"
            for f in self.manifest.features
            if f.minimum is not None and f.maximum is not None
        )
        message = (
            "the instances hold numbers too large for this model to compute with (its pipeline "
            "overflowed); send values in the units it was trained on"
            + (f" (training data: {seen})" if seen else "")
        )
        return InvalidInputError(message, errors=[{"field": "instances", "message": message}])
