"""pipeserve: take a scikit-learn pipeline from a DVC-versioned repo to a documented REST API.

Rule: importing the package does nothing but define things; no environment, files or logging
are touched until an entry point (the CLI or ``pipeserve.api.create_app``) runs.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pipeserve")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
