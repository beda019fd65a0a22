"""Find bundles on disk: the model repository layout.

A model repository is a directory with one sub-directory per model, named like the model. A model
directory is either a bundle itself (``models/iris/bundle.json``: one version, the one its
manifest names) or holds one bundle per version (``models/iris/1/bundle.json``,
``models/iris/2/bundle.json``), like Triton's and TF Serving's repositories. Instead of a
repository, settings may list bundle directories explicitly; each is served under the name and
version its manifest gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from pipeserve.bundle.manifest import MANIFEST_FILE
from pipeserve.errors import ConfigurationError


@dataclass(frozen=True)
class BundleLocation:
    """Where one model version lives, and the name and version it is served as.

    ``version`` is ``None`` when only the bundle's manifest can tell (a single-version model
    directory or an explicitly listed bundle); ``name`` is ``None`` for an explicitly listed bundle.
    """

    path: Path
    name: str | None
    version: str | None


def version_sort_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions naturally: ``2 < 10`` and ``1.9 < 1.10``; numbers before words."""
    parts = re.findall(r"\d+|[^\d.\-_]+", version)
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in parts)


def _is_hidden(path: Path) -> bool:
    # A dot-name marks work in progress of the bundle writer (see pipeserve.bundle.io).
    return path.name.startswith(".")


def discover_repository(model_dir: Path) -> list[BundleLocation]:
    """Every model version of the repository at ``model_dir``, sorted by name then version.

    A model directory without ``bundle.json`` and without version sub-directories is still
    listed (it will fail to load with a clear reason). Raises :class:`ConfigurationError` when
    ``model_dir`` is not a directory.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ConfigurationError(
            f"model directory {model_dir} does not exist; set PIPESERVE_MODEL_DIR or run "
            "`dvc repro` to build the models",
            path=str(model_dir),
        )
    locations: list[BundleLocation] = []
    for child in sorted(model_dir.iterdir()):
        if not child.is_dir() or _is_hidden(child):
            continue
        versions = [
            sub
            for sub in child.iterdir()
            if sub.is_dir() and not _is_hidden(sub) and (sub / MANIFEST_FILE).is_file()
        ]
        if (child / MANIFEST_FILE).is_file() or not versions:
            locations.append(BundleLocation(child, child.name, None))
            continue
        for sub in sorted(versions, key=lambda path: version_sort_key(path.name)):
            locations.append(BundleLocation(sub, child.name, sub.name))
    return locations


def explicit_locations(paths: Iterable[Path]) -> list[BundleLocation]:
    """Bundles listed one by one (``PIPESERVE_MODEL_PATHS``); their manifests name them."""
    return [BundleLocation(Path(path), None, None) for path in paths]


def manifest_fingerprint(path: Path) -> bytes | None:
    """The bytes of a bundle's ``bundle.json`` (which pins every other file by sha256), or
    ``None`` when it cannot be read; a reload compares them to see what changed."""
    try:
        return (path / MANIFEST_FILE).read_bytes()
    except OSError:
        return None


def peek_identity(path: Path) -> tuple[str | None, str | None]:
    """Name and version a bundle's manifest claims, without verifying anything (for naming a
    bundle that then fails to load); ``(None, None)`` when unreadable."""
    raw = manifest_fingerprint(path)
    try:
        data = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    name, version = data.get("name"), data.get("version")
    return (
        name if isinstance(name, str) else None,
        version if isinstance(version, str) else None,
    )
