"""Geocoding over HTTP with a Nominatim or Photon service (for example one run in the cluster).

Nominatim: ``GET {url}/search?q=…&format=jsonv2&limit=1`` answers a JSON array of places with
``lat``/``lon`` as strings and a ``place_rank`` (4 country … 30 house). Photon:
``GET {url}/api?q=…&limit=1`` answers GeoJSON whose features carry ``[lon, lat]`` coordinates
and a ``type`` (house, street, city, …). Both map to a match quality:

============================== ==============================  =======
Nominatim place_rank           Photon type                     quality
============================== ==============================  =======
30 (a house)                   house                           1.0
26-29 (a street)               street                          0.9
13-25 (town, village, postcode) city, district, locality, …    0.7
below 13 (county, state)       county, state, country          0.3
============================== ==============================  =======

Each lookup has a timeout; timeouts, connection errors, 429 and 5xx are retried a bounded number
of times with a short growing pause; answers (found or not found) are kept in an LRU cache.
Failures that remain raise :class:`~pipeserve.errors.GeocoderUnavailableError`; the caller's
policy decides what that means for the request.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from functools import lru_cache
from http import HTTPStatus
from typing import Any, Literal

import orjson

from pipeserve.errors import ConfigurationError, GeocoderUnavailableError
from pipeserve.features.geocoders.base import GeocodeResult

logger = logging.getLogger(__name__)

Flavor = Literal["nominatim", "photon"]
_RETRY_STATUSES = {HTTPStatus.TOO_MANY_REQUESTS, *range(500, 600)}
_BACKOFF_SECONDS = 0.1
_PHOTON_QUALITY = {"house": 1.0, "street": 0.9}
_PHOTON_AREAS = {"county", "state", "country", "region"}


def nominatim_quality(place_rank: int) -> float:
    """Match quality from Nominatim's ``place_rank``."""
    if place_rank >= 30:
        return 1.0
    if place_rank >= 26:
        return 0.9
    if place_rank >= 13:
        return 0.7
    return 0.3


def photon_quality(kind: str) -> float:
    """Match quality from Photon's feature ``type``."""
    if kind in _PHOTON_QUALITY:
        return _PHOTON_QUALITY[kind]
    return 0.3 if kind in _PHOTON_AREAS else 0.7


class NominatimBackend:
    """A :class:`~pipeserve.features.geocoders.base.GeocoderBackend` over HTTP.

    Raises :class:`ConfigurationError` for a URL that is not http(s).
    """

    def __init__(
        self,
        url: str,
        *,
        flavor: Flavor = "nominatim",
        user_agent: str = "pipeserve",
        timeout: float = 5.0,
        retries: int = 2,
        cache_size: int = 10_000,
        country: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigurationError(
                f"geocoder URL {url!r} must be an http(s) URL such as http://nominatim:8080",
                url=url,
            )
        self.url = url.rstrip("/")
        self.flavor = flavor
        self.user_agent = user_agent
        self.timeout = timeout
        self.retries = retries
        self.country = country
        self._sleep = sleep
        # Caches answers, found or not; an exception (service down) is never cached.
        self._lookup: Callable[[str], GeocodeResult | None] = (
            lru_cache(maxsize=cache_size)(self._fetch) if cache_size else self._fetch
        )

    def geocode(self, address: str) -> GeocodeResult | None:
        """The service's best match for ``address`` (whitespace-trimmed), or ``None``."""
        address = " ".join(address.split())
        return self._lookup(address) if address else None

    def _request_url(self, address: str) -> str:
        if self.flavor == "photon":
            query = {"q": address, "limit": "1"}
            return f"{self.url}/api?{urllib.parse.urlencode(query)}"
        query = {"q": address, "format": "jsonv2", "limit": "1"}
        if self.country:
            query["countrycodes"] = self.country.lower()
        return f"{self.url}/search?{urllib.parse.urlencode(query)}"

    def _fetch(self, address: str) -> GeocodeResult | None:
        request = urllib.request.Request(  # noqa: S310  # scheme checked in __init__
            self._request_url(address),
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
        )
        last_problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                # http(s) only: the scheme was checked in __init__.
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310
                    body = response.read()
            except urllib.error.HTTPError as error:
                last_problem = f"HTTP {error.code}"
                if error.code not in _RETRY_STATUSES:
                    break
                continue
            except (
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                http.client.HTTPException,
            ) as error:
                reason = getattr(error, "reason", error)
                last_problem = "timed out" if isinstance(reason, TimeoutError) else str(reason)
                continue
            return self._parse(body)
        logger.warning("geocoder %s failed: %s", self.url, last_problem)
        raise GeocoderUnavailableError(
            f"the geocoding service did not answer usably ({last_problem} after "
            f"{self.retries + 1} tries); try again later",
            service=self.flavor,
        )

    def _parse(self, body: bytes) -> GeocodeResult | None:
        try:
            data: Any = orjson.loads(body)
            if self.flavor == "photon":
                features = data["features"]
                if not features:
                    return None
                longitude, latitude = features[0]["geometry"]["coordinates"][:2]
                quality = photon_quality(str(features[0].get("properties", {}).get("type", "")))
            else:
                if not data:
                    return None
                latitude, longitude = data[0]["lat"], data[0]["lon"]
                quality = nominatim_quality(int(data[0].get("place_rank", 0)))
            return GeocodeResult(float(latitude), float(longitude), quality)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as error:
            raise GeocoderUnavailableError(
                f"the geocoding service answered something that is not {self.flavor} JSON",
                service=self.flavor,
            ) from error
