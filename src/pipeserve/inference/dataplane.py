"""The one protocol-independent core that every API calls.

Protocol adapters (the friendly JSON API, KServe V1, Open Inference Protocol V2) parse their wire
format, then ask the data plane for a model and a prediction. Nothing here knows about HTTP,
Flask or any protocol's JSON.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from numpy.typing import NDArray

from pipeserve.errors import InvalidInputError, ModelNotReadyError
from pipeserve.inference.batching import Batcher, BatchingOptions
from pipeserve.inference.monitoring import InputReport, OutOfRangePolicy
from pipeserve.inference.predictor import Prediction, Predictor
from pipeserve.inference.registry import ModelRegistry, ModelVersion, ReloadReport, ServedModel

PredictionObserver = Callable[[ModelVersion, Prediction], None]
InputObserver = Callable[[ModelVersion, InputReport], None]


class DataPlane:
    """Health, model lookup, prediction and reloading over a :class:`ModelRegistry`."""

    def __init__(
        self,
        registry: ModelRegistry,
        on_prediction: PredictionObserver | None = None,
        *,
        batching: BatchingOptions | None = None,
        concurrency: Callable[[], int] = lambda: 1,
        out_of_range: OutOfRangePolicy = "flag",
        on_inputs: InputObserver | None = None,
    ) -> None:
        """``on_prediction`` is told of every prediction (for metrics), after it is made.
        With ``batching``, concurrent predictions for the same model version are coalesced
        (:mod:`pipeserve.inference.batching`); ``concurrency`` says how many requests the
        process is handling, so that a lone request never waits. Every request's inputs are
        compared with the training data first (:mod:`pipeserve.inference.monitoring`) and
        ``on_inputs`` told what was found; ``out_of_range`` says what a finding does: nothing
        (``accept``), a warning per prediction (``flag``) or a rejected request (``reject``)."""
        self.registry = registry
        self._on_prediction = on_prediction
        self._on_inputs = on_inputs
        self._out_of_range = out_of_range
        self._batching = batching
        self._concurrency = concurrency
        self._batchers: weakref.WeakKeyDictionary[ModelVersion, Batcher] = (
            weakref.WeakKeyDictionary()
        )
        self._batchers_lock = threading.Lock()

    def live(self) -> bool:
        """The process can answer; a failed model does not make the server dead."""
        return True

    def ready(self) -> bool:
        """Whether to receive traffic, by the registry's readiness policy."""
        return self.registry.ready

    def models(self) -> list[ServedModel]:
        """Every configured model with its versions, ready or not, sorted by name."""
        return self.registry.models()

    def model(self, name: str) -> ServedModel:
        """Raises :class:`~pipeserve.errors.ModelNotFoundError` for an unknown name."""
        return self.registry.model(name)

    def version(self, name: str, version: str | None = None) -> ModelVersion:
        """A model version (the default one when ``version`` is ``None``), ready or not.

        Raises :class:`~pipeserve.errors.ModelNotFoundError` for an unknown name or version.
        """
        return self.registry.version(name, version)

    def ready_version(self, name: str, version: str | None = None) -> ModelVersion:
        """A model version that can predict now.

        Raises :class:`~pipeserve.errors.ModelNotFoundError` or
        :class:`~pipeserve.errors.ModelNotReadyError`.
        """
        return self.registry.ready_version(name, version)

    def predict(
        self, entry: ModelVersion, rows: Sequence[Mapping[str, Any]], *, probabilities: bool
    ) -> Prediction:
        """Predict for validated rows with the model of ``entry`` (from :meth:`ready_version`,
        so a request uses one model version from start to end, even across a reload)."""
        predictor = _predictor(entry)
        if self._batching is not None or entry.monitor is not None:
            columns = {name: [row[name] for row in rows] for name in predictor.feature_names}
            return self.predict_columns(entry, columns, probabilities=probabilities)
        prediction = predictor.predict_rows(rows, probabilities=probabilities)
        return self._observed(entry, self._flagged(entry, prediction, None))

    def predict_columns(
        self,
        entry: ModelVersion,
        columns: Mapping[str, Sequence[Any] | NDArray[Any]],
        *,
        probabilities: bool,
    ) -> Prediction:
        """Predict for validated columns, one per feature of ``entry``'s model.

        Raises :class:`InvalidInputError` naming each field unlike the training data when the
        policy is ``reject``."""
        predictor = _predictor(entry)
        report = self._monitored(entry, columns)
        if self._batching is not None:
            rows = len(next(iter(columns.values()))) if columns else 0
            batcher = self._batcher(entry, predictor, self._batching)
            prediction = batcher.predict(columns, rows, probabilities=probabilities)
        else:
            prediction = predictor.predict_columns(columns, probabilities=probabilities)
        return self._observed(entry, self._flagged(entry, prediction, report))

    def _flagged(
        self, entry: ModelVersion, prediction: Prediction, report: InputReport | None
    ) -> Prediction:
        """``prediction`` with the findings of ``report`` and what the pipeline's own steps
        noted (:mod:`pipeserve.features.notes`) as warnings, as the policy says; the notes are
        counted like the monitor's findings and refused under ``reject``."""
        if prediction.notes:
            noted = InputReport.of_notes(prediction.notes)
            if entry.monitor is not None:
                entry.monitor.count_notes(noted)
            if self._on_inputs is not None:
                self._on_inputs(entry, noted)
            self._enforce(noted)
            report = noted if report is None else report.merged(noted)
        if report is not None and report.findings and self._out_of_range == "flag":
            prediction = replace(prediction, warnings=report.by_row())
        return prediction

    def _monitored(
        self, entry: ModelVersion, columns: Mapping[str, Sequence[Any] | NDArray[Any]]
    ) -> InputReport | None:
        if entry.monitor is None:
            return None
        report = entry.monitor.observe(columns)
        if self._on_inputs is not None:
            self._on_inputs(entry, report)
        self._enforce(report)
        return report

    def _enforce(self, report: InputReport) -> None:
        """Raises :class:`InvalidInputError` for ``report``'s findings under ``reject``."""
        if report.findings and self._out_of_range == "reject":
            # No wire field here: the protocol places each finding (place_model_error).
            errors = [
                {
                    "row": finding.row,
                    "feature": finding.feature,
                    "message": finding.refusal or finding.detail,
                }
                for finding in report.findings
            ]
            first = errors[0]
            raise InvalidInputError(f"{first['feature']} {first['message']}", errors=errors)

    def _batcher(
        self, entry: ModelVersion, predictor: Predictor, options: BatchingOptions
    ) -> Batcher:
        batcher = self._batchers.get(entry)
        if batcher is None:
            with self._batchers_lock:
                batcher = self._batchers.get(entry)
                if batcher is None:
                    batcher = self._batchers[entry] = Batcher(
                        lambda columns: predictor.predict_columns(columns, probabilities=True),
                        predictor.feature_names,
                        options,
                        self._concurrency,
                    )
                    # A version dropped by a reload takes its collector thread with it.
                    weakref.finalize(entry, batcher.stop)
        return batcher

    def _observed(self, entry: ModelVersion, prediction: Prediction) -> Prediction:
        if self._on_prediction is not None:
            self._on_prediction(entry, prediction)
        return prediction

    def reload(self) -> ReloadReport:
        """Load new and changed bundles and switch to them (see :meth:`ModelRegistry.reload`)."""
        return self.registry.reload()


def _predictor(entry: ModelVersion) -> Predictor:
    if entry.predictor is None:
        raise ModelNotReadyError.of(entry.label, entry.error)
    return entry.predictor
