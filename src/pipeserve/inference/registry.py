"""The models and versions a server holds in memory, whether each is ready, and reloading them.

A model version that fails to load does not stop the others: it stays in the registry as not
ready, with the reason, so that ``/readyz`` and the model metadata say why instead of the server
dying. Reloading loads what changed on disk first and then swaps the whole table in one
assignment: a request that already holds an entry finishes with it, the next one sees the new
table, and a new bundle that fails to verify leaves the version it was meant to replace serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pipeserve.bundle.io import load_bundle
from pipeserve.bundle.manifest import Manifest
from pipeserve.bundle.trusted import Trust
from pipeserve.errors import (
    BundleError,
    ConfigurationError,
    ModelNotFoundError,
    ModelNotReadyError,
    PipeserveError,
)
from pipeserve.features.geocoders.runtime import GeocoderSettings
from pipeserve.inference.monitoring import InputMonitor
from pipeserve.inference.predictor import InferencePath, Predictor
from pipeserve.inference.schema import MAX_STRING_LENGTH, InstanceValidator
from pipeserve.inference.store import (
    BundleLocation,
    discover_repository,
    explicit_locations,
    manifest_fingerprint,
    peek_identity,
    version_sort_key,
)

logger = logging.getLogger(__name__)

ReadyPolicy = Literal["all", "any"]


@dataclass(frozen=True, eq=False)  # identity: each load is a distinct entry (and a cache key)
class ModelVersion:
    """One configured model version: ready with a predictor, or failed with the reason.

    ``version`` is ``None`` only for a bundle so broken that nothing names its version.
    ``reload_error`` says why a newer bundle at the same place was refused while this one
    keeps serving.
    """

    name: str
    version: str | None
    directory: Path
    predictor: Predictor | None = None
    validator: InstanceValidator | None = None
    error: str | None = None
    version_warnings: tuple[str, ...] = ()
    reload_error: str | None = None
    fingerprint: bytes | None = field(default=None, repr=False)
    # sha256 of the loaded bundle.json (pipeserve.bundle.io.bundle_digest): pins the bundle.
    digest: str | None = None
    # The model card's pictures by role (verified bundle files, drawn when it was built).
    figures: dict[str, bytes] = field(default_factory=dict, repr=False)
    # This process's input monitoring of the version (None when monitoring is off).
    monitor: InputMonitor | None = field(default=None, repr=False)

    @property
    def ready(self) -> bool:
        return self.predictor is not None

    @property
    def manifest(self) -> Manifest | None:
        return self.predictor.manifest if self.predictor else None

    @property
    def label(self) -> str:
        """``name`` or ``name/version`` for messages."""
        return f"{self.name}/{self.version}" if self.version else self.name


@dataclass(frozen=True)
class ServedModel:
    """All versions of one model name, oldest first."""

    name: str
    versions: tuple[ModelVersion, ...]

    @property
    def default(self) -> ModelVersion:
        """The version that answers when a request names none: the newest ready version (so a
        newer bundle that fails to load leaves the previous one answering), else the newest."""
        ready = [entry for entry in self.versions if entry.ready]
        return (ready or list(self.versions))[-1]

    @property
    def ready(self) -> bool:
        return self.default.ready


@dataclass(frozen=True)
class ReloadReport:
    """What a reload did, as ``name/version`` labels."""

    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _failed(location: BundleLocation, message: str, fingerprint: bytes | None) -> ModelVersion:
    claimed_name, claimed_version = peek_identity(location.path)
    name = location.name or claimed_name or location.path.name
    version = location.version or claimed_version
    logger.error("model %s is not served: %s", name, message)
    return ModelVersion(name, version, location.path, error=message, fingerprint=fingerprint)


@dataclass(frozen=True)
class LoadOptions:
    """How bundles become served models (from settings)."""

    max_string_length: int = MAX_STRING_LENGTH
    inference_path: InferencePath = "auto"
    # The types a bundle may hold: the server's own reviewed list, never the bundle's.
    trust: Trust = field(default_factory=Trust)
    # Rows in each model's input-monitoring window; 0 turns monitoring off.
    monitor_window: int = 1000
    # What the bundles' HTTP geocoders use (None: they refuse to run, the model is not ready).
    geocoder: GeocoderSettings | None = None


def _warm_up(predictor: Predictor) -> None:
    """Predict the bundle's own example row once before serving.

    The first call pays one-off costs (onnxruntime's first run, lazy set-up in the pipeline),
    which should not land on a client; and a model that cannot work here (a geocoder that needs
    PIPESERVE_GEOCODER_URL, say) raises :class:`ConfigurationError`, making it not ready with
    that message instead of failing every request with a 500. Other failures (an external service
    down for a moment) are only logged: they are not this model's fault and may pass.
    """
    try:
        predictor.predict_rows([predictor.manifest.example])
    except ConfigurationError:
        raise
    except PipeserveError as error:
        logger.warning("model %s: the warm-up prediction failed: %s", predictor.name, error)


def load_entry(
    location: BundleLocation,
    previous: ModelVersion | None = None,
    options: LoadOptions = LoadOptions(),  # frozen, so sharing it is safe
) -> ModelVersion:
    """Load and verify the bundle at ``location``.

    Returns ``previous`` untouched when its bundle did not change; a failed entry when the bundle
    cannot be used, unless ``previous`` was ready, which then keeps serving with the reason in
    :attr:`ModelVersion.reload_error`.
    """
    fingerprint = manifest_fingerprint(location.path)
    if previous is not None and previous.ready and previous.fingerprint == fingerprint:
        return replace(previous, reload_error=None) if previous.reload_error else previous
    try:
        # The Predictor reads the scikit-learn pipeline only if it needs it (see there).
        bundle = load_bundle(location.path, with_pipeline=False, trust=options.trust)
        manifest = bundle.manifest
        if location.version is not None and manifest.version != location.version:
            raise BundleError(
                f"bundle {location.path}: bundle.json says version {manifest.version!r} but the "
                f"bundle sits in the version directory {location.version!r}",
                path=str(location.path),
            )
        predictor = Predictor(bundle, options.inference_path, options.geocoder)
        _warm_up(predictor)
    except (BundleError, ConfigurationError) as error:
        if previous is not None and previous.ready:
            logger.error(
                "model %s: the new bundle is refused, the loaded version keeps serving: %s",
                previous.label,
                error.message,
            )
            return replace(previous, reload_error=error.message)
        return _failed(location, error.message, fingerprint)
    name = location.name or manifest.name
    logger.info(
        "model %s version %s loaded from %s; answers with %s (%s)",
        name,
        manifest.version,
        location.path,
        predictor.inference_path,
        predictor.path_reason,
    )
    return ModelVersion(
        name=name,
        version=manifest.version,
        directory=location.path,
        predictor=predictor,
        validator=InstanceValidator(manifest, options.max_string_length),
        version_warnings=tuple(bundle.version_warnings),
        fingerprint=fingerprint,
        digest=bundle.digest,
        figures={
            role: bundle.extra_files[file]
            for role, file in manifest.figures.items()
            if file in bundle.extra_files
        },
        monitor=InputMonitor(manifest, options.monitor_window) if options.monitor_window else None,
    )


def _group(entries: list[ModelVersion]) -> dict[str, ServedModel]:
    by_name: dict[str, dict[str, ModelVersion]] = {}
    for entry in entries:
        versions = by_name.setdefault(entry.name, {})
        key = entry.version or ""
        if key in versions:
            raise ConfigurationError(
                f"model {entry.label} is configured twice: {versions[key].directory} and "
                f"{entry.directory}",
                model=entry.name,
            )
        versions[key] = entry
    return {
        name: ServedModel(
            name, tuple(versions[key] for key in sorted(versions, key=version_sort_key))
        )
        for name, versions in sorted(by_name.items())
    }


class ModelRegistry:
    """Models by name and version, reloadable from where they were found."""

    def __init__(
        self,
        entries: list[ModelVersion],
        locate: Callable[[], list[BundleLocation]] | None = None,
        ready_policy: ReadyPolicy = "all",
        options: LoadOptions = LoadOptions(),
    ) -> None:
        self._models = _group(entries)
        self._locate = locate
        self._ready_policy = ready_policy
        self._options = options
        self._reload_lock = threading.Lock()

    @classmethod
    def from_directory(
        cls,
        model_dir: Path,
        ready_policy: ReadyPolicy = "all",
        options: LoadOptions = LoadOptions(),
    ) -> ModelRegistry:
        """Load every model version of a repository (see :mod:`pipeserve.inference.store`)."""
        return cls.from_locator(lambda: discover_repository(model_dir), ready_policy, options)

    @classmethod
    def from_paths(
        cls,
        paths: list[Path],
        ready_policy: ReadyPolicy = "all",
        options: LoadOptions = LoadOptions(),
    ) -> ModelRegistry:
        """Load bundles listed one by one."""
        return cls.from_locator(lambda: explicit_locations(paths), ready_policy, options)

    @classmethod
    def from_locator(
        cls,
        locate: Callable[[], list[BundleLocation]],
        ready_policy: ReadyPolicy = "all",
        options: LoadOptions = LoadOptions(),
    ) -> ModelRegistry:
        entries = [load_entry(location, options=options) for location in locate()]
        return cls(entries, locate, ready_policy, options)

    def __iter__(self) -> Iterator[ModelVersion]:
        """Every model version, by name then version."""
        for model in self._models.values():
            yield from model.versions

    def __len__(self) -> int:
        return sum(len(model.versions) for model in self._models.values())

    def models(self) -> list[ServedModel]:
        """Every configured model, sorted by name."""
        return list(self._models.values())

    @property
    def ready(self) -> bool:
        """Whether the server should receive traffic.

        Policy ``all``: every configured model version loaded (a half-working pod stays out of
        the load balancer). Policy ``any``: at least one model can answer. Never ready without
        models.
        """
        models = self._models
        if not models:
            return False
        if self._ready_policy == "any":
            return any(model.ready for model in models.values())
        return all(entry.ready for model in models.values() for entry in model.versions)

    def model(self, name: str) -> ServedModel:
        """Raises :class:`ModelNotFoundError` if no model ``name`` is configured."""
        models = self._models
        try:
            return models[name]
        except KeyError:
            known = ", ".join(models) or "none"
            raise ModelNotFoundError(
                f"model {name!r} is not served here (available: {known})", model=name
            ) from None

    def version(self, name: str, version: str | None = None) -> ModelVersion:
        """The version of ``name`` at ``version`` (its default version when ``None``).

        Raises :class:`ModelNotFoundError` for an unknown name or version.
        """
        model = self.model(name)
        if version is None:
            return model.default
        for entry in model.versions:
            if entry.version == version:
                return entry
        known = ", ".join(entry.version for entry in model.versions if entry.version) or "none"
        raise ModelNotFoundError(
            f"model {name!r} has no version {version!r} (available: {known})",
            model=name,
            version=version,
        )

    def ready_version(self, name: str, version: str | None = None) -> ModelVersion:
        """Like :meth:`version`, and raises :class:`ModelNotReadyError` if it cannot predict."""
        entry = self.version(name, version)
        if not entry.ready:
            raise ModelNotReadyError.of(entry.label, entry.error, model=name, version=version)
        return entry

    def reload(self) -> ReloadReport:
        """Look for bundles again where they were found; load what is new or changed, keep what
        did not change, and swap the table at once. Raises :class:`ConfigurationError` if the
        registry was built from a fixed list of entries or the repository is gone (the loaded
        models keep serving)."""
        if self._locate is None:
            raise ConfigurationError("this registry was not loaded from disk; nothing to reload")
        with self._reload_lock:
            previous = {entry.directory: entry for entry in self}
            entries: list[ModelVersion] = []
            report = ReloadReport()
            for location in self._locate():
                before = previous.pop(location.path, None)
                entry = load_entry(location, before, self._options)
                entries.append(entry)
                if entry.ready and before is not None and entry.predictor is before.predictor:
                    (report.kept if entry.reload_error else report.unchanged).append(entry.label)
                elif entry.ready:
                    report.loaded.append(entry.label)
                else:
                    report.failed.append(entry.label)
            report.removed.extend(entry.label for entry in previous.values())
            self._models = _group(entries)
        logger.info(
            "models reloaded: loaded %s, unchanged %s, removed %s, failed %s, kept %s",
            report.loaded,
            report.unchanged,
            report.removed,
            report.failed,
            report.kept,
        )
        return report
