"""The one protocol-independent core that every API calls.

Protocol adapters (the friendly JSON API, KServe V1, Open Inference Protocol V2) parse their wire
format, then ask the data plane for a model and a prediction. Nothing here knows about HTTP,
Flask or any protocol's JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from numpy.typing import NDArray

from pipeserve.errors import ModelNotReadyError
from pipeserve.inference.predictor import Prediction, Predictor
from pipeserve.inference.registry import ModelEntry, ModelRegistry, ReloadReport, ServedModel

PredictionObserver = Callable[[ModelEntry, Prediction], None]


class DataPlane:
    """Health, model lookup, prediction and reloading over a :class:`ModelRegistry`."""

    def __init__(
        self, registry: ModelRegistry, on_prediction: PredictionObserver | None = None
    ) -> None:
        """``on_prediction`` is told of every prediction (for metrics), after it is made."""
        self.registry = registry
        self._on_prediction = on_prediction

    def live(self) -> bool:
        """The process can answer; a failed model does not make the server dead."""
        return True

    def ready(self) -> bool:
        """Whether to receive traffic, by the registry's readiness policy."""
        return self.registry.ready

    def models(self) -> list[ServedModel]:
        """Every configured model with its versions, ready or not, sorted by name."""
        return self.registry.models()

    def served_model(self, name: str) -> ServedModel:
        """Raises :class:`~pipeserve.errors.ModelNotFoundError` for an unknown name."""
        return self.registry.served_model(name)

    def model(self, name: str, version: str | None = None) -> ModelEntry:
        """A model version (the default one when ``version`` is ``None``), ready or not.

        Raises :class:`~pipeserve.errors.ModelNotFoundError` for an unknown name or version.
        """
        return self.registry.entry(name, version)

    def inference_model(self, name: str, version: str | None = None) -> ModelEntry:
        """A model version that can predict now.

        Raises :class:`~pipeserve.errors.ModelNotFoundError` or
        :class:`~pipeserve.errors.ModelNotReadyError`.
        """
        return self.registry.ready_entry(name, version)

    def predict(
        self, entry: ModelEntry, rows: Sequence[Mapping[str, Any]], *, probabilities: bool
    ) -> Prediction:
        """Predict for validated rows with the model of ``entry`` (from :meth:`inference_model`,
        so a request uses one model version from start to end, even across a reload)."""
        prediction = _predictor(entry).predict_rows(rows, probabilities=probabilities)
        return self._observed(entry, prediction)

    def predict_columns(
        self,
        entry: ModelEntry,
        columns: Mapping[str, Sequence[Any] | NDArray[Any]],
        *,
        probabilities: bool,
    ) -> Prediction:
        """Predict for validated columns, one per feature of ``entry``'s model."""
        prediction = _predictor(entry).predict_columns(columns, probabilities=probabilities)
        return self._observed(entry, prediction)

    def _observed(self, entry: ModelEntry, prediction: Prediction) -> Prediction:
        if self._on_prediction is not None:
            self._on_prediction(entry, prediction)
        return prediction

    def reload(self) -> ReloadReport:
        """Load new and changed bundles and switch to them (see :meth:`ModelRegistry.reload`)."""
        return self.registry.reload()


def _predictor(entry: ModelEntry) -> Predictor:
    if entry.predictor is None:
        raise ModelNotReadyError(f"model {entry.label} is not ready: {entry.error}")
    return entry.predictor
