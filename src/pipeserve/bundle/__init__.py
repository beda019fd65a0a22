"""Bundles: the verified, self-describing directory that training writes and serving reads.

Rule: bundles are data, not code. Pipelines are persisted with skops and loaded only after every
file matched its recorded sha256 and every type in them is on the trusted list; never with
pickle or joblib.
"""

from pipeserve.bundle.io import (
    LoadedBundle,
    load_bundle,
    read_manifest,
    verify_bundle,
    write_bundle,
)
from pipeserve.bundle.manifest import Manifest

__all__ = [
    "LoadedBundle",
    "Manifest",
    "load_bundle",
    "read_manifest",
    "verify_bundle",
    "write_bundle",
]
