"""Write, verify and load bundles.

A bundle is a directory: ``pipeline.skops`` (the fitted scikit-learn pipeline, persisted with
skops, never pickle) and ``bundle.json`` (its :class:`~pipeserve.bundle.manifest.Manifest`).
Loading reads each file's bytes once, checks them against the recorded sha256 and only then
deserialises those same bytes, trusting only the types the caller's
:class:`~pipeserve.bundle.trusted.Trust` names (the server's settings, never the bundle).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from pipeserve.bundle.archive import canonical_skops
from pipeserve.bundle.manifest import MANIFEST_FILE, PIPELINE_FILE, FileDigest, Manifest
from pipeserve.bundle.trusted import Trust
from pipeserve.bundle.versions import library_versions
from pipeserve.errors import (
    BundleCodeMissingError,
    BundleError,
    BundleIntegrityError,
    UntrustedTypeError,
)

logger = logging.getLogger(__name__)

# Libraries whose version change can alter how a persisted estimator behaves.
_VERSION_SENSITIVE = ("scikit-learn", "numpy", "scipy", "skops")


@dataclass(frozen=True)
class LoadedBundle:
    """A verified bundle: its manifest, the fitted pipeline, and any library-version drift."""

    directory: Path
    manifest: Manifest
    pipeline: Any
    version_warnings: list[str] = field(default_factory=list)
    # Verified bytes of the bundle's other files (the compiled fast path), by file name.
    extra_files: dict[str, bytes] = field(default_factory=dict)
    pipeline_bytes: bytes = field(default=b"", repr=False)
    trust: Trust = field(default_factory=Trust, repr=False)
    # sha256 of bundle.json, which pins every other file: one value names the exact bundle.
    digest: str = ""

    def load_pipeline(self) -> Any:
        """The scikit-learn pipeline, read now if :func:`load_bundle` left it unread."""
        if self.pipeline is None:
            return _deserialise(self.directory, self.pipeline_bytes, self.trust)
        return self.pipeline


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def write_bundle(
    directory: Path,
    pipeline: Any,
    manifest: Manifest,
    extra_files: dict[str, bytes] | None = None,
) -> Manifest:
    """Persist ``pipeline`` (and ``extra_files``, such as a compiled fast path) with
    ``manifest`` as a bundle at ``directory`` and return the manifest as written (with every
    file's digest filled in).

    The bundle is assembled in a temporary sibling directory and moved into place, so a reader
    never sees half a bundle and an interrupted run leaves the previous bundle intact.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    import skops.io  # noqa: PLC0415  # see _deserialise

    # Canonical bytes: the same pipeline gives the same file (see pipeserve.bundle.archive).
    pipeline_file = canonical_skops(skops.io.dumps(pipeline))
    files = {PIPELINE_FILE: pipeline_file, **(extra_files or {})}
    digests = {
        name: FileDigest(sha256=sha256_hex(data), size=len(data)) for name, data in files.items()
    }
    written = manifest.model_copy(update={"files": digests})
    # A dot-name next to the target: same filesystem (so the rename is atomic), and ignored by
    # the model store. Created with the umask's permissions, so other users (the server) can read.
    staging = directory.parent / f".{directory.name}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        (staging / MANIFEST_FILE).write_bytes(manifest_bytes(written))
        _replace_directory(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def manifest_bytes(manifest: Manifest) -> bytes:
    """``bundle.json`` as written: indented, sorted keys, trailing newline (diff-friendly)."""
    data = manifest.model_dump(mode="json")
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def _replace_directory(source: Path, target: Path) -> None:
    if target.exists():
        retired = target.with_name(f".{target.name}.old")
        shutil.rmtree(retired, ignore_errors=True)
        target.rename(retired)
        source.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        source.rename(target)


def read_manifest(directory: Path) -> Manifest:
    """Parse ``bundle.json`` without checking the other files.

    Raises :class:`BundleError` when the file is missing or not a valid manifest.
    """
    return _read_manifest(Path(directory))[0]


def bundle_digest(manifest_file: bytes) -> str:
    """The digest that pins a bundle: ``sha256:`` and the hex sha256 of its ``bundle.json``
    (which holds the sha256 of every other file)."""
    return f"sha256:{sha256_hex(manifest_file)}"


def _read_manifest(directory: Path) -> tuple[Manifest, str]:
    path = directory / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise BundleError(
            f"{path} does not exist: {directory} is not a bundle (run `dvc repro` to build it)",
            path=str(path),
        ) from error
    try:
        return Manifest.model_validate_json(raw), bundle_digest(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
        )
        raise BundleError(
            f"{path} is not a valid bundle manifest: {problems}", path=str(path)
        ) from error


def _read_verified(directory: Path, manifest: Manifest) -> dict[str, bytes]:
    if PIPELINE_FILE not in manifest.files:
        raise BundleError(
            f"{directory / MANIFEST_FILE} does not list {PIPELINE_FILE}: the bundle is incomplete",
            path=str(directory),
        )
    contents: dict[str, bytes] = {}
    for name, digest in manifest.files.items():
        path = directory / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise BundleError(f"bundle file name {name!r} escapes the bundle", path=str(directory))
        try:
            data = path.read_bytes()
        except FileNotFoundError as error:
            raise BundleError(
                f"{path} is missing: the bundle is incomplete", path=str(path)
            ) from error
        actual = sha256_hex(data)
        if actual != digest.sha256:
            raise BundleIntegrityError(
                f"{path} does not match its recorded sha256 (expected {digest.sha256}, found "
                f"{actual}): the bundle was modified after training; refusing to load it",
                path=str(path),
                expected=digest.sha256,
                actual=actual,
            )
        contents[name] = data
    return contents


def verify_bundle(directory: Path) -> Manifest:
    """Check that every file recorded in the manifest exists with its recorded sha256.

    Raises :class:`BundleError` (or its subclass :class:`BundleIntegrityError`) otherwise.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    _read_verified(directory, manifest)
    return manifest


def load_bundle(
    directory: Path, *, with_pipeline: bool = True, trust: Trust | None = None
) -> LoadedBundle:
    """Verify and load a bundle.

    ``with_pipeline=False`` verifies every file but leaves the scikit-learn pipeline
    unread (:meth:`LoadedBundle.load_pipeline` reads it later): a server answering from the
    compiled form then never imports scikit-learn, which halves its memory and start time.
    ``trust`` (default: pipeserve's built-in list only) decides which types the pipeline may
    refer to. Raises :class:`BundleError` for a missing, incomplete or tampered bundle,
    :class:`UntrustedTypeError` when the pipeline refers to a type outside ``trust`` and
    :class:`BundleCodeMissingError` when it needs a module that cannot be imported here.
    """
    directory = Path(directory)
    trust = trust or Trust()
    manifest, digest = _read_manifest(directory)
    contents = _read_verified(directory, manifest)
    payload = contents.pop(PIPELINE_FILE)
    pipeline = _deserialise(directory, payload, trust) if with_pipeline else None
    drift = version_drift(manifest.library_versions, library_versions())
    for message in drift:
        logger.warning("bundle %s: %s", manifest.name, message)
    return LoadedBundle(directory, manifest, pipeline, drift, contents, payload, trust, digest)


def untrusted_types(payload: bytes, source: str) -> list[str]:
    """The types a skops payload refers to beyond those skops trusts by default.

    Raises :class:`BundleError` when ``payload`` is not a readable skops file.
    """
    import skops.io  # noqa: PLC0415  # see _deserialise

    try:
        return sorted(skops.io.get_untrusted_types(data=payload))
    except Exception as error:  # skops raises several unrelated types for a corrupt archive
        raise BundleError(f"{source} is not a readable skops file", path=source) from error


def _deserialise(directory: Path, payload: bytes, trust: Trust) -> Any:
    import skops.io  # noqa: PLC0415  # imports all of scikit-learn: only when needed

    source = directory / PIPELINE_FILE
    untrusted = untrusted_types(payload, str(source))
    refused = trust.refused(untrusted)
    if refused:
        raise UntrustedTypeError(
            f"{source} refers to types outside this server's trusted list: "
            f"{', '.join(refused)}; review them and, if they are safe, add them to "
            f"{trust.review}",
            path=str(directory),
            types=refused,
            setting=trust.review,
        )
    try:
        return skops.io.loads(payload, trusted=untrusted)
    except ImportError as error:
        module = error.name or str(error)
        raise BundleCodeMissingError(
            f"{source} needs the module {module!r}, which cannot be imported here: install the "
            "project's package in the serving environment (the image) next to pipeserve",
            path=str(directory),
            module=module,
        ) from error


def version_drift(trained: dict[str, str], running: dict[str, str]) -> list[str]:
    """Describe each version-sensitive library whose version differs from training."""
    return [
        f"{library} {running.get(library, 'missing')} differs from the training version "
        f"{trained[library]}; predictions may differ"
        for library in _VERSION_SENSITIVE
        if library in trained and trained[library] != running.get(library)
    ]
