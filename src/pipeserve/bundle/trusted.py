"""Which types a bundle may contain beyond those skops trusts by default, and who said so.

skops already trusts scikit-learn's public estimators, NumPy and SciPy containers. Anything else
a pipeline refers to must be on a reviewed list before the pipeline is deserialised:

* :data:`BUILTIN_TRUSTED_TYPES`: pipeserve's own feature engineering (reviewed here, shipped
  with the server) and the private scikit-learn helpers its public estimators are built from.
  Adding a transformer to ``pipeserve.features`` means adding it here; a test fails until then.
* the project's own types: a project lists them in its ``trusted_types.txt`` (one fully
  qualified name per line, ``#`` comments). ``pipeserve bundle build`` refuses a pipeline holding
  a type not on it; the server trusts the types named by its own settings
  (``PIPESERVE_TRUSTED_TYPES``, ``PIPESERVE_TRUSTED_TYPES_FILE``: the image build copies the
  project's file in).

Trust never comes from the bundle: a bundle that listed its own types could vouch for itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeserve.errors import ConfigurationError

BUILTIN_TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # pipeserve's reusable feature engineering
        "pipeserve.features.geocoders.gazetteer.Gazetteer",
        "pipeserve.features.geocoding.Geocoder",
        "pipeserve.features.geography.NearestCityDistance",
        "pipeserve.features.interactions.ProductFeatures",
        "pipeserve.features.interactions.RatioFeatures",
        # SimpleImputer keeps the dtype it was fitted on (a dtype object, no code)
        "numpy.dtype",
        # private helpers that scikit-learn's public estimators are built from
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.tree._tree.Tree",
    }
)
# Kept for callers that want the built-in list by its old name.
TRUSTED_TYPES = BUILTIN_TRUSTED_TYPES

SERVER_SETTINGS = "PIPESERVE_TRUSTED_TYPES or PIPESERVE_TRUSTED_TYPES_FILE"


@dataclass(frozen=True)
class Trust:
    """The types to trust and where a refused one would have to be added (after review)."""

    types: frozenset[str] = BUILTIN_TRUSTED_TYPES
    review: str = SERVER_SETTINGS

    @classmethod
    def with_types(cls, extra: Iterable[str], review: str = SERVER_SETTINGS) -> Trust:
        """The built-in list plus ``extra``."""
        return cls(BUILTIN_TRUSTED_TYPES | frozenset(extra), review)

    def refused(self, types: Iterable[str]) -> list[str]:
        """Those of ``types`` outside the list, sorted."""
        return sorted(set(types) - self.types)


def configured_trust(types: Iterable[str], file: Path | None) -> Trust:
    """What a server trusts: the built-in list, ``types`` (``PIPESERVE_TRUSTED_TYPES``) and the
    names in ``file`` (``PIPESERVE_TRUSTED_TYPES_FILE``).

    Raises :class:`ConfigurationError` when the file is missing or malformed.
    """
    extra = list(types)
    if file is not None:
        extra += read_trusted_types(file)
    return Trust.with_types(extra, SERVER_SETTINGS)


def read_trusted_types(path: Path) -> list[str]:
    """The fully qualified type names in a trusted-types file: one per line, blank lines and
    ``#`` comments ignored.

    Raises :class:`ConfigurationError` when the file is missing or a line is not a dotted name.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConfigurationError(
            f"trusted-types file {path} does not exist", path=str(path)
        ) from error
    names: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        parts = name.split(".")
        if len(parts) < 2 or not all(part.isidentifier() for part in parts):
            raise ConfigurationError(
                f"{path}:{number}: {name!r} is not a fully qualified type name "
                "(module.path.ClassName)",
                path=str(path),
            )
        names.append(name)
    return names
