"""Find bundles on disk: the model repository layout.

A model repository is a directory with one sub-directory per model, named like the model
(``models/iris/bundle.json``). The directory name is the name the model is served under.
"""

from __future__ import annotations

from pathlib import Path

from pipeserve.errors import ConfigurationError


def discover_bundles(model_dir: Path) -> dict[str, Path]:
    """Map each model name to its bundle directory, sorted by name.

    A sub-directory without ``bundle.json`` is still listed (it will fail to load with a clear
    reason) unless its name starts with a dot, which marks work in progress of the bundle writer.
    Raises :class:`ConfigurationError` when ``model_dir`` is not a directory.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ConfigurationError(
            f"model directory {model_dir} does not exist; set PIPESERVE_MODEL_DIR or run "
            "`dvc repro` to build the models",
            path=str(model_dir),
        )
    return {
        child.name: child
        for child in sorted(model_dir.iterdir())
        if child.is_dir() and not child.name.startswith(".")
    }
