"""The one protocol-independent core that every API calls.

Protocol adapters (the friendly JSON API now, KServe V1 and Open Inference Protocol V2 later)
parse their wire format, then ask the data plane for a model and a prediction. Nothing here
knows about HTTP, Flask or any protocol's JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeserve.errors import ModelNotReadyError
from pipeserve.inference.predictor import Prediction
from pipeserve.inference.registry import ModelEntry, ModelRegistry


class DataPlane:
    """Health, model lookup and prediction over a :class:`ModelRegistry`."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def live(self) -> bool:
        """The process can answer; a failed model does not make the server dead."""
        return True

    def ready(self) -> bool:
        """Every configured model is loaded (and there is at least one)."""
        return self.registry.ready

    def models(self) -> list[ModelEntry]:
        """Every configured model, ready or not, sorted by name."""
        return list(self.registry)

    def model(self, name: str) -> ModelEntry:
        """Raises :class:`~pipeserve.errors.ModelNotFoundError` for an unknown name."""
        return self.registry.entry(name)

    def inference_model(self, name: str) -> ModelEntry:
        """A model that can predict now.

        Raises :class:`~pipeserve.errors.ModelNotFoundError` or
        :class:`~pipeserve.errors.ModelNotReadyError`.
        """
        return self.registry.ready_entry(name)

    def predict(
        self, entry: ModelEntry, rows: Sequence[Mapping[str, Any]], *, probabilities: bool
    ) -> Prediction:
        """Predict for validated rows with the model of ``entry`` (from :meth:`inference_model`,
        so a request uses one model version from start to end)."""
        if entry.predictor is None:
            raise ModelNotReadyError(f"model {entry.name!r} is not ready: {entry.error}")
        return entry.predictor.predict_rows(rows, probabilities=probabilities)
