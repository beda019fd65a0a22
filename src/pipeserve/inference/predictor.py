"""The inference core: a fitted pipeline answering for validated columns (or rows).

No HTTP and no wire format here: inputs arrive validated (one array per feature), errors carry
no protocol's field names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from pipeserve.bundle.io import LoadedBundle
from pipeserve.bundle.manifest import Manifest
from pipeserve.errors import BundleError, InvalidInputError
from pipeserve.features.notes import RowNote, collecting
from pipeserve.inference.compiled import CompiledPipeline

if TYPE_CHECKING:
    import pandas as pd

    from pipeserve.features.geocoders.runtime import GeocoderSettings

InferencePath = Literal["auto", "onnx", "sklearn"]


@dataclass(frozen=True)
class Prediction:
    """Labels for ``n`` rows and, when asked for, an ``(n, n_classes)`` probability matrix whose
    columns follow :attr:`Predictor.classes`; for a regressor, ``values`` (one number a row) and
    no labels."""

    labels: list[str]
    probabilities: NDArray[np.float64] | None
    values: NDArray[np.float64] | None = None
    # Per row index, what input monitoring flagged (PIPESERVE_OUT_OF_RANGE=flag); see
    # pipeserve.inference.monitoring.
    warnings: dict[int, list[str]] = field(default_factory=dict)
    # What the pipeline's own steps reported about rows (pipeserve.features.notes), which the
    # data plane treats like the monitor's findings.
    notes: tuple[RowNote, ...] = ()

    def rows(self, start: int, stop: int) -> Prediction:
        """Rows ``start`` to ``stop`` of this prediction, renumbered from 0 (a coalesced batch
        split back into its requests)."""
        proba, values = self.probabilities, self.values
        return Prediction(
            self.labels[start:stop],
            proba[start:stop] if proba is not None else None,
            values[start:stop] if values is not None else None,
            {row - start: w for row, w in self.warnings.items() if start <= row < stop},
            tuple(
                replace(note, row=note.row - start)
                for note in self.notes
                if start <= note.row < stop
            ),
        )


class Predictor:
    """Predict with one verified bundle.

    Labels are the arg-max of the class probabilities whenever the pipeline has
    ``predict_proba``: one model call instead of two, and a label never disagrees with its own
    probabilities.
    """

    def __init__(
        self,
        bundle: LoadedBundle,
        path: InferencePath = "auto",
        geocoder: GeocoderSettings | None = None,
    ) -> None:
        """``path``: ``auto`` serves the compiled (ONNX) form when the bundle has a verified
        one, ``sklearn`` never does, ``onnx`` insists (raising :class:`BundleError` without
        one). ``geocoder``: what the pipeline's HTTP geocoders use (none: they refuse to run).
        """
        self._geocoder = geocoder
        self.manifest: Manifest = bundle.manifest
        self.classes: list[str] = list(self.manifest.classes)
        self.is_regressor = self.manifest.task == "regression"
        # Text features whose encoder refuses unseen categories (FeatureSpec.categories).
        self._closed = {
            f.name: frozenset(f.categories) for f in self.manifest.features if f.categories
        }
        self.feature_names: list[str] = self.manifest.feature_names
        self._class_array = np.asarray(self.classes, dtype=object)
        self._dtypes = {f.name: f.column_dtype for f in self.manifest.features}
        self._row_values = _tuple_getter(self.feature_names)
        # The bundle may come without its scikit-learn pipeline read: a compiled form that covers
        # the whole pipeline needs none (and spares the worker scikit-learn's memory and start
        # time). It is read here whenever something needs it.
        self._pipeline = bundle.pipeline
        if self._pipeline is not None:
            _configure_geocoders(self._pipeline, geocoder)
        self._compiled, self.path_reason = self._fast_path(bundle, path)
        if self._pipeline is None and self._compiled is None:
            self._pipeline = self._load_pipeline(bundle)
        if self._pipeline is not None:
            self._check_consistent(bundle)
        # A compiled form exists only for pipelines with probabilities.
        self._has_proba = self._compiled is not None or hasattr(self._pipeline, "predict_proba")
        # Rows go straight into a float matrix when nothing needs column names.
        self._matrix_model = (
            self._compiled
            if self._compiled is not None and not self._compiled.needs_frame
            else None
        )

    def _load_pipeline(self, bundle: LoadedBundle) -> Any:
        """The bundle's scikit-learn pipeline, its geocoders handed this server's settings."""
        pipeline = bundle.load_pipeline()
        _configure_geocoders(pipeline, self._geocoder)
        return pipeline

    def _fast_path(
        self, bundle: LoadedBundle, path: InferencePath
    ) -> tuple[CompiledPipeline | None, str]:
        fast = self.manifest.fast_path
        if path == "sklearn":
            return None, "PIPESERVE_INFERENCE_PATH=sklearn"
        reason = ""
        if fast is None:
            reason = "the bundle has no compiled form (built before fast paths, or not asked)"
        elif not fast.verified or fast.file is None:
            reason = f"the compiled form did not pass its check: {fast.reason}"
        elif fast.file not in bundle.extra_files:
            reason = f"{fast.file} is not listed in bundle.json"
        else:
            try:
                if fast.head_steps and self._pipeline is None:  # Python steps run first
                    self._pipeline = self._load_pipeline(bundle)
                compiled = CompiledPipeline(bundle.extra_files[fast.file], self._pipeline, fast)
            except Exception as error:  # onnxruntime raises its own types
                reason = f"onnxruntime cannot load {fast.file}: {error}"
            else:
                return compiled, (
                    f"verified on {fast.rows_checked} rows, max probability difference "
                    f"{fast.max_probability_difference:.2g}"
                )
        if path == "onnx":
            raise BundleError(
                f"bundle {bundle.directory}: PIPESERVE_INFERENCE_PATH=onnx but {reason}",
                path=str(bundle.directory),
            )
        return None, reason

    @property
    def inference_path(self) -> Literal["onnx", "sklearn"]:
        """Which form answers: the compiled one or the scikit-learn pipeline."""
        return "onnx" if self._compiled is not None else "sklearn"

    def _check_consistent(self, bundle: LoadedBundle) -> None:
        fitted_classes = [str(c) for c in getattr(self._pipeline, "classes_", [])]
        if fitted_classes != self.classes and not self.is_regressor:
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
        if self._matrix_model is not None:
            model = self._matrix_model
            # itemgetter and fromiter keep the per-row work in C (4x a nested comprehension).
            values = chain.from_iterable(map(self._row_values, rows))
            count = len(rows) * len(self.feature_names)
            matrix = np.fromiter(values, dtype=np.float64, count=count).reshape(len(rows), -1)
            return self._computed(lambda: model.predict_proba_matrix(matrix), probabilities)
        columns = {name: [row[name] for row in rows] for name in self.feature_names}
        return self.predict_columns(columns, probabilities=probabilities)

    def predict_columns(
        self, columns: Mapping[str, Sequence[Any] | NDArray[Any]], *, probabilities: bool = True
    ) -> Prediction:
        """Predict for (already validated) columns of equal length, one per feature."""
        if self._matrix_model is not None:
            model = self._matrix_model
            # One array of the columns, turned (a view): column_stack costs twice as much for
            # one row, and the compiled model makes the matrix contiguous anyway.
            matrix = np.array([columns[name] for name in self.feature_names]).T
            return self._computed(lambda: model.predict_proba_matrix(matrix), probabilities)
        import pandas as pd  # noqa: PLC0415  # 90 MB a worker on the compiled path never needs

        frame = pd.DataFrame(
            {
                name: np.asarray(columns[name], dtype=self._dtypes[name])
                for name in self.feature_names
            }
        )
        return self.predict_frame(frame, probabilities=probabilities)

    def predict_frame(self, frame: pd.DataFrame, *, probabilities: bool = True) -> Prediction:
        """Predict for a frame holding (at least) the bundle's feature columns; what the
        pipeline's steps noted about rows is in :attr:`Prediction.notes`.

        Raises :class:`InvalidInputError` when finite inputs are too large for the pipeline's
        arithmetic (an engineered feature or a scaling step overflows).
        """
        with collecting() as notes:
            prediction = self._predict_frame(frame, probabilities)
        return replace(prediction, notes=tuple(notes)) if notes else prediction

    def _predict_frame(self, frame: pd.DataFrame, probabilities: bool) -> Prediction:
        features = frame[self.feature_names]
        if self._closed:
            self._check_categories(features)
        if self.is_regressor:
            return self._regressed(features)
        if self._compiled is not None:
            compiled = self._compiled
            return self._computed(lambda: compiled.predict_proba_frame(features), probabilities)
        if self._has_proba:
            pipeline = self._pipeline
            return self._computed(
                lambda: np.asarray(pipeline.predict_proba(features), dtype=np.float64),
                probabilities,
            )
        with np.errstate(over="raise", invalid="raise"):
            try:
                labels = [str(label) for label in self._pipeline.predict(features)]
            except FloatingPointError as error:
                raise self._too_large() from error
        return Prediction(labels, None)

    def _check_categories(self, features: pd.DataFrame) -> None:
        # No wire field: each protocol places a row's value (protocols.policy.place_model_error).
        errors: list[dict[str, Any]] = []
        for name, allowed in self._closed.items():
            column = features[name]
            refused = np.flatnonzero(~column.isin(allowed).to_numpy())  # rows located on failure
            shown = ", ".join(sorted(allowed))
            errors.extend(
                {
                    "row": row,
                    "feature": name,
                    "message": f"must be one of the categories seen in training "
                    f"({shown}), got {column.iloc[row]!r}",
                }
                for row in refused.tolist()
            )
        if errors:
            first = errors[0]
            raise InvalidInputError(f"{first['feature']} {first['message']}", errors=errors)

    # --- regressors: a number per row (no compiled path: compile.py makes one only for
    # pipelines with probabilities) ---------------------------------------------------------

    def _regressed(self, features: pd.DataFrame) -> Prediction:
        try:
            with np.errstate(over="raise", invalid="raise"):
                values = np.asarray(self._pipeline.predict(features), dtype=np.float64).ravel()
        except FloatingPointError as error:
            raise self._too_large() from error
        if not np.isfinite(values).all():
            raise self._too_large()
        return Prediction([], None, values)

    def _computed(
        self, compute: Callable[[], NDArray[np.float64]], probabilities: bool
    ) -> Prediction:
        # Validation admits any finite number, but 1e308 * 1e308 is not one: a step that
        # overflows (an engineered feature, a scaler, the cast to the compiled model's float32)
        # would hand infinities on, and the estimator's own check then fails the request as if
        # it were our fault. Overflow comes from the caller's input, so it is a 4xx.
        try:
            with np.errstate(over="raise", invalid="raise"):
                proba = compute()
        except FloatingPointError as error:
            raise self._too_large() from error
        # An overflow numpy's error state did not see. Probabilities are at most 1, so their
        # sum is finite exactly when every one is (one reduction, no boolean matrix).
        if not math.isfinite(proba.sum()):
            raise self._too_large()
        return self._labelled(proba, probabilities)

    def _labelled(self, proba: NDArray[np.float64], probabilities: bool) -> Prediction:
        labels = self._class_array[proba.argmax(axis=1)].tolist()
        return Prediction(labels, proba if probabilities else None)

    def _too_large(self) -> InvalidInputError:
        seen = ", ".join(
            f"{f.name} {f.minimum:g} to {f.maximum:g}"
            for f in self.manifest.features
            if f.minimum is not None and f.maximum is not None
        )
        message = (
            "hold numbers too large for this model to compute with (its pipeline overflowed); "
            "send values in the units it was trained on"
            + (f" (training data: {seen})" if seen else "")
        )
        # No field: the core knows no wire format; each protocol names its rows (see
        # ``protocols.policy.place_model_error``).
        return InvalidInputError(message, errors=[{"message": message}])


def _configure_geocoders(pipeline: Any, settings: GeocoderSettings | None) -> None:
    # Imported only with a pipeline at hand: scikit-learn is loaded by then anyway, and a
    # worker on the compiled path never pays for it.
    from pipeserve.features.geocoding import configure_geocoders  # noqa: PLC0415

    configure_geocoders(pipeline, settings)


def _tuple_getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values in ``names`` order, always as a tuple (itemgetter of one key is not)."""
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    getter: Callable[[Mapping[str, Any]], tuple[Any, ...]] = itemgetter(*names)
    return getter
