"""Watch the model repository and reload what changed, in the background of each worker.

Every worker process holds its own models, so each runs its own watcher: no coordination is
needed and a worker never serves a half-loaded model (see :meth:`ModelRegistry.reload`).
Checking costs one small file read per bundle, so a few seconds' interval is cheap.
"""

from __future__ import annotations

import logging
import threading

from pipeserve.errors import PipeserveError
from pipeserve.inference.registry import ModelRegistry

logger = logging.getLogger(__name__)


class RepositoryWatcher:
    """A daemon thread calling ``registry.reload()`` every ``interval`` seconds until stopped."""

    def __init__(self, registry: ModelRegistry, interval: float) -> None:
        if interval <= 0:
            raise ValueError("the reload interval must be positive")
        self._registry = registry
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pipeserve-reload", daemon=True)

    def start(self) -> RepositoryWatcher:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching; waits up to ``timeout`` seconds for a reload in progress."""
        self._stopped.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._registry.reload()
            except PipeserveError as error:
                # The repository vanished or is misconfigured: keep serving what is loaded.
                logger.error("model reload failed, the loaded models keep serving: %s", error)
