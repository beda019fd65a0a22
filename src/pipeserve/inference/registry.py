"""The models a server holds in memory, and whether each is ready.

A model that fails to load does not stop the others: it stays in the registry as not ready, with
the reason, so that ``/readyz`` and the model metadata say why instead of the server dying.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeserve.bundle.io import load_bundle
from pipeserve.bundle.manifest import Manifest
from pipeserve.errors import (
    BundleError,
    ModelNotFoundError,
    ModelNotReadyError,
)
from pipeserve.inference.predictor import Predictor
from pipeserve.inference.schema import InstanceValidator
from pipeserve.inference.store import discover_bundles

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelEntry:
    """One configured model: ready with a predictor, or failed with the reason."""

    name: str
    directory: Path
    predictor: Predictor | None = None
    validator: InstanceValidator | None = None
    error: str | None = None
    version_warnings: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return self.predictor is not None

    @property
    def manifest(self) -> Manifest | None:
        return self.predictor.manifest if self.predictor else None


def load_entry(name: str, directory: Path) -> ModelEntry:
    """Load and verify one bundle; a bundle that cannot be used gives a failed entry."""
    try:
        bundle = load_bundle(directory)
        predictor = Predictor(bundle)
    except BundleError as error:
        logger.error("model %s is not served: %s", name, error.message)
        return ModelEntry(name=name, directory=directory, error=error.message)
    logger.info("model %s version %s loaded from %s", name, bundle.manifest.version, directory)
    return ModelEntry(
        name=name,
        directory=directory,
        predictor=predictor,
        validator=InstanceValidator(bundle.manifest),
        version_warnings=tuple(bundle.version_warnings),
    )


class ModelRegistry:
    """Models by name."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self._entries = {entry.name: entry for entry in entries}

    @classmethod
    def from_directory(cls, model_dir: Path) -> ModelRegistry:
        """Load every bundle of a model repository (see :mod:`pipeserve.inference.store`)."""
        return cls([load_entry(name, path) for name, path in discover_bundles(model_dir).items()])

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def ready(self) -> bool:
        """True when at least one model is configured and every configured model is ready."""
        return bool(self._entries) and all(entry.ready for entry in self)

    def entry(self, name: str) -> ModelEntry:
        """The entry of ``name``; raises :class:`ModelNotFoundError` if none is configured."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise ModelNotFoundError(
                f"model {name!r} is not served here (available: {known})", model=name
            ) from None

    def ready_entry(self, name: str) -> ModelEntry:
        """The entry of ``name`` if it can predict; raises :class:`ModelNotReadyError` if not."""
        entry = self.entry(name)
        if not entry.ready:
            raise ModelNotReadyError(f"model {name!r} is not ready: {entry.error}", model=name)
        return entry
