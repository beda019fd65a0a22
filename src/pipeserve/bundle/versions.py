"""Versions of the libraries a bundle depends on, recorded at training and compared at load."""

from __future__ import annotations

import platform
from importlib import metadata

RECORDED_LIBRARIES = ("pipeserve", "scikit-learn", "numpy", "scipy", "pandas", "skops")


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape a fitted pipeline, plus Python's."""
    versions = {"python": platform.python_version()}
    for name in RECORDED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
